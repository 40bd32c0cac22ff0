"""The budget planner, successive halving and time accounting, on a fake clock."""

import math
from types import SimpleNamespace

import pytest

from automl.runtime.timing import PhaseClock
from automl.tuning import costs, planner
from automl.tuning.budget import Budget
from automl.tuning.planner import Planner, Rung
from automl.tuning.probe import Probe
from automl.tuning.scheduler import continuation, promotion


def test_rungs_count_examples_and_the_top_one_trains_the_whole_split():
    assert planner.plan_rungs(20, 0.0, 0.0, None) == [Rung(2), Rung(7), Rung(20)]
    assert planner.plan_rungs(12, 0.0, 0.0, None) == [Rung(4), Rung(12)]
    assert planner.plan_rungs(2, 0.0, 0.0, None) == [Rung(2)]
    # 10 s epochs in a 300 s budget: one configuration may train 180 s, 5 s of it building.
    assert planner.plan_rungs(20, 10.0, 5.0, 300) == [Rung(2), Rung(6), Rung(17)]
    assert planner.plan_rungs(20, 1.0, 1.0, 300) == [Rung(2), Rung(7), Rung(20)]
    # One epoch costs more than the budget allows a configuration: one epoch, then less.
    rungs = planner.plan_rungs(20, 400.0, 5.0, 300)
    assert rungs[-1] == Rung(1) and all(r.fraction < 1 for r in rungs[:-1])
    assert all(a.passes < b.passes for a, b in zip(rungs, rungs[1:]))


def test_an_epoch_at_13_percent_of_the_budget_gives_rungs_that_end_on_the_whole_split():
    # The measured case: 39 s per epoch of the first configuration, a 300 s budget.
    rungs = planner.plan_rungs(20, 39.0, 4.0, 300)
    assert len(rungs) >= 2
    assert rungs[-1].fraction == 1.0 and rungs[-1].epochs >= 3
    assert rungs[0].passes <= rungs[-1].passes / 3
    first = planner.first_rung(rungs, lambda r: 4.0 + r.passes * 39.0, 300)
    assert rungs[first].fraction == 1.0  # the first trial trains the whole split
    assert 4.0 + rungs[first].passes * 39.0 <= planner.FIRST_TRIAL_SHARE * 300


def test_the_first_trial_never_trains_on_a_share_even_when_nothing_fits():
    rungs = [Rung(1, 0.33), Rung(1), Rung(3)]
    assert planner.first_rung(rungs, lambda r: 1e6, 300) == 1
    assert planner.first_rung(rungs, lambda r: r.passes, None) == 1


def test_a_retrain_from_scratch_is_reserved_only_when_it_is_worth_its_share():
    assert planner.finishing_reserve(4, 1, 20) == pytest.approx(4 + 1 + 22)
    assert planner.retrain_from_scratch(75, 300)
    assert not planner.retrain_from_scratch(76, 300)
    assert planner.retrain_from_scratch(1e6, None)


def test_trial_deadline_caps_slow_trials_but_not_the_first():
    now = 1000.0
    assert planner.trial_deadline(now, now + 200, 10, 300) == now + 30
    assert planner.trial_deadline(now, now + 200, 1, 300) == now + 30  # at least 10% of budget
    assert planner.trial_deadline(now, now + 20, 10, 300) == now + 20  # never past the search
    assert planner.trial_deadline(now, now + 5, 100, 300, first_minimum=10) == now + 10
    assert planner.trial_deadline(now, now + 50, 100, 300, first_minimum=10) == now + 50
    assert planner.trial_deadline(now, now + 5, 10, None) == math.inf


def test_minimum_budget():
    assert planner.minimum_budget(10, 5, 3) == 22


def test_a_retrain_from_scratch_runs_the_trials_epochs_or_none():
    # 12 best epochs, 2 s per train+val epoch as measured (a retrain takes about 90%
    # of that), 1 s to build.
    assert planner.retrain_epochs(12, 2.0, 1.0, 100.0) == 12
    assert planner.retrain_epochs(12, 2.0, 1.0, 22.5) == 12   # 22.5 / 0.9 - 1 = 24 s: 12 fit
    assert planner.retrain_epochs(12, 2.0, 1.0, 19.0) == 0    # 11 fit: fewer than the trial's
    assert planner.retrain_epochs(12, 2.0, 1.0, math.inf) == 12


