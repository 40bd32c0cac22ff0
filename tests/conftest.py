"""Shared fixtures: tiny synthetic data sets written into temporary folders."""

import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import tensorflow_alone as alone_interpreter

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if os.environ.get("AUTOML_TEST_PROCESS") != str(os.getpid()):  # once per test process
    os.environ["AUTOML_TEST_PROCESS"] = str(os.getpid())
    os.environ["AUTOML_CACHE_DIR"] = tempfile.mkdtemp(prefix="automl-test-cache-")
    os.environ["AUTOML_RUNS_DIR"] = tempfile.mkdtemp(prefix="automl-test-runs-")
TEST_CACHE, TEST_RUNS = os.environ["AUTOML_CACHE_DIR"], os.environ["AUTOML_RUNS_DIR"]

from automl.cli import cli  # noqa: E402


# The longest modules, longest first. Under `-n auto --dist loadscope --no-loadscope-reorder`
# each module runs on one worker (its module fixtures built once) and the modules start in
# this order, the short ones last, so that the workers end together. The first and third
# go to one worker, one after the other: two budgeted distributed searches never overlap.
LONGEST_FIRST = ("test_distributed.py", "test_reliability.py", "test_distributed_budget.py",
                 "test_search.py", "test_export_contract.py", "test_python_api.py",
                 "test_litert.py", "test_transfer_backbones.py", "test_text.py",
                 "test_init_from.py", "test_audio.py", "test_serve.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_sessionfinish(session, exitstatus):
    """The data cache and the runs the tests wrote go with them."""
    shutil.rmtree(TEST_CACHE, ignore_errors=True)
    shutil.rmtree(TEST_RUNS, ignore_errors=True)

PATTERNS = {
    "bottom": lambda img: img.__setitem__((slice(4, 8), slice(None)), 230),
    "left": lambda img: img.__setitem__((slice(None), slice(0, 4)), 230),
    "top": lambda img: img.__setitem__((slice(0, 4), slice(None)), 230),
}


def synthetic_image(label, rng, channels=1, size=8):
    image = rng.randint(0, 40, size=(size, size)).astype("uint8")
    PATTERNS[label](image)
    if channels == 3:
        image = np.stack([image] * 3, axis=-1)
    return image


def write_image_folder(root, per_class=(12, 4, 4), classes=tuple(PATTERNS), seed=0, channels=1):
    """`root/{train,val,test}/<class>/*.png` with one bright half per class."""
    rng = np.random.RandomState(seed)
    for split, count in zip(("train", "val", "test"), per_class):
        for label in classes:
            folder = os.path.join(root, split, label)
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                pixels = synthetic_image(label, rng, channels)
                Image.fromarray(pixels).save(os.path.join(folder, f"{label}_{i}.png"))
    return str(root)


def built_once(tmp_path_factory, name, build):
    """`build(folder)`'s result (JSON), built once per test session whatever the worker.

    Under pytest-xdist every worker has its own session fixtures; the first worker
    that needs `name` builds it, under a lock, into a folder all workers see, and
    the others wait for it and read it. Tests only read what it holds.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above each worker's own
    folder, done = root / "shared" / name, root / "shared" / f"{name}.json"
    folder.parent.mkdir(exist_ok=True)
    with open(root / "shared" / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed before
            folder.mkdir()
            done.write_text(json.dumps(build(folder)))
        return json.loads(done.read_text())


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    return built_once(tmp_path_factory, "images",
                      lambda folder: write_image_folder(folder, per_class=(24, 4, 4)))


def invoke(*args):
    """Run the CLI in-process; returns click's Result."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_automl(*args):
    """`automl ARGS...` in a child process, its stdout and stderr in one pipe."""
    return subprocess.Popen([sys.executable, "-m", "automl", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def start_worker(run, port, name):
    """`automl worker` with one thread, connected to a chief on 127.0.0.1:`port`."""
    return start_automl("worker", "--connect", f"127.0.0.1:{port}", "--out", run, "--threads", 1,
                        "--id", name)


def finish(process, timeout):
    """`(exit code, output)` of a `start_automl` process once it ends."""
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def run_python(code, **env):
    """Run Python code in a fresh interpreter; returns the completed process."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


@pytest.fixture(scope="session")
def tensorflow_alone():
    """`run(code)`: the completed process of Python code run where keras-automl cannot be
    imported, in one interpreter per test process (`tensorflow_alone.py`).

    Each code runs in a fresh namespace but shares the interpreter's loaded modules:
    code must not leave state behind that the next one would see.
    """
    script = alone_interpreter.__file__
    process = subprocess.Popen([sys.executable, script], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def run(code):
        ended = process.poll()
        assert ended is None, f"the TensorFlow-alone interpreter ended ({ended})"
        timer = threading.Timer(300, process.kill)
        timer.start()
        try:
            process.stdin.write(json.dumps(code) + "\n")
            process.stdin.flush()
            for line in process.stdout:
                if line.startswith(alone_interpreter.REPLY):
                    status, out, err = json.loads(line[len(alone_interpreter.REPLY):])
                    return subprocess.CompletedProcess(script, status, out, err)
        finally:
            timer.cancel()
        raise AssertionError(f"the TensorFlow-alone interpreter ended ({process.wait()})")

    yield run
    if process.poll() is None:
        process.stdin.close()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _search(out, *args):
    """`automl search ARGS --out OUT` in this process; its output."""
    result = invoke("search", *args, "--out", out)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="session")
def image_run(image_folder, tmp_path_factory):
    """One finished image search shared by the export and serving tests."""
    def build(folder):
        _search(folder / "image", "--task", "image", "--data", image_folder,
                "--max-trials", 2, "--epochs", 8, "--tuner", "random")
        return str(folder / "image")
    return built_once(tmp_path_factory, "image_run", build)


def _finished_search(tmp_path_factory, name, write_data, *args):
    """`(data, run, output)` of a one-trial image search on the data `write_data(folder)`
    writes and returns; tests only read the run."""
    def build(folder):
        data = str(write_data(folder / "data"))
        output = _search(folder / name, "--task", "image", "--data", data,
                         "--max-trials", 1, *args)
        return {"data": data, "run": str(folder / name), "output": output}
    return SimpleNamespace(**built_once(tmp_path_factory, name, build))


@pytest.fixture(scope="session")
def multilabel_run(tmp_path_factory):
    """An image search on a manifest of images with one or two of three bands."""
    from test_problems import multilabel_manifest

    return _finished_search(tmp_path_factory, "multilabel",
                            lambda folder: multilabel_manifest(_made(folder)), "--epochs", 2)


@pytest.fixture(scope="session")
def regression_run(tmp_path_factory):
    """An image search predicting the brightness of flat images."""
    from test_problems import regression_manifest

    return _finished_search(tmp_path_factory, "regression",
                            lambda folder: regression_manifest(_made(folder)), "--epochs", 2,
                            "--label-column", "brightness")


@pytest.fixture(scope="session")
def imbalanced_run(tmp_path_factory):
    """An image search on 12 `left` against 3 `top` training images: class weights balanced."""
    def write_data(data):
        write_image_folder(data, per_class=(12, 4, 4), classes=("left", "top"))
        train_top = data / "train" / "top"
        for name in sorted(os.listdir(train_top))[3:]:
            os.remove(train_top / name)
        return data
    return _finished_search(tmp_path_factory, "imbalanced", write_data, "--epochs", 1,
                            "--tuner", "random")


def _made(folder):
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="session")
def keyword_texts(tmp_path_factory):
    """`train.csv`, `val.csv`, `test.csv` of short texts whose keywords name their topic."""
    from test_text import synthetic_texts, write_csv

    def build(root):
        write_csv(root / "train.csv", synthetic_texts(60, 0) + [("", "weather")])
        write_csv(root / "val.csv", synthetic_texts(15, 1))
        write_csv(root / "test.csv", synthetic_texts(15, 2))
        return str(root)
    return built_once(tmp_path_factory, "texts", build)


@pytest.fixture(scope="session")
def keyword_text_run(keyword_texts, tmp_path_factory):
    """One finished text search on `keyword_texts`; tests only read it."""
    def build(folder):
        _search(folder / "text", "--task", "text", "--data", keyword_texts, "--max-trials", 1,
                "--epochs", 15, "--batch-size", 8, "--objective", "val_loss")
        return str(folder / "text")
    return built_once(tmp_path_factory, "keyword_text_run", build)


@pytest.fixture(scope="session")
def text_ensemble_run(tmp_path_factory):
    """A text search averaging up to 3 trials, exported to LiteRT int8 too.

    Its train and val texts are `keyword_texts`' with every fifth label moved to the
    next class, so that no single trial is right and sure on all of val and a second
    member lowers the average's loss.
    """
    from test_text import synthetic_texts, write_csv

    def noisy(rows, offset):
        labels = sorted({label for _, label in rows})
        return [(text, labels[(labels.index(label) + 1) % len(labels)]
                 if (index + offset) % 5 == 0 else label)
                for index, (text, label) in enumerate(rows)]

    def build(folder):
        data = _made(folder / "data")
        write_csv(data / "train.csv", noisy(synthetic_texts(60, 0), 0))
        write_csv(data / "val.csv", noisy(synthetic_texts(15, 1), 1))
        write_csv(data / "test.csv", synthetic_texts(15, 2))
        output = _search(folder / "run", "--task", "text", "--data", data, "--ensemble", 3,
                         "--max-trials", 3, "--epochs", 4, "--batch-size", 8,
                         "--tuner", "random", "--export", "tflite:int8")
        return {"data": str(data), "run": str(folder / "run"), "output": output}
    return SimpleNamespace(**built_once(tmp_path_factory, "text_ensemble_run", build))


def assert_rungs_count_what_the_export_saw(card):
    """The top rung trains on the whole training split for its epochs, and the card
    records the examples each exported member saw."""
    search = card["search"]
    rungs = search["scheduler"]["rungs"]
    assert rungs[-1]["fraction"] == 1.0
    assert rungs[-1]["examples"] == rungs[-1]["epochs"] * card["data"]["examples"]["train"]
    assert set(search["examples_seen"]) == set(search["ensemble"])


def assert_one_line_error(result, *fragments):
    """Exit code 2, one line of error output naming the problem, no traceback."""
    assert result.exit_code == 2, result.output
    text = result.output.strip()
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
