"""Distributed searches: a chief serving trials to worker processes, lost workers, devices."""

import csv
import json
import os
import re
import signal
import time

from conftest import assert_one_line_error, free_port, invoke, run_python, finish, start_automl, start_worker

TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} ", re.MULTILINE)  # TensorFlow's C++ log format


def _chief(data, run, port, *extra):
    return start_automl("search", "--task", "image", "--data", data, "--out", run, "--tuner", "random",
                  "--epochs", 1, "--chief", "--listen", f"127.0.0.1:{port}", *extra)


def _trial_rows(run):
    return list(csv.DictReader(open(os.path.join(run, "report", "trials.csv"))))


def test_the_trial_of_a_killed_worker_runs_again_on_another(image_folder, tmp_path):
    run, port = tmp_path / "run", free_port()
    chief = _chief(image_folder, run, port, "--max-trials", 3, "--worker-timeout", 5)
    doomed = start_worker(run, port, "doomed")
    started = time.time()
    while not os.path.exists(run / "search" / "trial_0" / "trial.json"):
        assert time.time() - started < 120, "the first trial never started"
        time.sleep(0.2)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    survivor = start_worker(run, port, "survivor")
    code, output = finish(chief, 300)
    assert code == 0, output
    assert "worker doomed is silent: trial 0 will run again" in output
    survivor_code, survivor_output = finish(survivor, 60)
    assert survivor_code == 0, survivor_output
    rows = _trial_rows(run)
    assert sorted(r["trial_id"] for r in rows) == ["0", "1", "2"]
    assert all(r["status"] == "COMPLETED" for r in rows)
    assert {r["worker"] for r in rows} == {"survivor"}


def test_mirrored_training_over_two_logical_devices_exports_the_contract(image_folder, tmp_path):
    run = tmp_path / "run"
    code = f"""
import json, sys, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from click.testing import CliRunner
from automl.cli import cli
result = CliRunner().invoke(cli, ["search", "--task", "image", "--data", {image_folder!r},
    "--out", {str(run)!r}, "--max-trials", "1", "--epochs", "2", "--strategy", "mirrored"])
assert result.exit_code == 0, result.output
card = json.load(open({str(run)!r} + "/model/model_card.json"))
assert card["input"] == {{"name": "inputs", "shape": [None, None, None, 1], "dtype": "float32"}}
serve = tf.saved_model.load({str(run)!r} + "/model/saved_model").signatures["serving_default"]
out = serve(inputs=tf.zeros([3, 8, 8, 1]))
assert sorted(out) == ["label", "probabilities"] and out["probabilities"].shape == (3, 3)
print("replicas", len(tf.config.list_logical_devices("CPU")))
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replicas 2" in result.stdout


def test_mirrored_strategy_uses_every_logical_device():
    code = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from automl.runtime import devices
from automl.settings import from_mapping
settings = from_mapping({"task": "image", "data": "digits", "out": "x", "strategy": "mirrored"})
print("replicas", devices.configure(tf, keras, settings).num_replicas_in_sync)
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replicas 2" in result.stdout


def test_mixed_precision_without_a_gpu_is_refused(tmp_path):
    result = invoke("search", "--task", "image", "--data", "digits", "--out", tmp_path / "run",
                    "--max-trials", 1, "--precision", "mixed")
    assert_one_line_error(result, "--precision mixed needs a GPU")
    assert not (tmp_path / "run").exists()


def test_every_head_stays_float32_under_mixed_precision():
    code = """
import types
import keras, keras_tuner as kt, numpy as np
keras.mixed_precision.set_global_policy("mixed_float16")
from automl import problems
data = types.SimpleNamespace(classes=["a", "b", "c"], train=types.SimpleNamespace(y=np.arange(4.0)))
inputs = keras.Input((4,))
dtypes = [problems.get(name).head(kt.HyperParameters(), keras, keras.layers.Dense(8)(inputs),
                                   data).dtype for name in problems.NAMES]
print(keras.layers.Dense(8).compute_dtype, *dtypes)
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["float16", "float32", "float32", "float32"]


def test_chief_flags_are_checked(tmp_path):
    result = invoke("search", "--task", "image", "--data", "digits", "--out", tmp_path / "run",
                    "--listen", "127.0.0.1:9")
    assert_one_line_error(result, "--listen and --worker-timeout need --chief")
    result = invoke("search", "--task", "image", "--data", "digits", "--out", tmp_path / "run",
                    "--chief", "--listen", "nowhere")
    assert_one_line_error(result, "malformed address 'nowhere'")
    result = invoke("worker", "--out", tmp_path / "run")
    assert_one_line_error(result, "--connect")


def _completed_ids(run):
    done = []
    for name in sorted(os.listdir(run / "search")) if (run / "search").is_dir() else []:
        path = run / "search" / name / "trial.json"
        if name.startswith("trial_") and path.exists():
            try:
                if json.load(open(path))["status"] == "COMPLETED":
                    done.append(name)
            except ValueError:  # being written
                pass
    return done


