"""Successive halving on keras-tuner oracles: rungs, promotions, the finish and skips."""

import pytest

from automl.adapters import keras_tuner as kt_private
from automl.tuning.planner import Rung
from automl.tuning.scheduler import Pace


class FakePace(Pace):
    """Time as the scheduler sees it, set by hand."""

    budget_seconds = None

    def __init__(self, left, new_trial=10.0, per_epoch=2.0, overhead=1.0):
        self.left, self.new_trial, self.per_epoch, self.overhead = left, new_trial, per_epoch, overhead

    def time_left(self):
        return self.left

    def new_trial_seconds(self):
        return self.new_trial

    def epoch_seconds(self, trial):
        return self.per_epoch

    def continue_epoch_seconds(self, trial):
        return self.per_epoch

    def overhead_seconds(self):
        return self.overhead

    def finishes_in_retrain(self, trial):
        return False

    def skip_reason(self, values, first=False):
        return "too costly" if values.get("width", 0) > 900 else None

    def new_configuration_fits(self):
        return True


@pytest.fixture
def scheduled_oracle(tmp_path):
    def make(pace, first_rung=0):
        return _scheduled_oracle(pace, first_rung, tmp_path)
    return make


def _scheduled_oracle(pace, first_rung, directory):
    from automl.tuning.oracles import make_oracle, objective_for

    rungs = [Rung(2, 0.5), Rung(7), Rung(20)]
    oracle = make_oracle("random", objective_for("val_accuracy"), 1, None, 20, [],
                         {"rungs": rungs, "first_rung": first_rung}, planner=pace)
    oracle.hyperparameters.Int("width", 1, 1000)
    oracle._set_project_dir(str(directory), "search")
    return oracle


def finish_trial(oracle, score):
    trial = oracle.create_trial("tuner0")
    oracle.update_trial(trial.trial_id, {"val_accuracy": score})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)
    return trial


def test_new_configurations_enter_the_first_rung_on_a_share_of_train(scheduled_oracle):
    oracle = scheduled_oracle(FakePace(left=1000.0), first_rung=1)
    first = finish_trial(oracle, 0.5).hyperparameters.values
    assert (first["tuner/rung"], first["tuner/epochs"], first["tuner/fraction"]) == (1, 7, 1.0)
    second = finish_trial(oracle, 0.6).hyperparameters.values
    assert (second["tuner/rung"], second["tuner/epochs"], second["tuner/fraction"]) == (0, 2, 0.5)


def test_the_end_of_the_budget_goes_to_training_the_best_trial(scheduled_oracle):
    pace = FakePace(left=1000.0)
    oracle = scheduled_oracle(pace)
    best = finish_trial(oracle, 0.9)
    finish_trial(oracle, 0.5)
    # The first rung saw one whole epoch (two on half the split). Finishing the best
    # (1 s + 19 epochs x 2 s) plus a new configuration (10 s) needs 49 s.
    pace.left = 48.0
    values = oracle.create_trial("tuner0").hyperparameters.values
    assert values["tuner/trial_id"] == best.trial_id
    assert (values["tuner/initial_epoch"], values["tuner/epochs"], values["tuner/rung"]) == (1, 20, 2)
    pace.left = 20.0
    oracle.ongoing_trials.clear()
    values = oracle.create_trial("tuner0").hyperparameters.values
    assert values["tuner/epochs"] == 1 + 9  # only nine more epochs fit in 20 s


def test_a_trial_early_stopping_ended_at_the_top_rung_is_not_continued_again(scheduled_oracle):
    pace = FakePace(left=1000.0)
    oracle = scheduled_oracle(pace, first_rung=2)
    trial = oracle.create_trial("tuner0")
    oracle.update_trial(trial.trial_id, {"val_accuracy": 0.9, "best_epoch": 8, "converged": 1.0})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)
    pace.left = 20.0  # too little for a new configuration: only a continuation could use it
    values = oracle.create_trial("tuner0").hyperparameters.values
    assert values.get("tuner/trial_id") != trial.trial_id
    assert values["tuner/rung"] == 0


def test_configurations_the_planner_cannot_afford_are_skipped_and_counted(scheduled_oracle):
    oracle = scheduled_oracle(FakePace(left=1000.0))
    widths = [finish_trial(oracle, 0.5).hyperparameters.values["width"] for _ in range(8)]
    assert max(widths) <= 900
    assert oracle.skipped["count"] >= 1 and oracle.skipped["last_reason"] == "too costly"
    assert oracle.get_state()["skipped"]["count"] == oracle.skipped["count"]