def test_a_retrain_less_sure_than_its_search_model_is_not_exported(tmp_path):
    from types import SimpleNamespace as Fake

    from automl.pipeline.retraining import healthy
    from automl.tuning.trial_files import TrialFiles

    files = TrialFiles(str(tmp_path))
    files.keep_history("0", {"val_loss": [0.9, 0.4, 0.5]}, None, 0)
    best = Fake(trial_id="0", score=1.0, hyperparameters=None,
                metrics=Fake(get_last_value=lambda name: 2))  # best at epoch 2: val loss 0.4
    tuner = Fake(oracle=Fake(objective=Fake(name="val_accuracy", direction="max")),
                 feeds=Fake(pipeline=lambda *args, **kwargs: None), batch_size=lambda hp: 8,
                 files=files)

    def retrained(accuracy, loss):
        return Fake(evaluate=lambda *args, **kwargs: {"accuracy": accuracy, "loss": loss})

    assert healthy(tuner, retrained(1.0, 0.3), best)
    assert not healthy(tuner, retrained(1.0, 0.45), best)  # as accurate, but less sure
    assert not healthy(tuner, retrained(0.9, 0.1), best)   # surer, but less accurate


def test_a_continued_trial_is_planned_to_the_top_rung_or_as_far_as_time_allows():
    # From epoch 2 to the top rung at 7, 10 s per epoch, 0.9 of the estimate used.
    assert planner.continued_epochs(2, 7, 10.0, 0.0, 45.0) == 7       # 5 epochs fit
    assert planner.continued_epochs(2, 7, 10.0, 0.0, 90.0) == 12      # 10 epochs fit
    assert planner.continued_epochs(2, 7, 10.0, 0.0, 27.0) == 7       # 3 fit: still planned to 7
    assert planner.continued_epochs(2, 7, 10.0, 0.0, 8.0) == 0        # not one epoch fits
    assert planner.continued_epochs(2, 7, 10.0, 0.0, math.inf) == 7


def test_calibrated_costs_follow_the_measured_rate():
    measured = [(10e6, 0.002)]  # 10 M cost units took 2 ms per example
    rate = 0.002 / (10e6 + costs.COST_OFFSET)
    assert costs.calibrated_seconds(40e6, measured) == pytest.approx(rate * (40e6 + costs.COST_OFFSET))
    assert costs.calibrated_seconds(None, measured) is None
    assert costs.calibrated_seconds(1e6, []) is None


class FakeClock:
    def __init__(self, now=1000.0):
        self.value = now

    def __call__(self):
        return self.value


class FakeMetrics:
    def __init__(self, **values):
        self.values = values

    def exists(self, name):
        return name in self.values

    def get_last_value(self, name):
        return self.values.get(name)


def fake_trial(trial_id, score, values=None, **metrics):
    return SimpleNamespace(trial_id=trial_id, score=score, status="COMPLETED",
                           hyperparameters=SimpleNamespace(values=dict(values or {})),
                           metrics=FakeMetrics(**metrics))


class FakeSelection:
    def __init__(self, trials=(), chance_score=None):
        self.trials = list(trials)
        self.chance_score = chance_score  # a score at or below it is at chance

    def above_chance(self, trial):
        return self.chance_score is None or trial.score > self.chance_score

    def completed(self):
        return self.trials

    def ranked(self):
        return sorted(self.trials, key=lambda t: -t.score)

    def best(self):
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def final(self):
        return self.best()

    def members(self):
        return self.ranked()[:1]

    def get(self, trial_id):
        return next((t for t in self.trials if t.trial_id == trial_id), None)


def make_planner(clock, trials=(), budget=300.0, epoch_seconds=39.0, cost=None):
    """A search of 10,000 training and 2,000 val examples whose probe trains an epoch in `epoch_seconds`."""
    train, val = 10000, 2000
    per_example = epoch_seconds / (train + val / 3)
    probe = Probe(build_seconds=4.0, example_seconds=per_example, train_examples=train,
                  val_examples=val, test_examples=2000)
    settings = SimpleNamespace(time_budget=budget, epochs=None)
    made = Planner(Budget(budget, clock()), probe, settings, 20, 1, train, val,
                   FakeSelection(trials), cost=cost or (lambda values: values.get("cost")),
                   known_good=[{"cost": 10e6}], now=clock)
    made.schedule()
    return made


