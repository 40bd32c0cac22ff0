"""Choosing what to export, on fixed scores: ensemble selection, chance level, the learning-rate schedule and the cost of proposals."""

import math

import numpy as np
import pytest

from automl import problems
from automl.problems.scores import log_loss
from automl.tuning.ensemble import select, temperature, with_temperature


def test_ensemble_selection_never_lowers_validation_accuracy():
    labels = np.array([0, 0, 1, 1])
    probabilities = {
        "first": np.array([[0.6, 0.4], [0.6, 0.4], [0.4, 0.6], [0.4, 0.6]]),
        # Confident on three examples, wrong on one: it lowers the log loss of the
        # average but flips an answer.
        "sharp": np.array([[0.99, 0.01], [0.2, 0.8], [0.01, 0.99], [0.01, 0.99]]),
    }
    assert select("first", ["first", "sharp"], probabilities, labels, 2) == ["first"]


def test_near_chance_is_judged_against_a_model_that_learned_nothing():
    classification = problems.get("classification")
    assert classification.baseline(None, np.array([0, 0, 0, 1]), {"accuracy": 1.0})[0] == 0.75
    thirds = np.arange(300) % 3
    assert classification.baseline(None, thirds, {"accuracy": 0.34})[1]
    assert not classification.baseline(None, thirds, {"accuracy": 0.9})[1]
    halves = np.arange(10**6) % 2
    assert classification.baseline(None, halves, {"accuracy": 0.52})[1]  # within five points

    regression = problems.get("regression")
    train, test = np.array([0.0, 10.0]), np.array([0.0, 10.0, 5.0])
    mae, near = regression.baseline(train, test, {"mae": 3.2})  # the mean 5 is 10/3 off
    assert mae == pytest.approx(10 / 3) and near
    assert not regression.baseline(train, test, {"mae": 1.0})[1]

    multilabel = problems.get("multilabel")
    y = np.array([[1, 0], [1, 1], [1, 0], [0, 1]], dtype="float32")
    figure, near = multilabel.baseline(y, y, {"micro_f1": 0.7})
    assert figure == pytest.approx(2 * 5 / (8 + 5))  # both labels for all: P 5/8, R 1
    assert near


@pytest.fixture(scope="module")
def keras():
    from automl.runtime import env

    return env.import_tensorflow()[1]


def test_the_schedule_warms_up_decays_and_continues_where_it_stood(keras):
    import keras_tuner as kt

    from automl.tuning.space import TrainingPlan, learning_rate

    hp = kt.HyperParameters()
    hp.values.update({"optimizer/learning_rate": 0.01, "optimizer/schedule": "cosine"})
    fresh = learning_rate(hp, keras, TrainingPlan(steps_per_epoch=10, epochs=10))
    assert float(fresh(0)) == pytest.approx(0.001)      # warm-up starts at a tenth
    assert float(fresh(10)) == pytest.approx(0.01)      # the peak after 10% of the steps
    assert float(fresh(100)) == pytest.approx(0.0, abs=1e-6)
    later = learning_rate(hp, keras, TrainingPlan(steps_per_epoch=20, epochs=10, initial_epoch=5))
    # A continued model (fresh optimizer) warms up to where the cosine stood, half way down.
    assert float(later(0)) == pytest.approx(0.0005)
    assert float(later(5)) == pytest.approx(0.005)
    assert float(later(100)) == pytest.approx(0.0, abs=1e-6)
    hp.values["optimizer/schedule"] = "constant"
    assert learning_rate(hp, keras, TrainingPlan()) == 0.01


def test_a_timed_schedule_warms_up_then_decays_to_zero_at_its_deadline():
    from automl.tuning.space import RESUME_WARMUP_SHARE, WARMUP_SHARE, timed_rate

    assert timed_rate(0.01, 0.0) == pytest.approx(0.001)
    assert timed_rate(0.01, RESUME_WARMUP_SHARE / 2) == pytest.approx(0.0055)
    assert timed_rate(0.01, RESUME_WARMUP_SHARE) == pytest.approx(
        0.01 * 0.5 * (1 + math.cos(math.pi * RESUME_WARMUP_SHARE)))
    assert timed_rate(0.01, 0.5) == pytest.approx(0.005)
    assert timed_rate(0.01, 1.0) == pytest.approx(0.0, abs=1e-12)
    # A model trained from scratch by the clock warms up over the longer share.
    assert timed_rate(0.01, WARMUP_SHARE / 2, WARMUP_SHARE) == pytest.approx(0.0055)
    assert timed_rate(0.01, RESUME_WARMUP_SHARE, WARMUP_SHARE) < timed_rate(0.01, RESUME_WARMUP_SHARE)


