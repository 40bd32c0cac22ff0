"""Distributed searches under a time budget, worker ids and trial ids."""

import json
import math
import os
import signal
import time
import types

import keras_tuner as kt
import pytest

from conftest import (assert_one_line_error, free_port, invoke, finish, start_automl, start_worker,
                      write_image_folder)

BUDGET = 50


@pytest.fixture(scope="module")
def few_images(tmp_path_factory):
    """A small image folder: 8 train, 2 val, 2 test images a class."""
    return write_image_folder(tmp_path_factory.mktemp("few_images"), per_class=(8, 2, 2))


def _chief(data, run, port, *extra):
    return start_automl("search", "--task", "image", "--data", data, "--out", run, "--tuner", "random",
                  "--chief", "--listen", f"127.0.0.1:{port}", *extra)


def _listening(run, chief):
    """Wait until the chief serves (its probe and start-up done), as a scheduler would."""
    _wait(lambda: (run / "search" / "chief.json").exists() or chief.poll() is not None, 120,
          "the chief never listened")
    assert (run / "search" / "chief.json").exists(), finish(chief, 10)


def _wait(condition, seconds, what):
    started = time.time()
    while not condition():
        assert time.time() - started < seconds, what
        time.sleep(0.1)


def _trials(run):
    """`{trial id: (status, worker)}` from the run's trials.csv."""
    import csv

    with open(os.path.join(run, "report", "trials.csv"), encoding="utf-8") as handle:
        return {r["trial_id"]: (r["status"], r["worker"]) for r in csv.DictReader(handle)}


def _error_lines(output):
    return [line for line in output.splitlines() if line.startswith("Error:")]


@pytest.fixture(scope="module")
def budgeted_chiefs(few_images, tmp_path_factory):
    """Three budgeted chiefs whose budgets overlap: one that no worker joins (resumed once
    its budget is spent), one whose only worker is killed mid-trial, and one served to
    worker `alpha`. Each starts once the one before listens (the served one once the
    doomed worker is killed), so that their start-up probes do not compete; the served one
    starts last, so that the end of its budget, where it retrains and exports, overlaps
    only the others' idle waits. Each chief is
    `(run, port, exit code, output, seconds)`."""
    chiefs, workers = {}, {}
    try:
        for name, worker in (("alone", None), ("dead", "doomed"), ("served", "alpha")):
            run, port = tmp_path_factory.mktemp(name) / "run", free_port()
            chiefs[name] = (run, port, time.time(),
                            _chief(few_images, run, port, "--time-budget", BUDGET))
            _listening(run, chiefs[name][3])
            if worker:
                workers[worker] = start_worker(run, port, worker)
            if worker == "doomed":
                _wait(lambda: (run / "logs" / "0000").exists(), BUDGET,
                      "trial 0000 never started training")
                workers[worker].send_signal(signal.SIGKILL)
                workers[worker].wait()
        results = {}
        for name, (run, port, started, chief) in chiefs.items():
            code, output = finish(chief, 3 * BUDGET)
            results[name] = (run, port, code, output, time.time() - started)
        served_worker = finish(workers["alpha"], 60)
    finally:
        for process in [chief for _, _, _, chief in chiefs.values()] + list(workers.values()):
            if process.poll() is None:
                process.kill()
                process.wait()
    run = results["alone"][0]
    state = json.load(open(run / "state.json"))  # as the chief left it
    resumed = finish(start_automl("resume", run), 2 * BUDGET)
    return types.SimpleNamespace(served=results["served"], served_worker=served_worker,
                                 alone=results["alone"], dead=results["dead"], alone_state=state,
                                 resumed=resumed)


def test_a_budgeted_search_served_to_a_worker_ends_within_its_budget(budgeted_chiefs):
    run, port, code, output, elapsed = budgeted_chiefs.served
    assert code == 0, output
    assert elapsed <= 1.1 * BUDGET, (elapsed, output)
    worker_code, worker_output = budgeted_chiefs.served_worker
    assert worker_code == 0, worker_output
    assert "OracleClient" not in worker_output
    trials = _trials(run)
    assert any(status == "COMPLETED" for status, _ in trials.values())
    assert {who for _, who in trials.values()} == {"alpha"}
    card = json.load(open(run / "model" / "model_card.json"))
    assert card["search"]["stop_reason"] == "time_budget"
    assert not list(run.glob("search/trial_*/attempt-*"))


