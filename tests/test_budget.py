"""Budget arithmetic, successive halving and time accounting, on a fake clock."""

import math
from types import SimpleNamespace

import pytest

from automl import budget
from automl.scheduler import continuation, promotion
from automl.timing import PhaseClock


def test_rungs_grow_by_eta_and_fit_the_budget():
    assert budget.rungs(20, 0.0, None) == [2, 7, 20]
    assert budget.rungs(12, 0.0, None) == [4, 12]
    assert budget.rungs(2, 0.0, None) == [2]
    # 30 s epochs in a 300 s budget: one configuration may train at most 150 s.
    assert budget.rungs(20, 30.0, 300) == [5]
    assert budget.rungs(20, 10.0, 300) == [5, 15]
    assert budget.rungs(20, 400.0, 300) == [1]


def test_first_rung_trains_on_a_share_of_train_only_when_it_must():
    assert budget.first_fraction(2, 1.0, 1.0, 300) == 1.0
    # two 100 s epochs cannot fit 15% of 300 s: train on a fifth of the split.
    assert budget.first_fraction(2, 100.0, 5.0, 300) == 0.2
    assert budget.first_fraction(2, 1e4, 5.0, 300) == budget.SMALLEST_FRACTION
    assert budget.first_fraction(2, 100.0, 5.0, None) == 1.0


def test_a_retrain_is_reserved_only_when_it_is_worth_its_share():
    assert budget.finishing_reserve(4, 1, 20, 300) == pytest.approx(4 + 1 + 22)
    assert budget.finishing_reserve(4, 1, 100, 300) == 5
    assert budget.retrain_planned(1e6, None)


def test_trial_deadline_caps_slow_trials_but_not_the_first():
    now = 1000.0
    assert budget.trial_deadline(now, now + 200, 10, 300) == now + 30
    assert budget.trial_deadline(now, now + 200, 1, 300) == now + 30  # at least 10% of budget
    assert budget.trial_deadline(now, now + 20, 10, 300) == now + 20  # never past the search
    assert budget.trial_deadline(now, now + 5, 100, 300, first_minimum=10) == now + 10
    assert budget.trial_deadline(now, now + 50, 100, 300, first_minimum=10) == now + 50
    assert budget.trial_deadline(now, now + 5, 10, None) == math.inf


def test_worth_starting_and_minimum_budget():
    assert budget.worth_starting(100.0, 110.0, 9.0)
    assert not budget.worth_starting(100.0, 110.0, 11.0)
    assert budget.minimum_budget(10, 5, 3) == 22


def fake_trial(trial_id, score, rung=0, parent=None, status="COMPLETED"):
    values = {"x": trial_id, "tuner/rung": rung, "tuner/epochs": [2, 7, 20][rung]}
    if parent:
        values["tuner/trial_id"] = parent
    return SimpleNamespace(trial_id=trial_id, score=score, status=status,
                           hyperparameters=SimpleNamespace(values=values))


def test_promotion_takes_the_best_of_every_eta_highest_rung_first():
    trials = [fake_trial("0", 0.5), fake_trial("1", 0.9), fake_trial("2", 0.7)]
    assert promotion(trials[:2], top_rung=2) is None  # fewer than eta at the rung
    assert promotion(trials, top_rung=2).trial_id == "1"
    assert promotion(trials, top_rung=2, maximize=False).trial_id == "0"
    trials.append(fake_trial("3", 0.8, rung=1, parent="1", status="RUNNING"))
    assert promotion(trials, top_rung=2) is None  # "1" is continued already
    trials += [fake_trial("4", 0.95), fake_trial("5", 0.1), fake_trial("6", 0.2)]
    assert promotion(trials, top_rung=2).trial_id == "4"  # top 2 of 6 at rung 0
    rung1 = [fake_trial(str(i), s, rung=1, parent=f"p{i}") for i, s in ((7, .6), (8, .9), (9, .7))]
    assert promotion(trials + rung1, top_rung=2).trial_id == "8"  # higher rung first
    assert promotion(rung1, top_rung=1) is None  # the top rung is final


def test_a_continuation_resumes_where_its_parent_stopped():
    parent = fake_trial("3", 0.9, rung=1)
    values = continuation(parent, 20, 2)
    assert values["tuner/trial_id"] == "3" and values["x"] == "3"
    assert (values["tuner/initial_epoch"], values["tuner/epochs"], values["tuner/rung"]) == (7, 20, 2)
    assert values["tuner/fraction"] == 1.0


def test_phase_clock_charges_every_second_to_one_phase():
    now = [100.0]
    clock = PhaseClock(90.0, carried={"trials": 5.0}, now=lambda: now[0])
    clock.switch("data")
    now[0] = 103.0
    clock.switch("trials")
    with clock.phase("proposals"):
        now[0] = 104.0
    now[0] = 110.0
    totals = clock.totals()
    assert totals["startup"] == 10.0 and totals["data"] == 3.0
    assert totals["proposals"] == 1.0 and totals["trials"] == 5.0 + 6.0
    assert sum(totals.values()) == pytest.approx(20.0 + 5.0)


class FakePace:
    """Time as the scheduler sees it, set by hand."""

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


@pytest.fixture
def scheduled_oracle(tmp_path):
    def make(pace, first_rung=0):
        return _scheduled_oracle(pace, first_rung, tmp_path)
    return make


def _scheduled_oracle(pace, first_rung, directory):
    from automl.oracles import make_oracle, objective_for

    oracle = make_oracle("random", objective_for("val_accuracy"), 1, None, 20, [],
                         {"rungs": [2, 7, 20], "fraction": 0.5, "first_rung": first_rung})
    oracle.hyperparameters.Int("width", 1, 1000)
    oracle._set_project_dir(str(directory), "search")
    oracle.pace = pace
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
    # Finishing the best (1 s + 18 epochs x 2 s) plus a new configuration (10 s) needs 47 s.
    pace.left = 46.0
    values = oracle.create_trial("tuner0").hyperparameters.values
    assert values["tuner/trial_id"] == best.trial_id
    assert (values["tuner/initial_epoch"], values["tuner/epochs"], values["tuner/rung"]) == (2, 20, 2)
    pace.left = 20.0
    oracle.ongoing_trials.clear()
    values = oracle.create_trial("tuner0").hyperparameters.values
    assert values["tuner/epochs"] == 2 + 9  # only nine more epochs fit in 20 s


def test_a_retrain_runs_the_epochs_that_fit_down_to_the_trials_own_steps():
    # 12 best epochs, 2 s per train+val epoch as measured (a retrain takes about 80%
    # of that), 1 s to build; train+val is 1.2x train.
    assert budget.retrain_epochs(12, 2.0, 1.0, 100.0, 1.2) == 12
    assert budget.retrain_epochs(12, 2.0, 1.0, 17.0, 1.2) == 10   # 10 epochs = 12 on train
    assert budget.retrain_epochs(12, 2.0, 1.0, 15.0, 1.2) == 0    # 9 would be fewer steps
    assert budget.retrain_epochs(12, 2.0, 1.0, math.inf, 1.2) == 12


def test_the_ensemble_reserve_covers_the_members_selection_picks():
    from types import SimpleNamespace

    from automl.search import SearchTuner

    estimates = {"a": 30.0, "b": 20.0, "c": 10.0, "d": 500.0}
    tuner = SimpleNamespace(
        selected_members=lambda: (["a", "b", "c"], None),  # "d" ranks higher but is not chosen
        retrain_estimate=estimates.get)
    assert SearchTuner.members_retrain_estimate(tuner) == 60.0
