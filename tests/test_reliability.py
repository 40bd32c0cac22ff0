"""Failed trials, resume after SIGKILL and Ctrl-C, and input validation of runs."""

import csv
import gc
import json
import os
import signal
import subprocess
import sys
import time
from importlib.metadata import EntryPoint

import pytest

from automl import registry
from conftest import assert_one_line_error, invoke
from fake_automl import with_test_tasks

HERE = os.path.dirname(__file__)


@pytest.fixture
def fake_tasks(monkeypatch):
    """The test tasks of `fake_automl.TASKS` (`pixels`, `steady`) and a few broken ones."""
    monkeypatch.syspath_prepend(HERE)
    real = with_test_tasks(registry._entry_points())
    extra = [EntryPoint(name, value, registry.GROUP) for name, value in
             (("vectors", "fake_tasks:VectorTask"), ("failing", "fake_tasks:AlwaysFailingTask"),
              ("future", "fake_tasks:FutureTask"), ("broken", "missing_module:Task"))]
    monkeypatch.setattr(registry, "_entry_points", lambda: sorted(real + extra, key=lambda e: e.name))


def test_failed_trials_are_recorded_and_the_search_goes_on(fake_tasks, tmp_path):
    out = tmp_path / "run"
    result = invoke("search", "--task", "vectors", "--data", "blobs", "--out", out,
                    "--tuner", "random", "--max-trials", 3)
    assert result.exit_code == 0, result.output
    assert "failed: RuntimeError: boom on purpose" in result.output
    card = json.load(open(out / "model" / "model_card.json"))
    assert card["search"]["failed"] == 2 and card["search"]["completed"] == 1
    messages = card["search"]["failures"]
    assert messages["0"] == "RuntimeError: boom on purpose"
    assert "NaN" in messages["1"]
    rows = list(csv.DictReader(open(out / "report" / "trials.csv")))
    assert [r["status"] for r in rows] == ["FAILED", "FAILED", "COMPLETED"]
    assert rows[0]["message"] == "RuntimeError: boom on purpose"


def test_consecutive_failures_stop_the_search_and_all_failing_exits_1(fake_tasks, tmp_path):
    result = invoke("search", "--task", "failing", "--data", "blobs", "--out", tmp_path / "run",
                    "--tuner", "random", "--max-trials", 8, "--max-failures", 3)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1] == (
        "Error: every trial failed (loss became NaN or infinite at epoch 1)")
    trials = [d for d in os.listdir(tmp_path / "run" / "search") if d.startswith("trial_")]
    assert len(trials) == 3


def test_tasks_lists_good_plugins_and_warns_about_broken_ones(fake_tasks):
    result = invoke("tasks")
    assert result.exit_code == 0
    assert "warning: task plugin 'broken' failed to load (ModuleNotFoundError" in result.output
    assert "warning: task plugin 'future' failed to load (AutomlError: task plugin 'future' is " \
           "written for plugin API 99, this keras-automl provides API 4.0" in result.output
    names = [line.split()[0] for line in result.output.splitlines() if not line.startswith("warning")]
    assert {"image", "text", "audio", "vectors"} <= set(names)


def test_a_plugin_for_another_api_version_is_refused(fake_tasks, tmp_path):
    result = invoke("search", "--task", "future", "--data", "blobs", "--out", tmp_path / "run")
    assert_one_line_error(result, "task plugin 'future' is written for plugin API 99",
                          "provides API 4.0")


def test_a_run_of_another_task_is_named(image_run, tmp_path):
    result = invoke("search", "--task", "text", "--data", str(tmp_path), "--out", image_run)
    assert_one_line_error(result, "holds a search of task 'image'")


def test_an_output_path_below_a_file(image_folder, tmp_path):
    (tmp_path / "file").write_text("x")
    result = invoke("search", "--task", "image", "--data", image_folder,
                    "--out", tmp_path / "file" / "run")
    assert_one_line_error(result, "is a file")


