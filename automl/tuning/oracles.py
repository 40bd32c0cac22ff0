"""The keras-tuner oracles that propose trials: known-good values first, cheap proposals.

Random, Bayesian and grid search propose configurations; a task's known-good values
are proposed first. keras-tuner's Bayesian acquisition optimisation (50 scipy
restarts with numeric gradients over a scikit-learn Gaussian process) can take
longer than the trials themselves; here the upper confidence bound is instead
evaluated on a few thousand random candidates in one vectorised call, and Bayesian
optimisation is used only while its proposals cost a small share of the search
(otherwise a random proposal is made; only under a time budget, so that without one
the same seed gives the same sequence). Under a time budget, a configuration the
planner (`automl.tuning.planner`) says cannot reach the top rung in its share of the
budget is skipped before it trains (never the search's first), and the skips are
counted. No configuration is proposed twice, whichever rung it was tried at. Under
successive halving (see `automl.tuning.scheduler`) the oracle also promotes trials;
Hyperband keeps its own brackets. Every oracle writes its state atomically.
"""

import os
import time

import keras_tuner as kt
import numpy as np

from automl.adapters import keras_tuner as kt_private
from automl.problems import objectives
from automl.runtime.files import write_json
from automl.tuning.scheduler import (COMPLETED, RUNNING, STOPPED, configuration,
                                     successive_halving)

PROPOSAL_SHARE = 0.015  # proposals may cost at most this share of the trials' time
FIRST_PROPOSAL_GUESS = 0.5  # seconds a Bayesian proposal is assumed to cost before one ran
ACQUISITION_CANDIDATES = 2000  # random points the acquisition function is evaluated on
MAX_SKIPS = 20  # proposals in a row the planner may refuse before the search ends
MUTATION_EVERY = 2  # under a budget, every second new configuration mutates the best one
MUTATED = (1, 2)  # how many hyperparameters a mutation draws anew


class BoundedBayesianOptimizationOracle(kt.oracles.BayesianOptimizationOracle):
    """Gaussian-process Bayesian optimisation with a bounded acquisition step."""

    def populate_space(self, trial_id):
        completed = [t for t in self.trials.values() if t.status == COMPLETED]
        if len(completed) < (self.num_initial_points or 3):
            return kt_private.random_proposal(self)
        x, y = kt_private.vectorized_trials(self)
        self.gpr.fit(np.nan_to_num(x, posinf=0, neginf=0), np.nan_to_num(y, posinf=0, neginf=0))
        bounds = kt_private.hp_bounds(self)
        candidates = kt_private.random_state(self).uniform(
            bounds[:, 0], bounds[:, 1], size=(ACQUISITION_CANDIDATES, bounds.shape[0]))
        mean, deviation = self.gpr.predict(candidates, return_std=True)
        # The best points not yet tried, as many as keras-tuner's random draws may collide.
        for index in np.argsort(mean - self.beta * deviation)[:kt_private.max_collisions(self)]:
            values = kt_private.vector_to_values(self, candidates[index])
            if not kt_private.is_duplicate(self, values):
                return {"status": RUNNING, "values": values}
        return kt_private.random_proposal(self)


def objective_for(name):
    return kt.Objective(name, objectives.direction(name))


