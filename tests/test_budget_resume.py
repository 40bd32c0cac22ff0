"""The budget across resumes: time spent in every phase counts; the output folder is the user's."""

import json
import os
import time

from automl import run_folder
from automl.pipeline import finish
from automl.runtime.timing import PhaseClock
from automl.tuning.budget import Budget
from conftest import assert_one_line_error, invoke

BUDGET = 90  # ample for this data on a busy machine: the start-up alone may take 30 s
RETRAIN_SECONDS = 4.0


def test_a_folder_that_holds_no_search_is_refused_and_left_as_it_was(image_folder, tmp_path):
    folder = tmp_path / "mine"
    (folder / "model").mkdir(parents=True)
    (folder / "report").mkdir()
    (folder / "model" / "notes.txt").write_text("my notes")
    (folder / "report" / "x").write_text("my report")
    before = sorted(os.walk(folder))
    result = invoke("search", "--task", "image", "--data", image_folder, "--out", folder)
    assert_one_line_error(result, f"{folder} is not empty and holds no search",
                          "choose another --out", "--overwrite")
    assert sorted(os.walk(folder)) == before
    assert (folder / "model" / "notes.txt").read_text() == "my notes"
    assert (folder / "report" / "x").read_text() == "my report"


def test_the_state_file_keeps_the_time_spent_while_nothing_else_saves_it(tmp_path):
    run = run_folder.RunDir(str(tmp_path))
    clock = PhaseClock(time.time())
    keeper = run_folder.StateKeeper(run, Budget(60, time.time() - 10.0), clock, interval=0.05)
    keeper.start()
    try:
        clock.switch("export")  # a long export, a LiteRT conversion: no save of its own
        deadline = time.time() + 10
        state = {}
        while time.time() < deadline and state.get("seconds", {}).get("export", 0) < 0.3:
            time.sleep(0.05)
            if os.path.exists(run.state):
                state = run.read_state()
        assert state["seconds"]["export"] >= 0.3  # written by the keeper alone
        assert state["elapsed_seconds"] >= 10.0 + 0.2 and state["finished"] is False
        keeper.save(finished=True)
    finally:
        keeper.stop()
    assert run.read_state()["finished"] is True  # the last save keeps what the run reached


def test_a_run_stopped_in_its_retrain_resumes_with_what_is_left_of_its_budget(
        image_folder, tmp_path, monkeypatch):
    retrain = finish.retrain

    def stopped_retrain(*args, **kwargs):
        time.sleep(RETRAIN_SECONDS)  # retraining, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(finish, "retrain", stopped_retrain)
    run = tmp_path / "run"
    started = time.time()
    result = invoke("search", "--task", "image", "--data", image_folder, "--out", run,
                    "--tuner", "random", "--max-trials", 1, "--epochs", 2,
                    "--time-budget", BUDGET)
    first = time.time() - started
    assert result.exit_code == 130, result.output
    state = json.load(open(run / "state.json"))
    assert state["finished"] is False
    assert state["seconds"]["retrain"] >= RETRAIN_SECONDS
    assert state["elapsed_seconds"] >= first - 1.0
    monkeypatch.setattr(finish, "retrain", retrain)
    started = time.time()
    result = invoke("resume", run, "--json")
    resumed = time.time() - started
    assert result.exit_code == 0, result.output
    # stdout holds the document alone (keras-tuner's "Reloading Tuner" line included before).
    assert json.loads(result.stdout)["card"]["search"]["time_budget_seconds"] == BUDGET
    # The resumed command counts on from the time recorded, and both fit the budget.
    final = json.load(open(run / "state.json"))
    assert final["finished"] is True
    assert final["elapsed_seconds"] >= state["elapsed_seconds"] + resumed - 1.0
    assert first + resumed <= BUDGET * 1.1