@pytest.mark.parametrize("budget", [60.0, None])
def test_bayesian_proposals_give_way_to_random_ones_while_trials_are_short(monkeypatch, budget):
    from types import SimpleNamespace

    from automl.tuning.oracles import BoundedBayesianOptimizationOracle, make_oracle, objective_for

    planner = SimpleNamespace(budget_seconds=budget, skip_reason=lambda values, first=False: None)
    oracle = make_oracle("bayesian", objective_for("val_accuracy"), 1, 10, 2, [], None,
                         planner=planner)
    oracle.hyperparameters.Float("x", 0.0, 1.0)
    calls = []
    monkeypatch.setattr(BoundedBayesianOptimizationOracle, "populate_space",
                        lambda self, trial_id: calls.append(trial_id) or {"status": "RUNNING",
                                                                         "values": {"x": 0.5}})
    response = oracle.populate_space("00")
    assert response["status"] == "RUNNING"
    if budget is None:  # without a budget measured time never decides: the model proposes
        assert calls == ["00"]
        return
    assert calls == []  # no trial time yet: random
    oracle._proposals_too_costly = lambda: False
    assert oracle.populate_space("01")["values"] == {"x": 0.5} and calls == ["01"]


def test_a_bayesian_proposal_predicts_once_and_lies_in_the_space(tmp_path):
    import keras_tuner as kt

    from automl.tuning.oracles import BoundedBayesianOptimizationOracle

    oracle = BoundedBayesianOptimizationOracle(objective=kt.Objective("score", "max"),
                                               max_trials=40, num_initial_points=3, seed=1)
    oracle._set_project_dir(str(tmp_path), "search")
    for name in "abcdefghij":
        oracle.hyperparameters.Float(name, 0.0, 1.0)
    oracle.hyperparameters.Choice("kind", ["p", "q", "r"])
    for _ in range(12):
        trial = oracle.create_trial("tuner0")
        values = trial.hyperparameters.values
        oracle.update_trial(trial.trial_id, {"score": -sum((values[n] - 0.3) ** 2 for n in "abcdefghij")})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    predict, calls = oracle.gpr.predict, []
    oracle.gpr.predict = lambda *a, **k: calls.append(1) or predict(*a, **k)
    response = oracle.populate_space("12")
    assert len(calls) == 1  # keras-tuner's own acquisition calls it thousands of times
    assert response["status"] == "RUNNING"
    assert all(0.0 <= response["values"][n] <= 1.0 for n in "abcdefghij")
    assert response["values"]["kind"] in ("p", "q", "r")


def test_ensemble_selection_takes_the_best_step_that_keeps_accuracy():
    labels = np.array([0, 0, 1, 1])
    probabilities = {
        "first": np.array([[0.6, 0.4], [0.6, 0.4], [0.4, 0.6], [0.4, 0.6]]),
        # Lowers the log loss most but flips an answer.
        "sharp": np.array([[0.99, 0.01], [0.2, 0.8], [0.01, 0.99], [0.01, 0.99]]),
        # Lowers it less and keeps every answer.
        "steady": np.array([[0.7, 0.3], [0.7, 0.3], [0.3, 0.7], [0.3, 0.7]]),
    }
    assert select("first", ["first", "sharp", "steady"], probabilities, labels, 3) == [
        "first", "steady"]


def test_temperature_scaling_calms_an_overconfident_model_without_changing_its_answers():
    rng = np.random.RandomState(0)
    labels = rng.randint(0, 2, 400)
    right = rng.rand(400) < 0.8                      # 80% right ...
    predicted = np.where(right, labels, 1 - labels)
    overconfident = np.full((400, 2), 1e-6)          # ... and always sure of it
    overconfident[np.arange(400), predicted] = 1 - 1e-6
    t = temperature(overconfident, labels)
    calibrated = with_temperature(overconfident, t)
    assert t > 3
    assert log_loss(calibrated, labels) < 0.6 < log_loss(overconfident, labels)
    np.testing.assert_array_equal(calibrated.argmax(-1), predicted)
    # Calibrated probabilities are left nearly as they are.
    honest = np.stack([np.where(right, 0.8, 0.2), np.where(right, 0.2, 0.8)], axis=1)
    honest = np.where(labels[:, None] == 0, honest, honest[:, ::-1])
    assert 0.8 < temperature(honest, labels) < 1.25


def test_a_temperature_folded_into_the_head_scales_the_logits(keras):
    from automl.tuning.space import set_temperature

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax",
                                                   name="probabilities")(inputs))
    x = np.array([[1.0, -2.0, 0.5]], "float32")
    before = model.predict(x, verbose=0)
    set_temperature(model, 4.0)
    np.testing.assert_allclose(model.predict(x, verbose=0), with_temperature(before, 4.0),
                               rtol=1e-4)


def test_ensemble_members_may_come_from_any_trial():
    from types import SimpleNamespace

    from automl.tuning.selection import Selection

    def trial(trial_id, score, epochs):
        metrics = {"parameters": 10}
        return SimpleNamespace(
            trial_id=trial_id, score=score, status="COMPLETED",
            hyperparameters=SimpleNamespace(values={"tuner/epochs": epochs}),
            metrics=SimpleNamespace(exists=metrics.__contains__, get_last_value=metrics.get))

    trials = [trial("top", 0.78, 12), trial("improving", 0.80, 4), trial("second", 0.77, 12)]
    oracle = SimpleNamespace(trials={t.trial_id: t for t in trials})
    objective = SimpleNamespace(name="val_accuracy", direction="max")

    def selection(size):
        return Selection(lambda: oracle, objective, np.zeros(100), size, val_probabilities=None)

    # The best validation score leads, though its rung was lower.
    assert [t.trial_id for t in selection(3).candidates()] == ["improving", "top", "second"]
    assert [t.trial_id for t in selection(1).candidates()] == ["improving"]