def _wait(condition, seconds, what):
    started = time.time()
    while not condition():
        assert time.time() - started < seconds, what
        time.sleep(0.2)


def test_workers_share_the_trials_and_rejoin_a_resumed_chief_counting_each_trial_once(
        image_folder, tmp_path):
    run, port = tmp_path / "run", free_port()
    chief = _chief(image_folder, run, port, "--max-trials", 6, "--epochs", 2)
    workers = [start_worker(run, port, name) for name in ("alpha", "beta")]
    _wait(lambda: len(_completed_ids(run)) >= 2, 240, "two trials never completed")
    chief.send_signal(signal.SIGKILL)
    chief.wait()
    before = set(_completed_ids(run))
    resumed = start_automl("resume", run)  # listens where the chief did: search/chief.json
    code, output = finish(resumed, 300)
    assert code == 0, output
    ended = time.time()
    assert "oneDNN" not in output and not TF_LOG_LINE.search(output)
    for worker in workers:
        worker_code, worker_output = finish(worker, 60)
        assert worker_code == 0, worker_output
        assert "the search is over" in worker_output
        assert "oneDNN" not in worker_output and not TF_LOG_LINE.search(worker_output)
    assert time.time() - ended < 30
    rows = _trial_rows(run)
    assert sorted(r["trial_id"] for r in rows) == [str(i) for i in range(6)]
    assert all(r["status"] == "COMPLETED" for r in rows)
    assert {r["worker"] for r in rows} == {"alpha", "beta"}
    after = {r["trial_id"]: r["worker"] for r in rows if f"trial_{r['trial_id']}" not in before}
    assert after and set(after.values()) <= {"alpha", "beta"}  # run by workers, not locally
    assert not list(run.glob("search/trial_*/attempt-*"))
    card = json.load(open(run / "model" / "model_card.json"))
    assert card["search"]["completed"] == 6
    assert card["search"]["workers"] == {r["trial_id"]: r["worker"] for r in rows}
    assert card["search"]["exported_trial"] in card["search"]["workers"]
    assert os.path.exists(run / "model" / "saved_model" / "saved_model.pb")
    assert os.path.exists(run / "search" / "ended")
    # A worker started after the end finds the search over and exits at once.
    late_code, late_output = finish(start_worker(run, port, "late"), 30)
    assert late_code == 0 and "is over" in late_output


def test_a_late_report_of_a_trial_handed_to_another_worker_is_refused(image_folder, tmp_path):
    run, port = tmp_path / "run", free_port()
    chief = _chief(image_folder, run, port, "--max-trials", 3, "--epochs", 3,
                   "--worker-timeout", 5)
    paused = start_worker(run, port, "paused")
    _wait(lambda: (run / "search" / "trial_0" / "trial.json").exists(), 120,
          "the first trial never started")
    paused.send_signal(signal.SIGSTOP)
    other = start_worker(run, port, "other")
    _wait(lambda: "trial_0" in _completed_ids(run), 240, "trial 0 never ran again")
    paused.send_signal(signal.SIGCONT)
    code, output = finish(chief, 300)
    assert code == 0, output
    assert "worker paused is silent: trial 0 will run again" in output
    for worker in (paused, other):
        worker_code, worker_output = finish(worker, 60)
        assert worker_code == 0, worker_output
    rows = _trial_rows(run)
    assert sorted(r["trial_id"] for r in rows) == ["0", "1", "2"]
    assert next(r["worker"] for r in rows if r["trial_id"] == "0") == "other"
    assert not list(run.glob("search/trial_*/attempt-*"))
    # The weights on disk are those of the run that was counted: they score as recorded.
    code = f"""
import json, sys
from automl import registry
from automl.data.feeds import Feeds
from automl.report.progress import Progress
from automl.run_folder import RunDir
from automl.runtime import env
from automl.runtime.timing import PhaseClock
from automl.settings import load_recipe
from automl.tuning.budget import Budget
from automl.tuning.tuner import SearchTuner
import time
run = {str(run)!r}
settings = load_recipe(run + "/recipe.yaml", ["out=" + run], legacy=True)
tf, keras = env.import_tensorflow()
task = registry.get_task("image")
dataset = task.load(settings)
feeds = Feeds(task, dataset, settings.seed, tf)
budget = Budget(None, time.time())
tuner = SearchTuner(task, dataset, feeds, settings, budget, keras, tf, run,
                    Progress(settings, budget, live=False, to_stderr=True), PhaseClock(time.time()))
trial = tuner.oracle.trials["0"]
hp = trial.hyperparameters
model = tuner.best_model(trial)
logs = model.evaluate(feeds.pipeline("val", hp, tuner.batch_size(hp), training=False),
                      verbose=0, return_dict=True)
print("scores", round(logs["accuracy"], 3), round(trial.score, 3))
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    measured, recorded = result.stdout.split()[-2:]
    assert measured == recorded
