"""Choosing what to export: the final trial, and the members of an ensemble.

A read-only view of the oracle's trials. The final trial is chosen by the
one-standard-error rule among the trials that trained furthest (the highest rung
reached), so that a configuration scored after a few epochs is never compared with
one scored after many. Ensemble members are added to it by ensemble selection on
the saved validation probabilities of the trials whose training length validation
settled (`automl.tuning.ensemble`).
"""

from automl import problems
from automl.problems import objectives
from automl.tuning import ensemble
from automl.tuning.planner import converged, planned_passes
from automl.tuning.scheduler import COMPLETED, FAILED

FACT_PREFIX = "fact/"  # trial metrics that hold what a task learnt about the data


def deepest(trials):
    """The trials at the highest fidelity among `trials`."""
    if not trials:
        return []
    top = max(planned_passes(t) for t in trials)
    return [t for t in trials if planned_passes(t) >= top]


class Selection:
    """The trials of a search as selection and the planner see them.

    `oracle()` returns the search's oracle (read, never changed; None before it exists); `val_probabilities(trial)`
    a trial's saved validation probabilities; `val_labels` the validation labels;
    `trains_on(trial)` whether the export of `trial` trains on well past its trial;
    `problem` the problem type, which scores saved predictions.
    """

    def __init__(self, oracle, objective, val_labels, ensemble_size, val_probabilities,
                 trains_on=lambda trial: False, problem=problems.get("classification")):
        self._oracle, self.objective, self.problem = oracle, objective, problem
        self.val_labels, self.ensemble_size = val_labels, ensemble_size
        self.val_probabilities = val_probabilities
        self.trains_on = trains_on

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
        """`(values, facts)` of every completed trial: what `Task.trial_facts` found with it."""
        return [(t.hyperparameters.values,
                 {name[len(FACT_PREFIX):]: t.metrics.get_last_value(name)
                  for name in t.metrics.metrics if name.startswith(FACT_PREFIX)})
                for t in self.completed()]

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
        """The trial to retrain and export.

        Among the trials at the highest rung reached, the one-standard-error rule on
        accuracy: of those whose validation accuracy is within one standard error of
        the best (the binomial error of the best score on this many validation
        examples), the one with the fewest parameters; differences smaller than that
        are noise, and the smaller model generalises more reliably. Other objectives,
        and a best trial whose export trains on long after its trial (`trains_on`, a
        continuation to the top rung and beyond: the larger of two models that score
        alike gains more from it): the best of those trials.
        """
        ranked = self.ranked(deepest(self.ranked()))
        if not ranked:
            return None
        if not self.objective.name.endswith("accuracy") or self.trains_on(ranked[0]):
            return ranked[0]
        return ensemble.one_standard_error(
            [(t, t.score, t.metrics.get_last_value("parameters")) for t in ranked],
            len(self.val_labels))

    def candidates(self):
        """The final trial, then every other trial ensemble selection may add (best first).

        Selection runs on each trial's saved validation probabilities, so a weaker
        model that errs differently may join: a member may come from any trial whose
        training length validation settled, one that reached the highest rung or
        stopped improving before its rung's end. A member's retrain on train+val runs
        its trial's best epoch count; a trial scored lower down, still improving when
        its rung ended, has no epoch count that validation chose.
        """
        final = self.final()
        if final is None:
            return []
        if self.ensemble_size < 2:
            return [final]
        ranked = self.ranked()
        top = {t.trial_id for t in deepest(ranked)}
        return [final, *(t for t in ranked if t.trial_id != final.trial_id
                         and (t.trial_id in top or converged(t)))]

    def members(self):
        """The trials ensemble selection picks now (the final trial alone without an ensemble)."""
        return self.members_and_probabilities()[0]

    def members_and_probabilities(self):
        """`(trials, {id: val probabilities})`; `([final], None)` for a single model."""
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