def test_resume_of_a_finished_run_says_so(image_run):
    before = os.path.getmtime(os.path.join(image_run, "model", "model_card.json"))
    result = invoke("resume", image_run)
    assert result.exit_code == 0, result.output
    assert "already finished" in result.output
    assert os.path.getmtime(os.path.join(image_run, "model", "model_card.json")) == before


def test_resume_without_a_search(tmp_path):
    assert_one_line_error(invoke("resume", tmp_path), "no search to resume")


def _completed(run):
    found = {}
    search = os.path.join(run, "search")
    for name in os.listdir(search) if os.path.isdir(search) else []:
        path = os.path.join(search, name, "trial.json")
        if name.startswith("trial_") and os.path.exists(path):
            try:
                state = json.load(open(path))
            except ValueError:
                continue
            if state["status"] == "COMPLETED":
                found[name] = open(path, "rb").read()
    return found


def _start_search(image_folder, run, trials, *extra, task="image"):
    """`automl search` in a child process; `task="pixels"` trains the small test task."""
    program = ["-m", "automl"] if task == "image" else [os.path.join(HERE, "fake_automl.py")]
    command = [sys.executable, *program, "search", "--task", task, "--data", image_folder,
               "--out", str(run), "--tuner", "random", "--max-trials", str(trials), "--epochs", "2",
               *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_an_interrupted_overwrite_keeps_the_previous_export_and_resumes_where_it_stopped(
        fake_tasks, image_run, image_folder, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(image_run, run)
    shutil.rmtree(run / "search")  # only the new search's trials count below
    card = (run / "model" / "model_card.json").read_bytes()
    page = (run / "report" / "index.html").read_bytes()
    process = _start_search(image_folder, run, 3, "--overwrite", task="pixels")
    _wait_for(process, run, 1)
    interim = run / "search" / "report" / "index.html"
    deadline = time.time() + 60
    while not interim.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.kill()  # mid-trial: the next one started as soon as the first was recorded
    process.wait()
    completed = _completed(run)
    assert json.load(open(run / "state.json"))["finished"] is False
    assert (run / "model" / "model_card.json").read_bytes() == card
    assert (run / "model" / "saved_model" / "saved_model.pb").exists()
    assert (run / "report" / "index.html").read_bytes() == page
    assert interim.exists()
    result = invoke("resume", run)
    assert result.exit_code == 0, result.output
    assert (run / "model" / "model_card.json").read_bytes() != card
    assert (run / "report" / "index.html").read_bytes() != page
    folders = sorted(d for d in os.listdir(run / "search") if d.startswith("trial_"))
    assert folders == ["trial_0", "trial_1", "trial_2"]
    for name, content in completed.items():
        assert open(run / "search" / name / "trial.json", "rb").read() == content
    assert len(_completed(run)) == 3
    assert (run / "model" / "saved_model" / "saved_model.pb").exists()


def test_overwrite_is_a_command_line_flag_not_a_recipe_key(image_run, image_folder, tmp_path):
    import shutil

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"task: image\ndata: {image_folder}\nout: {image_run}\noverwrite: true\n")
    assert_one_line_error(invoke("run", recipe), "'overwrite' is not a recipe key",
                          "--overwrite")
    recipe.write_text(f"task: image\ndata: {image_folder}\nout: {image_run}\n")
    assert_one_line_error(invoke("run", recipe), "already holds a search",
                          "`automl run RECIPE --overwrite`")
    # A run written when recipes still held the key resumes.
    old = tmp_path / "old"
    shutil.copytree(image_run, old)
    with open(old / "recipe.yaml", "a") as handle:
        handle.write("overwrite: false\n")
    result = invoke("resume", old)
    assert result.exit_code == 0 and "already finished" in result.output


def _wait_for(process, run, count, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(_completed(run)) >= count:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the search did not get far enough")


@pytest.mark.parametrize("stop, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_saves_state_and_prints_the_resume_command(fake_tasks, image_folder,
                                                                     tmp_path, stop, code):
    run = tmp_path / "run"
    process = _start_search(image_folder, run, 2, task="pixels")
    _wait_for(process, run, 1)
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code
    assert f"automl resume {run}" in stderr
    assert "Traceback" not in stderr
    page = (run / "report" / "index.html").read_text()
    assert "search in progress or interrupted" in page and "<table>" in page
    completed = _completed(run)
    state = json.load(open(run / "state.json"))
    assert state["finished"] is False and state["elapsed_seconds"] > 0
    if stop == signal.SIGINT:
        return  # the same saved state as SIGTERM's, which the resume below finishes
    result = invoke("resume", run)
    assert result.exit_code == 0, result.output
    assert len(_completed(run)) == 2
    for name, content in completed.items():
        assert open(run / "search" / name / "trial.json", "rb").read() == content


@pytest.mark.parametrize("delay, stop, code", [(0.5, signal.SIGINT, 130),
                                               (3.0, signal.SIGTERM, 143)])
def test_a_stop_during_start_up_exits_without_a_traceback(image_folder, tmp_path, delay,
                                                          stop, code):
    run = tmp_path / "run"
    process = _start_search(image_folder, run, 2)
    time.sleep(delay)
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr and "Aborted" not in stderr and "ignored" not in stderr


def _live_train_graphs():
    from tensorflow.python.framework import func_graph

    gc.collect()
    return sum(isinstance(o, func_graph.FuncGraph) and o.name == "one_step_on_data"
               for o in gc.get_objects())


def test_what_tensorflow_loads_is_frozen_once_out_of_the_collectors_sight():
    from automl.runtime import env

    env.import_tensorflow()
    frozen = gc.get_freeze_count()
    assert frozen > 100_000  # TensorFlow's and Keras's objects: a collection skips them
    later = [[index] for index in range(1000)]
    env.import_tensorflow()
    assert any(tracked is later for tracked in gc.get_objects())  # not frozen: collectable


def test_the_collector_is_off_while_tensorflow_is_first_imported(monkeypatch):
    import contextlib

    from automl.runtime import env

    env.import_tensorflow()
    collections = []

    @contextlib.contextmanager
    def importing():  # allocates as an import does
        yield [[index] for index in range(100_000)]

    def count(phase, info):
        collections.append(phase)

    monkeypatch.setattr(env, "silenced_stderr", importing)
    monkeypatch.setattr(gc, "get_freeze_count", lambda: 0)  # as before the first import
    monkeypatch.setattr(gc, "freeze", lambda: None)
    gc.callbacks.append(count)
    try:
        env.import_tensorflow()
        assert gc.isenabled()
        automatic = len(collections) - 2  # the explicit collection before the freeze
        with importing():
            pass
    finally:
        gc.callbacks.remove(count)
    assert automatic == 0 and len(collections) > 2


def test_a_trained_model_leaves_no_graph_behind():
    """Each trial's traced train step is freed, so memory stays flat across trials."""
    import numpy as np

    from automl.runtime import env
    from automl.runtime.memory import released_after

    _, keras = env.import_tensorflow()
    x = np.random.RandomState(0).normal(size=(16, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")

    def train():
        inputs = keras.Input((4,))
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=1, verbose=0)

    with released_after(keras):
        train()
    before = _live_train_graphs()
    for _ in range(3):
        with released_after(keras) as release:
            train()
        assert release.removed >= 1  # it found this trial's gradient functions
    assert _live_train_graphs() == before


def test_lookup_tables_made_in_a_trial_are_destroyed_with_their_models():
    """Named eager tables outlive their Python objects in TensorFlow; the release frees them."""
    from automl.runtime import env
    from automl.runtime.memory import released_after

    tf, keras = env.import_tensorflow()

    def table(tokens):
        keys = tf.constant(tokens)
        values = tf.range(len(tokens), dtype=tf.int64)
        return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), -1)

    outside = table(["a", "b"])
    handle = outside.resource_handle
    del outside  # made outside a trial: left as TensorFlow leaves it
    assert int(tf.raw_ops.LookupTableSizeV2(table_handle=handle)) == 2

    with released_after(keras) as release:
        inside = table(["a", "b", "c"])
        handle = inside.resource_handle
        layer = keras.layers.TextVectorization(output_mode="multi_hot")
        layer.set_vocabulary(["rain", "goal"])
        layer(tf.constant(["rain"]))
        kept = table(["kept"])
        del inside, layer
    assert release.tables >= 3
    with pytest.raises(tf.errors.NotFoundError):
        tf.raw_ops.LookupTableSizeV2(table_handle=handle)
    assert int(kept.size()) == 1  # a table still in use stays


def test_trials_ending_out_of_order_leave_no_resource_tracker_behind():
    """Two workers' trials in one process may end in either order."""
    from tensorflow.python.trackable import resource

    from automl.runtime import env
    from automl.runtime.memory import released_after

    _, keras = env.import_tensorflow()
    first, second = released_after(keras), released_after(keras)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    second.__exit__(None, None, None)
    assert resource._RESOURCE_TRACKER_STACK == []


def test_the_release_applies_only_to_tensorflow_releases_that_leak():
    from automl.runtime.memory import removal_needed

    assert removal_needed("2.21.0") and removal_needed("2.18.1") and removal_needed("2.21.0rc1")
    assert not removal_needed("2.22.0") and not removal_needed("3.0.0")


def test_the_release_never_raises_when_the_registry_changes(monkeypatch):
    from automl.adapters import tensorflow as tf_private
    from automl.runtime import env
    from automl.runtime import memory

    _, keras = env.import_tensorflow()

    class Unremovable(dict):
        def __delitem__(self, name):
            raise TypeError("read-only")

    registry = Unremovable()
    monkeypatch.setattr(tf_private, "gradient_registry", lambda: registry)
    with memory.released_after(keras) as release:
        registry["CustomGradient-1"] = object()
    assert release.removed == 0


def test_a_trial_killed_after_its_results_were_recorded_reruns_with_fresh_metrics(
        fake_tasks, image_folder, tmp_path, monkeypatch):
    from automl.tuning import tuner as tuner_lib

    make_oracle = tuner_lib.make_oracle

    def interrupted_once(*args, **kwargs):
        oracle = make_oracle(*args, **kwargs)
        end_trial = oracle.end_trial

        def end(trial):
            oracle.end_trial = end_trial
            raise KeyboardInterrupt  # between update_trial and end_trial
        oracle.end_trial = end
        return oracle

    monkeypatch.setattr(tuner_lib, "make_oracle", interrupted_once)
    run = tmp_path / "run"
    result = invoke("search", "--task", "pixels", "--data", image_folder, "--out", run,
                    "--tuner", "random", "--max-trials", 2, "--epochs", 1)
    assert result.exit_code == 130, result.output
    recorded = json.load(open(run / "search" / "trial_0" / "trial.json"))
    assert recorded["metrics"]["metrics"]["val_accuracy"]["observations"]
    monkeypatch.setattr(tuner_lib, "make_oracle", make_oracle)
    result = invoke("resume", run)
    assert result.exit_code == 0, result.output
    rerun = json.load(open(run / "search" / "trial_0" / "trial.json"))
    assert rerun["status"] == "COMPLETED"
    for name, metric in rerun["metrics"]["metrics"].items():
        assert len(metric["observations"]) == 1, name


def _unsplit_copy(image_folder, target):
    import shutil

    for split in ("train", "val", "test"):
        for label in os.listdir(os.path.join(image_folder, split)):
            os.makedirs(target / label, exist_ok=True)
            for name in os.listdir(os.path.join(image_folder, split, label)):
                shutil.copy(os.path.join(image_folder, split, label, name),
                            target / label / f"{split}_{name}")
    return target


def test_splits_are_saved_and_do_not_move_with_the_search_seed(fake_tasks, image_folder, tmp_path):
    data = _unsplit_copy(image_folder, tmp_path / "data")
    saved = []
    for seed in (0, 1):
        run = tmp_path / f"run{seed}"
        result = invoke("search", "--task", "pixels", "--data", data, "--out", run,
                        "--max-trials", 1, "--epochs", 1, "--seed", seed)
        assert result.exit_code == 0, result.output
        saved.append(json.load(open(run / "splits.json")))
    assert set(saved[0]) == {"train", "val", "test"}
    assert saved[0] == saved[1]
    every = saved[0]["train"] + saved[0]["val"] + saved[0]["test"]
    assert len(every) == len(set(every)) == sum(len(os.listdir(data / c)) for c in os.listdir(data))
    result = invoke("search", "--task", "pixels", "--data", data, "--out", tmp_path / "other",
                    "--max-trials", 1, "--epochs", 1, "--split-seed", 5)
    assert result.exit_code == 0, result.output
    assert json.load(open(tmp_path / "other" / "splits.json"))["test"] != saved[0]["test"]


def test_resume_refuses_data_that_changed_naming_the_change(fake_tasks, image_folder, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(image_folder, data)
    run = tmp_path / "run"
    result = invoke("search", "--task", "pixels", "--data", data, "--out", run,
                    "--max-trials", 1, "--epochs", 1)
    assert result.exit_code == 0, result.output
    state = json.load(open(run / "state.json"))
    json.dump({**state, "finished": False}, open(run / "state.json", "w"))
    shutil.copy(data / "train" / "top" / os.listdir(data / "train" / "top")[0],
                data / "train" / "top" / "added.png")
    assert_one_line_error(invoke("resume", run), "the data changed", "1 file added",
                          "added.png")
    os.remove(data / "train" / "top" / "added.png")
    assert invoke("resume", run).exit_code == 0


def test_a_run_resumes_from_any_folder_and_says_when_its_data_is_gone(fake_tasks, image_folder,
                                                                      tmp_path, monkeypatch):
    import shutil

    shutil.copytree(image_folder, tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    result = invoke("search", "--task", "pixels", "--data", "data", "--out", "run",
                    "--tuner", "random", "--max-trials", 1, "--epochs", 1)
    assert result.exit_code == 0, result.output
    recipe = (tmp_path / "run" / "recipe.yaml").read_text()
    assert f"data: {tmp_path / 'data'}" in recipe
    shutil.rmtree(tmp_path / "run" / "model")  # a finished search whose export is missing
    monkeypatch.chdir("/")
    result = invoke("resume", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "model" / "model_card.json").exists()
    shutil.rmtree(tmp_path / "run" / "model")
    shutil.move(tmp_path / "data", tmp_path / "elsewhere")
    result = invoke("resume", tmp_path / "run")
    assert_one_line_error(result, f"data not found: {tmp_path / 'data'}")


def test_a_bug_outside_the_model_stops_the_search_instead_of_failing_a_trial(fake_tasks, tmp_path,
                                                                             monkeypatch):
    from automl.tuning.trial_files import TrialFiles

    def broken(self, *args):
        raise RuntimeError("a bug in keeping the history")

    monkeypatch.setattr(TrialFiles, "keep_history", broken)
    with pytest.raises(RuntimeError, match="a bug in keeping the history"):
        invoke("search", "--task", "vectors", "--data", "blobs", "--out", tmp_path / "run",
               "--tuner", "random", "--max-trials", 3)
    # Trials 0 and 1 fail in their models (they raise, they diverge); trial 2's model is
    # sound, and the bug after its training is not put down to it.
    trial = json.load(open(tmp_path / "run" / "search" / "trial_2" / "trial.json"))
    assert trial["status"] == "RUNNING"