def test_the_planner_schedules_the_measured_case_and_refuses_what_it_cannot_afford():
    clock = FakeClock()
    plan = make_planner(clock)
    schedule = plan.schedule()
    rungs, first = schedule["rungs"], schedule["first_rung"]
    assert len(rungs) >= 2 and rungs[-1].fraction == 1.0
    assert rungs[first].fraction == 1.0
    assert plan.skip_reason({"cost": 10e6}) is None          # the probe's own configuration
    assert plan.skip_reason({"cost": 5e6}) is None           # cheaper
    reason = plan.skip_reason({"cost": 40e6})                # three times the probe's cost
    assert reason and f"{rungs[-1].epochs} epochs" in reason
    assert plan.skip_reason({"cost": 40e6}, first=True) is None  # a search's first always trains
    assert plan.skip_reason({}) is None                      # unknown cost: never skipped


def test_measured_trials_replace_the_estimate_of_their_architecture():
    clock = FakeClock()
    # The costly architecture turned out to train as fast as the probe's.
    trial = fake_trial("0", 0.8, {"cost": 40e6, "tuner/epochs": 1}, epoch_seconds=39.0,
                       fit_seconds=39.0, epochs_run=1, trial_seconds=43.0, best_epoch=1)
    plan = make_planner(clock, [trial])
    assert plan.skip_reason({"cost": 40e6}) is None
    assert plan.costs.seconds({"cost": 40e6}) == pytest.approx(39.0 / (10000 + 2000 / 3))


def test_an_expensive_best_trial_is_finished_in_the_retrain_on_train_and_val():
    clock = FakeClock()
    trial = fake_trial("0", 0.8, {"cost": 10e6, "tuner/epochs": 1, "tuner/fraction": 1.0},
                       epoch_seconds=39.0, fit_seconds=39.0, epochs_run=1, trial_seconds=43.0,
                       best_epoch=1, examples_seen=10000)
    plan = make_planner(clock, [trial])
    top = plan.top.epochs
    assert plan.finishes_in_retrain(trial)       # retraining from scratch would cost too much
    mode, initial, epochs = plan.retrain_plan(trial, 250.0)
    assert (mode, initial) == ("continued", 1) and epochs >= top
    assert plan.retrain_plan(trial, 10.0) == (None, 0, 0)
    # The search keeps back the continuation to the top rung, export and evaluation.
    assert plan.search_deadline() < clock() + 300 - (top - 1) * 39.0 * planner.RETRAIN_FIT_SHARE
    # As one member of an ensemble it is kept only the time to reach the top rung.
    to_top = plan.overhead_seconds() + planner.RETRAIN_FIT_SHARE * (top - 1) * 39.0 * plan.retrain_growth()
    assert plan.continued_retrain_estimate(trial, alone=False) == pytest.approx(to_top)
    assert plan.continued_retrain_estimate(trial) > to_top
    # One epoch of it costs the budget once: it is not trained twice.
    assert plan.continue_epoch_seconds(trial) == 39.0


def test_a_cheap_best_trial_is_retrained_from_scratch():
    clock = FakeClock()
    # Early stopping ended it at epoch 19, three epochs after its best.
    trial = fake_trial("0", 0.8, {"cost": 10e6, "tuner/epochs": 20}, epoch_seconds=2.0,
                       fit_seconds=38.0, epochs_run=19, trial_seconds=40.0, best_epoch=16,
                       converged=1.0)
    plan = make_planner(clock, [trial], epoch_seconds=2.0)
    assert plan.top == Rung(20)
    assert not plan.finishes_in_retrain(trial)
    assert plan.retrain_plan(trial, 100.0) == ("fresh", 0, 16)  # its best epoch count
    # Where that does not fit, the trial's own weights continue in the time there is.
    mode, initial, epochs = plan.retrain_plan(trial, 20.0)
    assert (mode, initial) == ("continued", 16) and epochs > 16
    assert plan.retrain_plan(trial, 1.0) == (None, 0, 0)
    assert plan.continue_epoch_seconds(trial) == pytest.approx(2.0 * (1 + 1.2))
    # The reserve keeps what the retrain is expected to take (its estimate times the
    # share a retrain uses), with the reserve's margin on top.
    export, evaluate = plan.finishing_estimates()
    assert plan.finishing_reserve() == pytest.approx(
        export + evaluate + 1.1 * planner.RETRAIN_FIT_SHARE * plan.fresh_retrain_estimate(trial))
    # A trial scored below the top rung is retrained for the top rung's epochs.
    short = fake_trial("1", 0.8, {"cost": 10e6, "tuner/epochs": 7}, epoch_seconds=2.0,
                       fit_seconds=14.0, epochs_run=7, trial_seconds=16.0, best_epoch=6)
    assert plan.retrain_plan(short, 100.0) == ("fresh", 0, 20)
    # Unless early stopping ended it: it had stopped improving at its best epoch.
    stopped = fake_trial("2", 0.8, {"cost": 10e6, "tuner/epochs": 7}, epoch_seconds=2.0,
                         fit_seconds=10.0, epochs_run=5, trial_seconds=12.0, best_epoch=3,
                         converged=1.0)
    assert plan.retrain_plan(stopped, 100.0) == ("fresh", 0, 3)


