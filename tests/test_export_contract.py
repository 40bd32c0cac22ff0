"""The exported model's contract: `model.keras` loads with Keras alone, readers change
nothing in a run, serving runs in bounded batches, LiteRT conversion is isolated and
stops on a signal, LiteRT files are read from the model folder only."""

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import assert_one_line_error, invoke, write_image_folder

LOADS_WITHOUT_AUTOML = r"""
import json
import numpy as np
import keras, tensorflow as tf

for run, output in RUNS:
    card = json.load(open(run + "/model/model_card.json"))
    shape = [2] + [8 if size is None else size for size in card["input"]["shape"][1:]]
    x = np.random.RandomState(0).uniform(0, 255, shape).astype(card["input"]["dtype"])
    model = keras.saving.load_model(run + "/model/model.keras")
    assert getattr(model, "optimizer", None) is None and not model.compiled
    served = tf.saved_model.load(run + "/model/saved_model").signatures["serving_default"]
    expected = served(inputs=tf.constant(x))[output].numpy()
    got = np.asarray(model.predict(x, verbose=0)).reshape(expected.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
print("loaded", len(RUNS))
"""


def test_model_keras_loads_and_predicts_without_the_package(imbalanced_run, multilabel_run,
                                                           regression_run, tensorflow_alone):
    runs = [[imbalanced_run.run, "probabilities"], [multilabel_run.run, "probabilities"],
            [regression_run.run, "value"]]
    done = tensorflow_alone(LOADS_WITHOUT_AUTOML.replace("RUNS", repr(runs)))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loaded 3" in done.stdout
    assert "Skipping variable loading" not in done.stderr


def test_the_interpreter_of_those_checks_refuses_the_package_and_shows_every_warning(
        tensorflow_alone):
    for code in ("import automl", "from automl_plugins import image"):
        done = tensorflow_alone(code)
        assert done.returncode == 1 and "must do alone" in done.stderr, done
    warn = "import warnings; warnings.warn('twice', stacklevel=1); print('ran')"
    for _ in range(2):
        done = tensorflow_alone(warn)
        assert done.returncode == 0 and done.stdout == "ran\n" and "twice" in done.stderr
    for code, status, err in (("import sys; sys.exit()", 0, ""),
                              ("import sys; sys.exit(3)", 3, ""),
                              ("import sys; sys.exit('no model')", 1, "no model")):
        done = tensorflow_alone(code)
        assert done.returncode == status and err in done.stderr, (code, done)


@pytest.fixture
def run_copy(image_run, tmp_path):
    """A copy of the shared image run that a test may change."""
    return shutil.copytree(image_run, tmp_path / "run", symlinks=True)


def _listing(folder):
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, dirs, files in os.walk(folder) for name in dirs + files)