def test_a_chief_that_no_worker_joins_ends_within_its_budget_and_resumes(
        budgeted_chiefs):
    run, port, code, output, elapsed = budgeted_chiefs.alone
    assert code == 1, output
    assert elapsed <= 1.1 * BUDGET, (elapsed, output)
    assert "Traceback" not in output
    assert _error_lines(output) == [
        f"Error: no trial completed within the time budget: no worker connected to "
        f"127.0.0.1:{port}; the search state is saved in {run}"]
    state = budgeted_chiefs.alone_state
    assert state["finished"] is False and state["elapsed_seconds"] >= 0.8 * BUDGET
    assert (run / "recipe.yaml").exists() and (run / "search" / "chief.json").exists()
    # The budget is spent: the resumed chief says so at once instead of waiting.
    code, output = budgeted_chiefs.resumed
    assert code == 1, output
    assert len(_error_lines(output)) == 1 and "no trial completed" in output


def test_a_chief_whose_only_worker_died_mid_trial_ends_within_its_budget(
        budgeted_chiefs):
    run, port, code, output, elapsed = budgeted_chiefs.dead
    assert code == 1, output
    assert elapsed <= 1.1 * BUDGET, (elapsed, output)
    assert _error_lines(output) == [
        f"Error: no trial completed within the time budget: no worker ran one to its end; "
        f"the search state is saved in {run}"]


def test_worker_ids_never_contain_chief(tmp_path, monkeypatch):
    from automl.distribute import worker

    result = invoke("worker", "--connect", "127.0.0.1:9", "--out", tmp_path, "--id", "chief-1")
    assert_one_line_error(result, "worker id 'chief-1' contains 'chief'")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "the-Chief")
    result = invoke("worker", "--connect", "127.0.0.1:9", "--out", tmp_path)
    assert_one_line_error(result, "worker id 'the-Chief' contains 'chief'")
    monkeypatch.setattr(worker.socket, "gethostname", lambda: "chief-1.CHIEF.example")
    assert "chief" not in worker.default_worker_id().lower()
    assert worker.default_worker_id().startswith("worker-chf-1.chf.example-")


def test_a_trial_id_from_a_report_never_reaches_outside_the_search(tmp_path):
    from keras_tuner.src import protos

    from automl.distribute import chief
    from automl.tuning.trial_files import TrialFiles

    search = tmp_path / "run" / "search"
    (search / "trial_0").mkdir(parents=True)
    victim = tmp_path / "victim" / "attempt-1"
    victim.mkdir(parents=True)
    (victim / "keep.txt").write_text("mine")
    crafted = "0/../../../victim"
    files = TrialFiles(str(search))
    oracle = types.SimpleNamespace(trials={}, ongoing_trials={}, _retry_queue=[])
    tuner = types.SimpleNamespace(oracle=oracle, files=files, workers={})
    servicer = chief._servicer_class()(tuner, chief.ChiefOptions(), None)
    trial = kt.engine.trial.Trial(kt.HyperParameters(), trial_id=crafted, status="COMPLETED")
    trial.hyperparameters.values[chief.ATTEMPT] = 1
    servicer.EndTrial(protos.get_service().EndTrialRequest(trial=trial.to_proto()), None)
    assert (victim / "keep.txt").read_text() == "mine"

    class Refused(Exception):
        pass

    def abort(code, details):
        raise Refused(code)

    with pytest.raises(Refused, match="NOT_FOUND"):
        servicer.GetTrial(protos.get_service().GetTrialRequest(trial_id=crafted),
                          types.SimpleNamespace(abort=abort))
    for call in (lambda: files.discard(crafted, 1), lambda: files.folder("../x")):
        with pytest.raises(ValueError, match="not a trial id"):
            call()


def test_a_trial_whose_objective_is_nan_at_every_epoch_fails():
    from automl.tuning.tuner import SearchTuner, TrialFailed

    tuner = types.SimpleNamespace(oracle=types.SimpleNamespace(
        objective=kt.Objective("val_accuracy", "max")))
    assert SearchTuner._best_index(tuner, [0.5, math.nan, 0.75]) == 2
    with pytest.raises(TrialFailed, match="val_accuracy was NaN at every epoch"):
        SearchTuner._best_index(tuner, [math.nan, math.nan])
    assert issubclass(TrialFailed, kt.errors.FailedTrialError)  # the search goes on