def test_a_retrain_from_scratch_of_a_trial_still_improving_trains_until_its_deadline():
    clock = FakeClock()
    plan = make_planner(clock, epoch_seconds=2.0)
    improving = fake_trial("0", 0.8, {"cost": 10e6, "tuner/epochs": 20}, epoch_seconds=2.0,
                           fit_seconds=40.0, epochs_run=20, trial_seconds=42.0, best_epoch=20)
    assert plan.retrains_by_clock(improving, "fresh")
    # A promoted trial counts the epochs of its parent: its best was its last.
    promoted = fake_trial("1", 0.8, {"cost": 10e6, "tuner/epochs": 20, "tuner/initial_epoch": 7},
                          epoch_seconds=2.0, fit_seconds=26.0, epochs_run=13, trial_seconds=28.0,
                          best_epoch=20)
    assert plan.retrains_by_clock(promoted, "fresh")
    # Past its best, or ended by early stopping: the trial's best epoch count.
    peaked = fake_trial("2", 0.8, {"cost": 10e6, "tuner/epochs": 20}, epoch_seconds=2.0,
                        fit_seconds=40.0, epochs_run=20, trial_seconds=42.0, best_epoch=18)
    stopped = fake_trial("3", 0.8, {"cost": 10e6, "tuner/epochs": 20}, epoch_seconds=2.0,
                         fit_seconds=10.0, epochs_run=5, trial_seconds=12.0, best_epoch=2,
                         converged=1.0)
    assert not plan.retrains_by_clock(peaked, "fresh")
    assert not plan.retrains_by_clock(stopped, "fresh")
    assert plan.retrains_by_clock(stopped, "continued")
    # At chance it had learned nothing yet, so its best epoch says nothing.
    at_chance = make_planner(clock, epoch_seconds=2.0)
    at_chance.selection = FakeSelection(chance_score=0.8)
    assert at_chance.retrains_by_clock(stopped, "fresh")
    assert at_chance.retrains_by_clock(peaked, "fresh")
    # Exported alone, it is kept at least the final share of the budget, as a
    # continued export is; one past its best, or an ensemble's member, its estimate.
    assert plan.reserved_retrain(improving) == pytest.approx(planner.FINAL_SHARE * 300.0)
    assert plan.reserved_retrain(improving, alone=False) == pytest.approx(
        planner.RETRAIN_FIT_SHARE * plan.fresh_retrain_estimate(improving))
    assert plan.reserved_retrain(stopped) == pytest.approx(
        planner.RETRAIN_FIT_SHARE * plan.fresh_retrain_estimate(stopped))
    # The reserve is the chosen trial's alone: another scored alike that would train
    # by the clock is not kept time for (were it chosen later, it takes the time there is).
    tied = make_planner(clock, [improving, stopped], epoch_seconds=2.0)
    tied.selection.final = lambda: stopped
    export, evaluate = tied.finishing_estimates()
    assert tied.finishing_reserve() == pytest.approx(
        export + evaluate + planner.RESERVE_MARGIN * planner.RETRAIN_FIT_SHARE
        * tied.fresh_retrain_estimate(stopped))
    # --epochs caps training, and without a budget there is no deadline to train to.
    plan.settings.epochs = 20
    assert not plan.retrains_by_clock(improving, "fresh")
    assert not make_planner(clock, budget=None).retrains_by_clock(improving, "fresh")


