"""Distributed searches: a chief serving trials to worker processes, lost workers, devices."""

import json
import os
import re
import shutil
import signal
import threading
import time
import types

import pytest

from conftest import (assert_one_line_error, free_port, invoke, run_python, start_automl,
                      start_worker, write_image_folder)

TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} ", re.MULTILINE)  # TensorFlow's C++ log format
MAX_TRIALS = 8


@pytest.fixture(scope="module")
def few_images(tmp_path_factory):
    """The smallest image folder a search runs on: 8 train, 2 val, 2 test images a class."""
    return write_image_folder(tmp_path_factory.mktemp("few_images"), per_class=(8, 2, 2))


class Child:
    """A child process of `start_automl`, its output read as it comes."""

    def __init__(self, process):
        self.process, self.lines = process, []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self):
        return "".join(self.lines)

    def says(self, text):
        return text in self.output

    def signal(self, number):
        self.process.send_signal(number)

    def finish(self, timeout):
        """`(exit code, output)` once the process ends."""
        self.process.wait(timeout)
        self.reader.join(timeout)
        return self.process.returncode, self.output

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _wait(condition, seconds, what):
    started = time.time()
    while not condition():
        assert time.time() - started < seconds, what
        time.sleep(0.1)


def _trial_rows(run):
    import csv

    with open(os.path.join(run, "report", "trials.csv"), encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _trial_status(run, trial_id):
    try:
        return json.load(open(run / "search" / f"trial_{trial_id}" / "trial.json"))["status"]
    except (OSError, ValueError):  # not there yet, or being written
        return None


def _completed_ids(run):
    folders = os.listdir(run / "search") if (run / "search").is_dir() else []
    ids = [name[len("trial_"):] for name in folders if name.startswith("trial_")]
    return {trial_id for trial_id in ids if _trial_status(run, trial_id) == "COMPLETED"}


def _recorded_workers(run):
    try:
        return json.load(open(run / "search" / "workers.json"))
    except (OSError, ValueError):
        return {}


@pytest.fixture(scope="module")
def lost_and_found(few_images, tmp_path_factory):
    """One chief serving workers that are lost in every way, then killed and resumed.

    Worker `doomed` is killed (SIGKILL) with trial 0; once the chief calls it silent,
    worker `stopped` takes trial 0 and gets SIGTERM as it trains; worker `paused` takes it
    next and is paused (SIGSTOP) until worker `other` has run it again, then reports it
    late and goes on with other trials while `other` is paused in turn. Once `paused` has
    run a trial of its own, the chief is killed and resumed: `paused` and `other` finish
    the search with the resumed chief.
    """
    run, port = tmp_path_factory.mktemp("lost") / "run", free_port()
    children = []

    def start(process):
        children.append(Child(process))
        return children[-1]

    try:
        chief = start(start_automl(
            "search", "--task", "image", "--data", few_images, "--out", run, "--tuner", "random",
            "--epochs", 1, "--max-trials", MAX_TRIALS, "--worker-timeout", 5, "--chief",
            "--listen", f"127.0.0.1:{port}"))
        doomed = start(start_worker(run, port, "doomed"))
        _wait(lambda: _trial_status(run, "0") is not None, 120, "the first trial never started")
        doomed.signal(signal.SIGKILL)
        doomed.finish(30)
        _wait(lambda: chief.says("worker doomed is silent"), 60, "the chief never missed doomed")

        stopped = start(start_worker(run, port, "stopped"))
        _wait(lambda: stopped.says("trial 0 started") and (run / "logs" / "0").exists(), 120,
              "stopped never trained trial 0")
        stopped.signal(signal.SIGTERM)  # mid-trial
        signalled = time.time()
        stopped_code, stopped_output = stopped.finish(60)
        stopped_seconds = time.time() - signalled

        paused = start(start_worker(run, port, "paused"))
        _wait(lambda: paused.says("trial 0 started"), 120, "paused never took trial 0")
        paused.signal(signal.SIGSTOP)
        other = start(start_worker(run, port, "other"))
        _wait(lambda: "0" in _completed_ids(run), 240, "trial 0 never ran again")
        # `other` waits until the chief is resumed, so trials are left for `paused`
        # (one `other` held goes back to the chief when it falls silent).
        other.signal(signal.SIGSTOP)
        paused.signal(signal.SIGCONT)
        _wait(lambda: any(_recorded_workers(run).get(i) == "paused" for i in _completed_ids(run)),
              240, "paused never ran a trial after its late report")
        chief.signal(signal.SIGKILL)
        chief.finish(30)
        other.signal(signal.SIGCONT)
        before = _completed_ids(run)

        resumed = start(start_automl("resume", run))  # listens where the chief did
        resumed_code, resumed_output = resumed.finish(300)
        ended = time.time()
        workers = {name: child.finish(60) for name, child in (("paused", paused),
                                                              ("other", other))}
        workers_seconds = time.time() - ended
        # In-process: a worker that finds the search ended exits before it imports TensorFlow.
        late = invoke("worker", "--connect", f"127.0.0.1:{port}", "--out", run, "--id", "late")
    finally:
        for child in children:
            child.stop()
    return types.SimpleNamespace(
        run=run, chief_output=chief.output, stopped=(stopped_code, stopped_output, stopped_seconds),
        paused_output=paused.output, before=before, resumed=(resumed_code, resumed_output),
        workers=workers, workers_seconds=workers_seconds, late=late)


def test_the_trial_of_a_killed_worker_runs_again_on_another(lost_and_found):
    assert "worker doomed is silent: trial 0 will run again" in lost_and_found.chief_output
    rows = _trial_rows(lost_and_found.run)
    assert sorted(r["trial_id"] for r in rows) == [str(i) for i in range(MAX_TRIALS)]
    assert all(r["status"] == "COMPLETED" for r in rows)
    assert "doomed" not in {r["worker"] for r in rows}
    assert next(r["worker"] for r in rows if r["trial_id"] == "0") == "other"


def test_sigterm_hands_a_workers_trial_back_to_the_chief(lost_and_found):
    code, output, seconds = lost_and_found.stopped
    assert code == 143, output
    assert seconds < 30
    assert "trial 0 goes back to the chief" in output
    assert "worker stopped was stopped: trial 0 will run again" in lost_and_found.chief_output
    rows = _trial_rows(lost_and_found.run)
    assert "stopped" not in {r["worker"] for r in rows}
    assert all(r["status"] == "COMPLETED" for r in rows)
    assert not list(lost_and_found.run.glob("search/trial_*/attempt-*"))


def test_a_late_report_of_a_trial_handed_to_another_worker_is_refused(lost_and_found, tmp_path):
    assert "worker paused is silent: trial 0 will run again" in lost_and_found.chief_output
    assert re.search(r"worker paused: trial 0 \S+ \d", lost_and_found.paused_output)  # reported
    rows = _trial_rows(lost_and_found.run)
    assert next(r["worker"] for r in rows if r["trial_id"] == "0") == "other"
    assert not list(lost_and_found.run.glob("search/trial_*/attempt-*"))
    # The weights on disk are those of the run that was counted: they score as recorded.
    from automl import registry
    from automl.data.feeds import Feeds
    from automl.report.progress import Progress
    from automl.runtime import env
    from automl.runtime.timing import PhaseClock
    from automl.settings import load_recipe
    from automl.tuning.budget import Budget
    from automl.tuning.tuner import SearchTuner

    run = str(tmp_path / "run")
    shutil.copytree(lost_and_found.run, run)
    settings = load_recipe(run + "/recipe.yaml", ["out=" + run], legacy=True)
    tf, keras = env.import_tensorflow()
    task = registry.get_task("image")
    dataset = task.load(settings)
    feeds = Feeds(task, dataset, settings.seed, tf)
    budget = Budget(None, time.time())
    tuner = SearchTuner(task, dataset, feeds, settings, budget, keras, tf, run,
                        Progress(settings, budget, live=False, to_stderr=True),
                        PhaseClock(time.time()))
    trial = tuner.oracle.trials["0"]
    hp = trial.hyperparameters
    model = tuner.best_model(trial)
    logs = model.evaluate(feeds.pipeline("val", hp, tuner.batch_size(hp), training=False),
                          verbose=0, return_dict=True)
    assert round(logs["accuracy"], 3) == round(trial.score, 3)


def test_workers_share_the_trials_and_rejoin_a_resumed_chief_counting_each_trial_once(
        lost_and_found):
    run = lost_and_found.run
    code, output = lost_and_found.resumed
    assert code == 0, output
    assert "oneDNN" not in output and not TF_LOG_LINE.search(output)
    for worker_code, worker_output in lost_and_found.workers.values():
        assert worker_code == 0, worker_output
        assert "the search is over" in worker_output
        assert "oneDNN" not in worker_output and not TF_LOG_LINE.search(worker_output)
    assert lost_and_found.workers_seconds < 30
    rows = _trial_rows(run)
    assert sorted(r["trial_id"] for r in rows) == [str(i) for i in range(MAX_TRIALS)]
    assert all(r["status"] == "COMPLETED" for r in rows)
    assert {r["worker"] for r in rows} == {"paused", "other"}
    after = {r["trial_id"]: r["worker"] for r in rows if r["trial_id"] not in lost_and_found.before}
    assert after and set(after.values()) <= {"paused", "other"}  # run by workers, not locally
    assert not list(run.glob("search/trial_*/attempt-*"))
    card = json.load(open(run / "model" / "model_card.json"))
    assert card["search"]["completed"] == MAX_TRIALS
    assert card["search"]["workers"] == {r["trial_id"]: r["worker"] for r in rows}
    assert card["search"]["exported_trial"] in card["search"]["workers"]
    assert os.path.exists(run / "model" / "saved_model" / "saved_model.pb")
    assert os.path.exists(run / "search" / "ended")
    # A worker started after the end finds the search over and exits at once.
    late = lost_and_found.late
    assert late.exit_code == 0 and "is over" in late.output


def test_a_resumed_chief_whose_trials_are_all_done_finishes_without_workers(lost_and_found,
                                                                            tmp_path):
    run = tmp_path / "run"
    shutil.copytree(lost_and_found.run, run)
    # Killed after its last trial, before it wrote `ended` and exported.
    os.remove(run / "search" / "ended")
    os.remove(run / "model" / "model_card.json")
    result = invoke("resume", run)  # in-process: no worker is needed, nor a signal
    assert result.exit_code == 0, result.output
    assert "chief listening" in result.output  # served until it found every trial done
    assert (run / "model" / "model_card.json").exists()
    assert (run / "search" / "ended").read_text().strip() == "max_trials"
    # Killed after it wrote `ended`: the search is not served again.
    os.remove(run / "model" / "model_card.json")
    result = invoke("resume", run)
    assert result.exit_code == 0, result.output
    assert "chief listening" not in result.output
    assert (run / "model" / "model_card.json").exists()


DEVICE_CHECKS = """
import json, sys, types
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, keras_tuner as kt
from click.testing import CliRunner
from automl import problems
from automl.cli import cli
from automl.runtime import devices
from automl.settings import from_mapping
settings = from_mapping({{"task": "image", "data": "digits", "out": "x", "strategy": "mirrored"}})
print("strategy replicas", devices.configure(tf, keras, settings).num_replicas_in_sync, flush=True)

keras.mixed_precision.set_global_policy("mixed_float16")
data = types.SimpleNamespace(classes=["a", "b", "c"], train=types.SimpleNamespace(y=np.arange(4.0)))
inputs = keras.Input((4,))
dtypes = [problems.get(name).head(kt.HyperParameters(), keras, keras.layers.Dense(8)(inputs),
                                   data).dtype for name in problems.NAMES]
print("heads", keras.layers.Dense(8).compute_dtype, *dtypes, flush=True)
keras.mixed_precision.set_global_policy("float32")

result = CliRunner().invoke(cli, ["search", "--task", "image", "--data", {data!r},
    "--out", {run!r}, "--max-trials", "1", "--epochs", "1", "--strategy", "mirrored"])
assert result.exit_code == 0, result.output
card = json.load(open({run!r} + "/model/model_card.json"))
assert card["input"] == {{"name": "inputs", "shape": [None, None, None, 1], "dtype": "float32"}}
serve = tf.saved_model.load({run!r} + "/model/saved_model").signatures["serving_default"]
out = serve(inputs=tf.zeros([3, 8, 8, 1]))
assert sorted(out) == ["label", "probabilities"] and out["probabilities"].shape == (3, 3)
print("replicas", len(tf.config.list_logical_devices("CPU")))

# AutoGraph walked the loaded modules at each conversion of the search: the modules the
# command line holds lazily are still unloaded, and load on first use.
print("lazily held and loaded", sorted({{"automl.server", "fastapi"}} & set(sys.modules)))
from automl import cli as cli_module
assert cli_module.server_lib.create_app and "automl.server" in sys.modules
"""


@pytest.fixture(scope="module")
def device_checks(few_images, tmp_path_factory):
    """One interpreter over two logical CPU devices: a strategy, heads under mixed precision,
    then a mirrored search and its export."""
    run = str(tmp_path_factory.mktemp("mirrored") / "run")
    return run_python(DEVICE_CHECKS.format(data=few_images, run=run))


def test_mirrored_training_over_two_logical_devices_exports_the_contract(device_checks):
    assert device_checks.returncode == 0, device_checks.stderr[-3000:]
    assert "replicas 2" in device_checks.stdout.splitlines()


def test_mirrored_strategy_uses_every_logical_device(device_checks):
    assert "strategy replicas 2" in device_checks.stdout.splitlines(), device_checks.stderr[-3000:]


def test_a_search_leaves_the_modules_the_command_line_holds_lazily_unloaded(device_checks):
    assert "lazily held and loaded []" in device_checks.stdout.splitlines(), \
        device_checks.stderr[-3000:]


def test_every_head_stays_float32_under_mixed_precision(device_checks):
    heads = [line.split()[1:] for line in device_checks.stdout.splitlines()
             if line.startswith("heads ")]
    assert heads == [["float16", "float32", "float32", "float32"]], device_checks.stderr[-3000:]


def test_mixed_precision_without_a_gpu_is_refused(tmp_path):
    result = invoke("search", "--task", "image", "--data", "digits", "--out", tmp_path / "run",
                    "--max-trials", 1, "--precision", "mixed")
    assert_one_line_error(result, "--precision mixed needs a GPU")
    assert not (tmp_path / "run").exists()


def test_chief_flags_are_checked(tmp_path):
    result = invoke("search", "--task", "image", "--data", "digits", "--out", tmp_path / "run",
                    "--listen", "127.0.0.1:9")
    assert_one_line_error(result, "--listen and --worker-timeout need --chief")
    result = invoke("search", "--task", "image", "--data", "digits", "--out", tmp_path / "run",
                    "--chief", "--listen", "nowhere")
    assert_one_line_error(result, "malformed address 'nowhere'")
    result = invoke("worker", "--out", tmp_path / "run")
    assert_one_line_error(result, "--connect")
