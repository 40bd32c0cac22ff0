"""Choosing what to export: the final trial, and the members of an ensemble.

A read-only view of the oracle's trials. The final trial is the one with the best
validation score, whatever rung it reached: nothing exported scores below it on
validation (where every score is within chance's noise, the first configuration's
best). Ensemble members are added to it by ensemble selection on the saved validation
probabilities of every other trial (`automl.tuning.ensemble`), each only where the
average's validation score does not fall below the final trial's.
"""

import numpy as np

from automl import problems
from automl.problems import objectives
from automl.tuning import ensemble
from automl.tuning.planner import planned_passes
from automl.tuning.scheduler import COMPLETED, FAILED, above_chance, choosable_trials

FACT_PREFIX = "fact/"  # trial metrics that hold what a task learnt about the data


class Selection:
    """The trials of a search as selection and the planner see them.

    `oracle()` returns the search's oracle (read, never changed; None before it exists); `val_probabilities(trial)`
    a trial's saved validation probabilities; `val_labels` the validation labels;
    `problem` the problem type, which scores saved predictions.
    """

    def __init__(self, oracle, objective, val_labels, ensemble_size, val_probabilities,
                 problem=problems.get("classification")):
        self._oracle, self.objective, self.problem = oracle, objective, problem
        self.val_labels, self.ensemble_size = val_labels, ensemble_size
        self.val_probabilities = val_probabilities

    def all(self):
        oracle = self._oracle()
        return list(oracle.trials.values()) if oracle is not None else []

    def get(self, trial_id):
        oracle = self._oracle()
        return oracle.trials.get(trial_id) if trial_id and oracle is not None else None

    def completed(self):
        return [t for t in self.all() if t.status == COMPLETED]

    def failed(self):
        return [t for t in self.all() if t.status == FAILED]

    def facts(self):
        """`(values, facts)` of every completed trial: what the task's `trial_facts` found with it."""
        return [(t.hyperparameters.values,
                 {name[len(FACT_PREFIX):]: t.metrics.get_last_value(name)
                  for name in t.metrics.metrics if name.startswith(FACT_PREFIX)})
                for t in self.completed()]

    def chance(self):
        """`(validation score of a model that learned nothing, validation examples)`.

        For accuracy, always answering the most common class; for balanced
        accuracy, one over the number of classes. None for other objectives.
        """
        name = self.objective.name.removeprefix("val_")
        labels = np.asarray(self.val_labels)
        if self.problem.name != "classification" or labels.ndim != 1 or not len(labels):
            return None
        counts = np.unique(labels, return_counts=True)[1]
        if name == "accuracy":
            return float(counts.max() / len(labels)), len(labels)
        if name == "balanced_accuracy":
            return 1.0 / len(counts), len(labels)
        return None

    def above_chance(self, trial):
        """Whether `trial`'s validation score is above chance (always, where no test applies)."""
        return above_chance(trial.score, self.chance())

    def ranked(self, trials=None):
        """Completed, scored trials (or those of `trials`), best first."""
        trials = self.completed() if trials is None else trials
        return sorted((t for t in trials if t.score is not None), key=lambda t: t.score,
                      reverse=self.objective.direction == "max")

    def best(self):
        """The completed trial with the best score, or None."""
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def final(self):
        """The trial to retrain and export: the best validation score.

        Of trials that score alike, the one that trained furthest (its score is the
        surer), then the one with fewer parameters. Where every score is within
        chance's noise, only the first configuration's trials count (`choosable`).
        """
        sign = 1 if self.objective.direction == "max" else -1
        scored = self.choosable()
        if not scored:
            return None
        return max(scored, key=lambda t: (sign * t.score, planned_passes(t),
                                          -(t.metrics.get_last_value("parameters") or 0)))

    def choosable(self):
        """The completed, scored trials the export may come from (`choosable_trials`)."""
        return choosable_trials(self.all(), self.chance())

    def candidates(self):
        """The final trial, then every other choosable trial (best first) an ensemble may add.

        Selection runs on each trial's saved validation probabilities, so a weaker
        model that errs differently may join, whatever rung it reached.
        """
        final = self.final()
        if final is None:
            return []
        if self.ensemble_size < 2:
            return [final]
        others = self.ranked(self.choosable())
        return [final, *(t for t in others if t.trial_id != final.trial_id)]

    def members(self):
        """The trials ensemble selection picks now (the final trial alone without an ensemble)."""
        return self.members_and_probabilities()[0]

    def members_and_probabilities(self):
        """`(trials, {id: val probabilities})`; `([final], None)` for a single model.

        Selection starts from the final trial, the best on validation, and adds a
        member only where the average's validation score does not fall: an ensemble
        never scores below the final trial on validation.
        """
        candidates = self.candidates()
        if len(candidates) < 2:
            return candidates, None
        trials = {t.trial_id: t for t in candidates}
        probabilities = {i: self.val_probabilities(t) for i, t in trials.items()}
        name, problem = self.objective.name, self.problem
        chosen = ensemble.select(candidates[0].trial_id, list(trials), probabilities,
                                 self.val_labels, self.ensemble_size,
                                 lambda p, y: objectives.better(name, problem.score(name, p, y)),
                                 problem.selection_loss)
        return [trials[i] for i in chosen], probabilities