def _search_oracle(oracle_class):
    """`oracle_class` that writes its state atomically and proposes known-good values first."""

    class SearchOracle(oracle_class):
        def __init__(self, *args, warm_values=(), planner=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.warm_values = list(warm_values)
            self.planner = planner
            self.proposal_seconds = 0.0
            self.skipped_warm = 0
            self.skipped = {"count": 0, "last_reason": None}
            self._last_model_proposal = FIRST_PROPOSAL_GUESS

        def populate_space(self, trial_id):
            started = time.perf_counter()
            try:
                for _ in range(MAX_SKIPS):
                    response = self._propose(trial_id)
                    reason = self._skip_reason(response)
                    if reason is None:
                        return response
                    self.skipped["count"] += 1
                    self.skipped["last_reason"] = reason
                return {"status": STOPPED, "values": None}
            finally:
                self.proposal_seconds += time.perf_counter() - started

        def _compute_values_hash(self, values):
            """A configuration's identity: its values without the schedule's `tuner/` ones.

            A configuration trained at any rung counts as tried, so no proposal repeats it.
            """
            return kt_private.values_hash(SearchOracle, self, configuration(values))

        def _skip_reason(self, response):
            """Why the planner refuses a proposed configuration, or None to train it."""
            if (self.planner is None or response.get("status") != RUNNING
                    or isinstance(self, kt.oracles.GridSearchOracle)):
                return None
            return self.planner.skip_reason(response["values"], first=not self.trials)

        def _propose(self, trial_id):
            fresh = [t for t in self.trials.values()
                     if not t.hyperparameters.values.get("tuner/trial_id")]
            index = len(fresh) + self.skipped_warm
            while index < len(self.warm_values):
                values = self._warm(self.warm_values[index])
                if kt_private.is_duplicate(self, values):
                    break
                reason = self._skip_reason({"status": RUNNING, "values": values})
                if reason is None:
                    return {"status": RUNNING, "values": values}
                self.skipped_warm += 1
                self.skipped["count"] += 1
                self.skipped["last_reason"] = reason
                index += 1
            if self._mutation_turn():
                values = self._mutated_best()
                if values is not None:
                    return {"status": RUNNING, "values": values}
            if self._proposals_too_costly():
                values = kt_private.random_values(self)
                if values is None:
                    return {"status": STOPPED, "values": None}
                return {"status": RUNNING, "values": values}
            started = time.perf_counter()
            response = super().populate_space(trial_id)
            self._last_model_proposal = time.perf_counter() - started
            return response

        def _budgeted(self):
            return self.planner is not None and self.planner.budget_seconds is not None

        def _mutation_turn(self):
            """Whether the next new configuration mutates the best one (under a budget only).

            A short search has room for a few trials: drawing one or two values anew
            around the best configuration finds better ones more often than drawing
            every value at random (the exploitation step of regularised evolution).
            """
            if not self._budgeted():
                return False
            proposed = [t for t in self.trials.values()
                        if not t.hyperparameters.values.get("tuner/trial_id")]
            return (len(proposed) - len(self.warm_values)) % MUTATION_EVERY == 0

        def _mutated_best(self):
            """The best completed configuration with one or two of its values drawn anew."""
            scored = [t for t in self.trials.values()
                      if t.status == COMPLETED and t.score is not None]
            if not scored:
                return None
            pick = max if self.objective.direction == "max" else min
            best = pick(scored, key=lambda t: t.score).hyperparameters.values
            rng = np.random.RandomState(kt_private.next_seed(self))
            for _ in range(10):
                hp = self.get_space()
                hp.values.update(configuration(best))
                active = [p for p in hp.space if hp.is_active(p)]
                count = min(len(active), int(rng.choice(MUTATED)))
                for index in rng.choice(len(active), size=count, replace=False):
                    parameter = active[int(index)]
                    hp.values[parameter.name] = parameter.random_sample(int(rng.randint(1 << 30)))
                values = {p.name: hp.values.get(p.name, p.default)
                          for p in hp.space if hp.is_active(p)}
                if not kt_private.is_duplicate(self, values):
                    return values
            return None

        def _warm(self, warm):
            """Known-good values for every hyperparameter they name, wherever it is registered.

            Hyperparameters the space does not know yet (registered outside `build`,
            or only by another family) keep their warm value; the rest of the active
            space takes its defaults.
            """
            hp = self.get_space()
            hp.values.update(warm)
            values = {p.name: hp.values.get(p.name, p.default)
                      for p in hp.space if hp.is_active(p)}
            known = {p.name for p in hp.space}
            values.update({k: v for k, v in warm.items() if k not in known})
            return values

        def _proposals_too_costly(self):
            """Whether a model-based proposal would push proposals past their share of time.

            Only under a budget: without one, proposals never depend on measured time,
            so the same seed gives the same sequence.
            """
            if not isinstance(self, BoundedBayesianOptimizationOracle) or not self._budgeted():
                return False
            trial_seconds = sum(t.metrics.get_last_value("trial_seconds") or 0.0
                                for t in self.trials.values()
                                if t.status == COMPLETED and t.metrics.exists("trial_seconds"))
            expected = self.proposal_seconds + self._last_model_proposal
            return expected > PROPOSAL_SHARE * trial_seconds

        def save(self):
            write_json(kt_private.oracle_file(self), self.get_state())

        def _save_trial(self, trial):
            write_json(os.path.join(kt_private.trial_dir(self, trial.trial_id), "trial.json"),
                       trial.get_state())

        def reload(self):
            """Reload the search; a trial whose own file records it completed is not run
            again (a kill between writing that file and the oracle's leaves it ongoing)."""
            super().reload()
            queue = kt_private.retry_queue(self)
            for trial_id in [t for t in queue if self.trials[t].status == COMPLETED]:
                queue.remove(trial_id)
                if trial_id not in self.end_order:
                    self.end_order.append(trial_id)

        def get_state(self):
            state = super().get_state()
            state["proposal_seconds"] = self.proposal_seconds
            state["skipped"] = {**self.skipped, "warm": self.skipped_warm}
            return state

        def set_state(self, state):
            super().set_state(state)
            self.proposal_seconds = state.get("proposal_seconds", 0.0)
            skipped = dict(state.get("skipped") or {})
            self.skipped_warm = skipped.pop("warm", 0)
            self.skipped = {"count": 0, "last_reason": None, **skipped}

    SearchOracle.__name__ = f"Search{oracle_class.__name__}"
    return SearchOracle


def make_oracle(tuner, objective, seed, max_trials, epochs, warm_values, schedule=None,
                planner=None):
    """The keras-tuner oracle named `tuner`.

    Random, Bayesian and grid search start from the task's known-good values;
    with a `schedule` (`{"rungs": [Rung, ...], "first_rung": i}`) their
    configurations enter successive halving. Hyperband sizes its own brackets from
    the epoch count. With a `planner` (`automl.tuning.planner.Planner`), configurations it
    cannot afford are skipped, and successive halving takes its pace from it.
    """
    # keras-tuner draws a random seed for a seed of 0: shift by one so 0 is a seed too.
    common = dict(objective=objective, seed=seed + 1,
                  max_consecutive_failed_trials=10**9, max_retries_per_trial=0)
    if tuner == "hyperband":
        oracle = _search_oracle(kt.oracles.HyperbandOracle)(
            max_epochs=max(epochs, 2), factor=3, **common)
        oracle.verbose = 0
        return oracle
    base = {"grid": kt.oracles.GridSearchOracle, "random": kt.oracles.RandomSearchOracle,
            "bayesian": BoundedBayesianOptimizationOracle}[tuner]
    oracle_class = _search_oracle(base)
    kwargs = dict(max_trials=max_trials, planner=planner, **common)
    if tuner != "grid":
        kwargs["warm_values"] = warm_values
    if tuner == "bayesian":
        kwargs["num_initial_points"] = len(warm_values) + 3
    if schedule is not None:
        oracle_class = successive_halving(oracle_class)
        kwargs.update(schedule)
    oracle = oracle_class(**kwargs)
    oracle.verbose = 0
    return oracle
