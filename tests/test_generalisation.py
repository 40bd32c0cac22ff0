"""A search that generalises by design (issue 40): rungs long enough to learn on tiny
sets, no promotion decided by chance-level scores, and an export never below the best
trial on validation."""

from types import SimpleNamespace

import numpy as np

from automl.tuning.selection import Selection


def _trial(trial_id, score, epochs=4, parameters=10):
    metrics = {"parameters": parameters}
    return SimpleNamespace(
        trial_id=trial_id, score=score, status="COMPLETED",
        hyperparameters=SimpleNamespace(values={"tuner/epochs": epochs}),
        metrics=SimpleNamespace(exists=metrics.__contains__, get_last_value=metrics.get))


def _selection(trials, size=1, probabilities=None, labels=np.zeros(100)):
    oracle = SimpleNamespace(trials={t.trial_id: t for t in trials})
    objective = SimpleNamespace(name="val_accuracy", direction="max")
    return Selection(lambda: oracle, objective, labels, size,
                     val_probabilities=lambda t: probabilities[t.trial_id])


def test_the_export_is_the_best_validation_score_whatever_its_rung_or_size():
    # The text case of issue 40: a promoted trial cut at 5 epochs scored 0.756, a
    # smaller one at the top rung 0.718; the export must be the better one.
    trials = [_trial("top", 0.718, epochs=12, parameters=10),
              _trial("cut", 0.756, epochs=5, parameters=10**6)]
    assert _selection(trials).final().trial_id == "cut"
    # Ties: the trial that trained furthest, then the smaller model.
    tied = [_trial("short", 0.8, epochs=2), _trial("long", 0.8, epochs=6, parameters=99),
            _trial("long-small", 0.8, epochs=6, parameters=9)]
    assert _selection(tied).final().trial_id == "long-small"


def test_an_ensemble_is_exported_only_where_it_beats_the_best_trial_on_validation():
    labels = np.array([0, 0, 1, 1])
    first = np.array([[0.6, 0.4], [0.6, 0.4], [0.4, 0.6], [0.55, 0.45]])  # wrong on the last
    # Surer of the same answers: a lower log loss of the average, the same accuracy.
    surer = np.array([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9], [0.6, 0.4]])
    # Wrong on the second only: the average is right everywhere.
    other = np.array([[0.9, 0.1], [0.45, 0.55], [0.1, 0.9], [0.1, 0.9]])
    trials = [_trial("first", 0.75), _trial("second", 0.74)]

    alike = _selection(trials, 2, {"first": first, "second": surer}, labels)
    members, probabilities = alike.members_and_probabilities()
    assert [t.trial_id for t in members] == ["first"] and probabilities is None

    better = _selection(trials, 2, {"first": first, "second": other}, labels)
    members, probabilities = better.members_and_probabilities()
    assert [t.trial_id for t in members] == ["first", "second"]