def test_an_ensemble_reserves_each_members_retrain_once():
    clock = FakeClock()
    trials = [fake_trial(str(i), 0.8 - i / 100, {"cost": 10e6, "tuner/epochs": 20},
                         epoch_seconds=2.0, fit_seconds=40.0, epochs_run=20, trial_seconds=50.0,
                         best_epoch=16) for i in range(3)]
    plan = make_planner(clock, trials, epoch_seconds=2.0)
    plan.ensemble_size = 3
    plan.selection.members = lambda: trials
    # Each member's retrain from scratch: a trial's overhead (10 s: building, tracing,
    # saving) and 16 epochs of 2 s on train+val (1.2 times train): 48.4 s, of which a
    # retrain takes 90%.
    assert [plan.fresh_retrain_estimate(t) for t in trials] == pytest.approx([48.4] * 3)
    # Exporting three members takes 1 + 0.5 x 3 x 4 s of building; evaluating them
    # 3 x (0.5 + 0.2 x 4 s + 2,000 test examples at a third of 0.1875 ms).
    assert plan.finishing_estimates(3) == pytest.approx((7.0, 4.275))
    # Selection only builds each member and loads its weights: 3 x 0.25 x 10 s. The
    # three retrains (3 x 0.9 x 48.4 s) are reserved once each, with a 10% margin.
    assert plan.finishing_reserve() == pytest.approx(7.5 + 7.0 + 4.275 + 1.1 * 3 * 43.56)
    assert plan.finishing_reserve() == pytest.approx(162.523)


def test_trials_stop_when_only_the_finish_fits():
    clock = FakeClock()
    trial = fake_trial("0", 0.8, {"cost": 10e6, "tuner/epochs": 1, "tuner/rung": 0},
                       epoch_seconds=39.0, fit_seconds=39.0, epochs_run=1, trial_seconds=45.0,
                       best_epoch=1, examples_seen=10000)
    plan = make_planner(clock, [trial])
    assert plan.time_for_another_trial()
    clock.value = plan.search_deadline() - 44.0  # less than a new configuration takes
    assert not plan.time_for_another_trial()


def test_the_shortest_budget_pays_for_the_first_trials_whole_epoch_and_the_export():
    # A large data set: an epoch of the whole training split takes 120 s, building 4 s.
    clock = FakeClock()
    probe = make_planner(clock, epoch_seconds=120.0).probe
    # 10 s of start-up, the first trial's 124 s, 3 s of export and 8.8 s of
    # evaluation, with a 20% margin (an epoch on a tenth of the split would say 54 s).
    assert planner.probe_minimum_budget(probe, 10.0) == 175
    # Each LiteRT file adds its conversion and its check on the test split.
    assert planner.probe_minimum_budget(probe, 10.0, litert_files=1) == 212
    plan = make_planner(clock, budget=175, epoch_seconds=120.0)
    schedule = plan.schedule()
    assert schedule["rungs"][schedule["first_rung"]] == Rung(1)
    first = fake_trial("0", None, {"cost": 10e6, "tuner/epochs": 1, "tuner/fraction": 1.0})
    clock.value += 10.0  # start-up
    deadline = plan.deadline_for(first, first=True)
    export, evaluate = plan.finishing_estimates()
    assert deadline >= clock() + probe.trial_seconds(1)    # its epoch fits
    assert deadline + export + evaluate <= plan.budget.end + 1e-9  # and the export after it
    # Where the budget cannot hold that epoch (a resumed search's last minute), the
    # first trial is cut when only the export still fits.
    short = make_planner(clock, budget=60, epoch_seconds=120.0)
    clock.value += 10.0
    deadline = short.deadline_for(first, first=True)
    assert deadline == pytest.approx(short.budget.end - export - evaluate)
    assert short.budget.end - deadline < probe.trial_seconds(1)


def fake_rung_trial(trial_id, score, rung=0, parent=None, status="COMPLETED"):
    values = {"x": trial_id, "tuner/rung": rung, "tuner/epochs": [2, 7, 20][rung]}
    if parent:
        values["tuner/trial_id"] = parent
    return SimpleNamespace(trial_id=trial_id, score=score, status=status,
                           hyperparameters=SimpleNamespace(values=values), metrics=FakeMetrics())


def test_promotion_takes_the_best_of_every_eta_highest_rung_first():
    trials = [fake_rung_trial("0", 0.5), fake_rung_trial("1", 0.9), fake_rung_trial("2", 0.7)]
    assert promotion(trials[:2], top_rung=2) is None  # fewer than eta at the rung
    assert promotion(trials, top_rung=2).trial_id == "1"
    assert promotion(trials, top_rung=2, maximize=False).trial_id == "0"
    trials.append(fake_rung_trial("3", 0.8, rung=1, parent="1", status="RUNNING"))
    assert promotion(trials, top_rung=2) is None  # "1" is continued already
    trials += [fake_rung_trial("4", 0.95), fake_rung_trial("5", 0.1), fake_rung_trial("6", 0.2)]
    assert promotion(trials, top_rung=2).trial_id == "4"  # top 2 of 6 at rung 0
    rung1 = [fake_rung_trial(str(i), s, rung=1, parent=f"p{i}") for i, s in ((7, .6), (8, .9), (9, .7))]
    assert promotion(trials + rung1, top_rung=2).trial_id == "8"  # higher rung first
    assert promotion(rung1, top_rung=1) is None  # the top rung is final