class NothingFits(FakePace):
    """A budget that affords no configuration's top rung (as `--scheduler full` on a short one)."""

    def skip_reason(self, values, first=False):
        return None if first else "too costly"


def test_a_search_trains_its_first_configuration_even_when_no_top_rung_fits(tmp_path):
    from automl.tuning.oracles import make_oracle, objective_for

    oracle = make_oracle("random", objective_for("val_accuracy"), 1, None, 20, [{"width": 950}],
                         {"rungs": [Rung(20)], "first_rung": 0}, planner=NothingFits(left=1000.0))
    oracle.hyperparameters.Int("width", 1, 1000)
    oracle._set_project_dir(str(tmp_path), "search")
    first = oracle.create_trial("tuner0")           # the known-good value, too costly as well
    assert first.status == "RUNNING" and first.hyperparameters.values["width"] == 950
    assert oracle.skipped["count"] == 0
    oracle.update_trial(first.trial_id, {"val_accuracy": 0.5})
    first.status = "COMPLETED"
    oracle.end_trial(first)
    assert oracle.create_trial("tuner0").status == "STOPPED"
    assert oracle.skipped["last_reason"] == "too costly"


class ChanceLevel(FakePace):
    """16 balanced classes on 1,728 validation examples: chance is 0.0625."""

    def chance(self):
        return 0.0625, 1728


def test_at_chance_the_last_continuation_goes_to_the_first_configuration(scheduled_oracle):
    pace = ChanceLevel(left=1000.0)
    oracle = scheduled_oracle(pace)
    first = finish_trial(oracle, 0.0654)
    finish_trial(oracle, 0.0735)                    # above chance alone, not as the best of two
    pace.left = 48.0
    values = oracle.create_trial("tuner0").hyperparameters.values
    assert values["tuner/trial_id"] == first.trial_id


@pytest.mark.parametrize("tuner", ["random", "bayesian"])
def test_no_configuration_is_proposed_twice_whatever_rung_it_reached(tmp_path, tuner):
    from automl.tuning.oracles import make_oracle, objective_for

    pace = FakePace(left=1000.0)
    pace.budget_seconds = 300.0  # under a budget, every second proposal mutates the best
    oracle = make_oracle(tuner, objective_for("val_accuracy"), 1, None, 20,
                         [{"kind": "a", "rate": 1}], {"rungs": [Rung(2), Rung(7)], "first_rung": 0},
                         planner=pace)
    oracle.hyperparameters.Choice("kind", ["a", "b"])
    oracle.hyperparameters.Choice("rate", [1, 2, 3])
    oracle._set_project_dir(str(tmp_path), "search")
    proposed = []
    for score in (0.9, 0.5, 0.6, 0.4, 0.7, 0.3, 0.8, 0.2):
        values = finish_trial(oracle, score).hyperparameters.values
        if "tuner/trial_id" not in values:  # a new configuration, not a promotion
            proposed.append((values["kind"], values["rate"]))
    # Six configurations exist; the best one mutated by a single value often is itself.
    assert len(proposed) >= 5
    assert len(set(proposed)) == len(proposed)


def test_a_trial_completed_in_its_file_but_ongoing_in_the_oracle_is_not_run_again(tmp_path):
    """A kill between writing a trial's file and the oracle's leaves the trial listed as
    ongoing; the resumed oracle does not hand it out again."""
    import json

    from automl.tuning.oracles import make_oracle, objective_for

    def oracle():
        made = make_oracle("random", objective_for("val_accuracy"), 1, 5, 2, [])
        made.hyperparameters.Int("width", 1, 1000)
        made._set_project_dir(str(tmp_path), "search")
        return made

    first = oracle()
    done = finish_trial(first, 0.7)
    running = first.create_trial("tuner0")
    state_file = tmp_path / "search" / "oracle.json"
    state = json.loads(state_file.read_text())
    state["ongoing_trials"] = {"tuner0": done.trial_id, "tuner1": running.trial_id}
    state["end_order"] = []
    state_file.write_text(json.dumps(state))
    resumed = oracle()
    resumed.reload()
    assert resumed.trials[done.trial_id].status == "COMPLETED"
    assert resumed.end_order == [done.trial_id]
    assert kt_private.retry_queue(resumed) == [running.trial_id]  # it never ended: it runs again
