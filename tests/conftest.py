"""Shared fixtures: tiny synthetic data sets written into temporary folders."""

import os
import socket
import subprocess
import sys
import tempfile
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if os.environ.get("AUTOML_TEST_PROCESS") != str(os.getpid()):  # once per test process
    os.environ["AUTOML_TEST_PROCESS"] = str(os.getpid())
    os.environ["AUTOML_CACHE_DIR"] = tempfile.mkdtemp(prefix="automl-test-cache-")
    os.environ["AUTOML_RUNS_DIR"] = tempfile.mkdtemp(prefix="automl-test-runs-")
TEST_CACHE, TEST_RUNS = os.environ["AUTOML_CACHE_DIR"], os.environ["AUTOML_RUNS_DIR"]

from automl.cli import cli  # noqa: E402


def pytest_sessionfinish(session, exitstatus):
    """The data cache and the runs the tests wrote go with them."""
    import shutil

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


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("images"), per_class=(24, 4, 4))


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
def image_run(image_folder, tmp_path_factory):
    """One finished image search shared by the export and serving tests."""
    out = tmp_path_factory.mktemp("runs") / "image"
    result = invoke("search", "--task", "image", "--data", image_folder, "--out", out,
                    "--max-trials", 2, "--epochs", 8, "--tuner", "random")
    assert result.exit_code == 0, result.output
    return str(out)


def _finished_search(tmp_path_factory, name, data, *args):
    """`(data, run, output)` of a one-trial image search on `data`; tests only read the run."""
    out = tmp_path_factory.mktemp("runs") / name
    result = invoke("search", "--task", "image", "--data", data, "--out", out,
                    "--max-trials", 1, *args)
    assert result.exit_code == 0, result.output
    return SimpleNamespace(data=str(data), run=str(out), output=result.output)


@pytest.fixture(scope="session")
def multilabel_run(tmp_path_factory):
    """An image search on a manifest of images with one or two of three bands."""
    from test_problems import multilabel_manifest

    manifest = multilabel_manifest(tmp_path_factory.mktemp("multilabel"))
    return _finished_search(tmp_path_factory, "multilabel", manifest, "--epochs", 2)


@pytest.fixture(scope="session")
def regression_run(tmp_path_factory):
    """An image search predicting the brightness of flat images."""
    from test_problems import regression_manifest

    manifest = regression_manifest(tmp_path_factory.mktemp("regression"))
    return _finished_search(tmp_path_factory, "regression", manifest, "--epochs", 2,
                            "--label-column", "brightness")


@pytest.fixture(scope="session")
def imbalanced_run(tmp_path_factory):
    """An image search on 12 `left` against 3 `top` training images: class weights balanced."""
    data = tmp_path_factory.mktemp("imbalanced")
    write_image_folder(data, per_class=(12, 4, 4), classes=("left", "top"))
    train_top = data / "train" / "top"
    for name in sorted(os.listdir(train_top))[3:]:
        os.remove(train_top / name)
    return _finished_search(tmp_path_factory, "imbalanced", data, "--epochs", 1,
                            "--tuner", "random")


@pytest.fixture(scope="session")
def keyword_texts(tmp_path_factory):
    """`train.csv`, `val.csv`, `test.csv` of short texts whose keywords name their topic."""
    from test_text import synthetic_texts, write_csv

    root = tmp_path_factory.mktemp("texts")
    write_csv(root / "train.csv", synthetic_texts(60, 0) + [("", "weather")])
    write_csv(root / "val.csv", synthetic_texts(15, 1))
    write_csv(root / "test.csv", synthetic_texts(15, 2))
    return str(root)


@pytest.fixture(scope="session")
def keyword_text_run(keyword_texts, tmp_path_factory):
    """One finished text search on `keyword_texts`; tests only read it."""
    out = tmp_path_factory.mktemp("runs") / "text"
    result = invoke("search", "--task", "text", "--data", keyword_texts, "--out", out,
                    "--max-trials", 1, "--epochs", 15, "--batch-size", 8, "--objective", "val_loss")
    assert result.exit_code == 0, result.output
    return str(out)


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

    data = tmp_path_factory.mktemp("noisy_texts")
    write_csv(data / "train.csv", noisy(synthetic_texts(60, 0), 0))
    write_csv(data / "val.csv", noisy(synthetic_texts(15, 1), 1))
    write_csv(data / "test.csv", synthetic_texts(15, 2))
    keyword_texts = str(data)
    out = tmp_path_factory.mktemp("runs") / "text_ensemble"
    result = invoke("search", "--task", "text", "--data", keyword_texts, "--out", out,
                    "--ensemble", 3, "--max-trials", 3, "--epochs", 4, "--batch-size", 8,
                    "--tuner", "random", "--export", "tflite:int8")
    assert result.exit_code == 0, result.output
    return SimpleNamespace(data=keyword_texts, run=str(out), output=result.output)


def assert_one_line_error(result, *fragments):
    """Exit code 2, one line of error output naming the problem, no traceback."""
    assert result.exit_code == 2, result.output
    text = result.output.strip()
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