def test_a_continuation_resumes_where_its_parent_stopped():
    parent = fake_rung_trial("3", 0.9, rung=1)
    values = continuation(parent, 20, 2)
    assert values["tuner/trial_id"] == "3" and values["x"] == "3"
    assert (values["tuner/initial_epoch"], values["tuner/epochs"], values["tuner/rung"]) == (7, 20, 2)
    assert values["tuner/fraction"] == 1.0


def test_a_continuation_of_a_share_of_the_split_trains_whole_epochs_to_its_rung():
    parent = fake_trial("0", 0.5, {"tuner/epochs": 1, "tuner/fraction": 0.33, "tuner/rung": 0},
                        best_epoch=1)
    values = continuation(parent, 2, 1)
    # A third of an epoch is no whole epoch: the continuation trains both epochs in full.
    assert (values["tuner/initial_epoch"], values["tuner/epochs"]) == (0, 2)
    # A trial whose best epoch came early continues from the weights it kept.
    early = fake_trial("1", 0.7, {"tuner/epochs": 7, "tuner/rung": 1}, best_epoch=5)
    assert continuation(early, 20, 2)["tuner/initial_epoch"] == 5


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


def test_each_ensemble_member_leaves_the_time_the_members_after_it_need(monkeypatch):
    from automl.pipeline import retraining

    needs = {"a": 10.0, "b": 30.0, "c": 60.0}
    kept = []

    def fake_retrain(tuner, trial, settings, progress, kept_back=0.0, members=1):
        kept.append(kept_back)
        assert members == 3  # each retrain's deadline leaves room to export all three
        return retraining.Retrained(model=None)

    monkeypatch.setattr(retraining, "retrain", fake_retrain)
    planner = SimpleNamespace(reserved_retrain=lambda t, alone=True: needs[t.trial_id])
    members = [SimpleNamespace(trial_id=i) for i in "abc"]
    retraining.retrain_members(SimpleNamespace(planner=planner), members, ["ma", "mb", "mc"],
                             None, None)
    # What the later members are expected to take, with the reserve's margin.
    assert kept == pytest.approx([99.0, 66.0, 0.0])


def test_a_trials_epoch_time_leaves_the_first_epochs_tracing_to_its_overhead():
    from automl.tuning.tuner import Fit

    fitted = Fit(None, {}, 14.0, False, 0, [8.0, 2.0, 2.2, 1.8])
    assert fitted.steady_epoch_seconds() == pytest.approx(2.0)
    assert fitted.trace_seconds() == pytest.approx(6.0)
    assert Fit(None, {}, 5.0, False, 0, [5.0]).trace_seconds() == 0.0
    trial = fake_trial("0", 0.8, {"cost": 10e6, "tuner/epochs": 4}, epoch_seconds=2.0,
                       fit_seconds=14.0, epochs_run=4, trial_seconds=20.0, trace_seconds=6.0,
                       best_epoch=4)
    plan = make_planner(FakeClock(), [trial], epoch_seconds=2.0)
    assert plan.overhead_seconds() == pytest.approx(12.0)  # building and saving 6 s, tracing 6 s


def test_litert_files_are_reserved_per_file_with_the_saved_model_scored_once():
    clock = FakeClock()
    plan = make_planner(clock, epoch_seconds=2.0)
    export, evaluate = plan.finishing_estimates()
    plan.settings.export = "tflite:none,int8"
    two = plan.finishing_estimates()[0] - export
    plan.settings.export = "tflite"
    one = plan.finishing_estimates()[0] - export
    assert plan.finishing_estimates()[1] == evaluate
    # A converter process per file, and each file scores the 2,000 test examples one at a time.
    per_file = two - one
    assert planner.LITERT_CONVERT_SECONDS < per_file < planner.LITERT_CONVERT_SECONDS + 1.0
    assert one == pytest.approx(evaluate + per_file)