def test_readers_change_nothing_while_another_process_swaps_the_model(run_copy, image_folder):
    from automl.runtime import files
    from automl.export.predictor import ExportedModel

    run = str(run_copy)
    model = os.path.join(run, "model")
    os.rename(model, os.path.join(run, ".model.old-previous"))   # a swap half way
    os.makedirs(os.path.join(run, ".model.tmp-building", "saved_model"))
    before = _listing(run)
    with open(os.path.join(run, ".model.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)                          # the writer holds it
        exported = ExportedModel(run)
        assert exported.card_path == os.path.join(run, ".model.old-previous", "model_card.json")
        result = invoke("predict", run, _a_png(image_folder))
        assert result.exit_code == 0, result.output
        files.recover_folder(model)                              # not this process's lock
        assert _listing(run) == before
        fcntl.flock(lock, fcntl.LOCK_UN)
    assert _listing(run) == before                                # a crash: readers still wait
    files.recover_folder(model)                                  # the owner tidies
    assert os.path.isfile(os.path.join(model, "model_card.json"))
    assert not [n for n in os.listdir(run) if n.startswith((".model.old", ".model.tmp"))]


def _a_png(image_folder):
    folder = os.path.join(image_folder, "test", "top")
    return os.path.join(folder, sorted(os.listdir(folder))[0])


def test_predict_and_evaluate_serve_bounded_batches_with_the_same_results(image_run,
                                                                         image_folder):
    from automl.export.predictor import ExportedModel

    def recording(exported):
        sizes, serve = [], exported._serve

        def counted(inputs):
            sizes.append(int(inputs.shape[0]))
            return serve(inputs=inputs)

        exported._serve = counted
        return sizes

    whole, small = ExportedModel(image_run), ExportedModel(image_run, batch_size=5)
    whole_sizes, small_sizes = recording(whole), recording(small)
    test = os.path.join(image_folder, "test")
    expected, _ = whole.predict_inputs([test], [], top_k=3)
    got, _ = small.predict_inputs([test], [], top_k=3)
    assert _rounded(got) == _rounded(expected) and len(got) == 12
    assert max(whole_sizes) == 12 and max(small_sizes) <= 5
    small_sizes.clear()
    assert _rounded(small.evaluate(test)) == _rounded(whole.evaluate(test))
    assert small_sizes and max(small_sizes) <= 5


def _rounded(value):
    """`value` with its floats rounded (a batch's size changes the last float bits)."""
    return json.loads(json.dumps(value), parse_float=lambda text: round(float(text), 4))


@pytest.mark.parametrize("recorded", ["/etc/passwd", "../../outside.tflite"])
def test_a_litert_file_outside_the_model_folder_is_refused(run_copy, image_folder, recorded):
    card_path = os.path.join(run_copy, "model", "model_card.json")
    with open(card_path, encoding="utf-8") as handle:
        card = json.load(handle)
    card["litert"] = {"none": {"file": recorded}}
    with open(card_path, "w", encoding="utf-8") as handle:
        json.dump(card, handle)
    result = invoke("predict", run_copy, _a_png(image_folder), "--tflite")
    assert_one_line_error(result, "outside its model folder", recorded)


def test_sigterm_while_converting_exits_143_and_resume_writes_the_litert_file(tmp_path):
    data = write_image_folder(tmp_path / "data", per_class=(8, 3, 3))
    run = tmp_path / "run"
    search = subprocess.Popen(
        [sys.executable, "-m", "automl", "search", "--task", "image", "--data", data,
         "--out", str(run), "--max-trials", "2", "--epochs", "1", "--tuner", "random",
         "--export", "tflite"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 240
        while _converter_of(search.pid) is None and search.poll() is None:
            assert time.time() < deadline, "the converter never started"
            time.sleep(0.05)
        converter = _converter_of(search.pid)
        assert converter is not None, search.stderr.read()
        search.send_signal(signal.SIGTERM)
        assert search.wait(timeout=60) == 143
    finally:
        if search.poll() is None:
            search.kill()
    deadline = time.time() + 30
    while os.path.exists(f"/proc/{converter}") and time.time() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{converter}")               # the child went too
    card = json.loads((run / "model" / "model_card.json").read_text())
    assert "litert" not in card and "litert_error" not in card
    stopped = json.loads((run / "state.json").read_text())
    assert not stopped["finished"]
    assert len(_weights(run)) == 2                        # finish had not removed any yet

    started = time.time()
    result = invoke("resume", run)
    spent = time.time() - started
    assert result.exit_code == 0, result.output
    card = json.loads((run / "model" / "model_card.json").read_text())
    assert card["litert"]["none"]["file"] == "model.tflite" and "litert_pending" not in card
    assert (run / "model" / "model.tflite").is_file()
    state = json.loads((run / "state.json").read_text())
    assert state["finished"]
    added = state["elapsed_seconds"] - stopped["elapsed_seconds"]
    assert 0.5 * spent <= added <= spent + 1                 # the resumed export is counted
    assert state["seconds"]["export"] >= stopped["seconds"]["export"] + 0.5 * spent
    assert stopped["elapsed_seconds"] < card["search"]["wall_seconds"] <= state["elapsed_seconds"]
    assert _weights(run) == [f"trial_{t}" for t in card["search"]["weights_kept"]]
    assert "LiteRT files" in (run / "report" / "index.html").read_text()


def _weights(run):
    """The trial folders of `run` that hold weights."""
    search = run / "search"
    return sorted(name for name in os.listdir(search)
                  if (search / name / "best.weights.h5").is_file())


def test_a_new_search_over_a_run_drops_its_stopped_litert_export(image_folder, tmp_path,
                                                                  monkeypatch):
    from automl.export import litert
    from automl.pipeline import run as search_run

    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "model" / "model_card.json").write_text(json.dumps(
        {"task": "image", litert.PENDING: "tflite"}))        # a conversion a signal stopped
    (run / "state.json").write_text(json.dumps({"elapsed_seconds": 50.0, "finished": False}))

    def stopped(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(search_run, "finish", stopped)
    result = invoke("search", "--task", "image", "--data", image_folder, "--out", run,
                    "--overwrite", "--max-trials", 1, "--epochs", 1)
    assert result.exit_code == 130, result.output
    assert litert.pending(str(run / "model" / "model_card.json")) is None
    monkeypatch.undo()

    result = invoke("resume", run)                           # the new search, not the old export
    assert result.exit_code == 0, result.output
    card = json.loads((run / "model" / "model_card.json").read_text())
    assert card["search"]["max_trials"] == 1 and "litert" not in card


def _converter_of(parent):
    """The pid of `parent`'s LiteRT converter child, or None."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                command = handle.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"convert_child" in command:
            return int(name)
    return None
