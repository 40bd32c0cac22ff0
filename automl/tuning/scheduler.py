"""Multi-fidelity scheduling: asynchronous successive halving (ASHA) on keras-tuner trials.

A new configuration trains at the cheapest rung (few epochs, maybe one epoch on a
share of the training split; rungs count examples seen, `automl.tuning.planner.Rung`).
Once a rung holds `eta` completed trials, the best of every `eta` is promoted: a new
keras-tuner trial with the same values that continues from its parent's weights up
to the next rung, always on the whole split. The trial's values carry the plan,
under the names keras-tuner's Hyperband uses:

    tuner/epochs         cumulative epochs at the end of the trial
    tuner/initial_epoch  whole epochs its weights have already trained
    tuner/trial_id       the trial whose weights it continues (promotions only)
    tuner/rung           rung index (0: a new configuration)
    tuner/fraction       share of the training split it trains on

A rung says nothing about a configuration whose score is indistinguishable from
chance on this many validation examples (`beyond_chance`, a one-sided binomial
test against a model that learned nothing): such a trial is never promoted, and
once `eta` trials of a rung all scored at chance, new configurations enter the next
rung instead (the rung is deepened).

The task's first known-good configuration enters at the highest rung that fits
its share of the budget, on the whole split, so the first trial is already a
strong model. Once the time left is only enough to train the best trial to the top
rung (and one more new configuration), the best trial is continued instead, for as
long as the budget allows, so the search ends on its best model fully trained and
no time is idle; where the planner finishes the best trial in the retrain instead
(continued on train+val, `automl.tuning.planner`), the search just ends. Everything the
scheduler decides is derived from the trials themselves, so a resumed search (or
another worker) sees the same state.
"""

import math

from keras_tuner.engine import trial as trial_lib

from automl.tuning.planner import ETA, Rung, converged, passes_done

CHANCE_ALPHA = 0.05  # the binomial test's level: a score above chance at this significance

COMPLETED = trial_lib.TrialStatus.COMPLETED
RUNNING = trial_lib.TrialStatus.RUNNING
STOPPED = trial_lib.TrialStatus.STOPPED
FAILED = trial_lib.TrialStatus.FAILED


def rung_of(trial):
    return int(trial.hyperparameters.values.get("tuner/rung", 0))


def parent_of(trial):
    return trial.hyperparameters.values.get("tuner/trial_id")


def configuration(values):
    """Hyperparameter values without the schedule's `tuner/` ones: what a configuration is."""
    return {k: v for k, v in values.items() if not k.startswith("tuner/")}


def configuration_key(values):
    """A hashable identity of the configuration of `values`."""
    return tuple(sorted(configuration(values).items()))


def beyond_chance(score, chance, examples, alpha=CHANCE_ALPHA):
    """Whether a validation accuracy `score` on `examples` examples is above `chance`.

    A one-sided binomial test: the probability that a model answering right with
    probability `chance` gets at least as many of the examples right is below `alpha`.
    """
    hits = int(round(score * examples))
    if hits <= chance * examples:
        return False
    if chance <= 0.0:
        return True
    if chance >= 1.0:
        return False
    log_p, log_q = math.log(chance), math.log1p(-chance)
    tail = 0.0
    for k in range(hits, examples + 1):  # terms fall from the first one on: k is past the mode
        term = math.exp(math.lgamma(examples + 1) - math.lgamma(k + 1)
                        - math.lgamma(examples - k + 1) + k * log_p + (examples - k) * log_q)
        tail += term
        if term < 1e-12 * tail:
            break
    return tail < alpha


def above_chance(score, chance):
    """`beyond_chance` for `chance` as `(score, examples)`; always true where no test applies."""
    return chance is None or beyond_chance(score, *chance)


def choosable_trials(trials, chance):
    """The completed, scored trials of `trials` (all of a search's) a choice may pick from.

    All of them, unless none is above `chance` (`(score, examples)`, or None where no
    test applies) as the best of as many configurations: at `CHANCE_ALPHA` over
    their number, since the best of several noisy scores clears a single test by
    luck. Then only those of the search's first configuration (the task's first
    known-good one, where it has one), if it has any: scores within chance's noise
    rank nothing.
    """
    scored = [t for t in trials if t.status == COMPLETED and t.score is not None]
    if chance is None or not scored:
        return scored
    keys = {t.trial_id: configuration_key(t.hyperparameters.values) for t in trials}
    tried = len({keys[t.trial_id] for t in scored})
    if any(beyond_chance(t.score, *chance, alpha=CHANCE_ALPHA / tried) for t in scored):
        return scored
    first = keys[min(keys)]
    return [t for t in scored if keys[t.trial_id] == first] or scored


def promotion(trials, top_rung, eta=ETA, maximize=True, judged=lambda trial: True):
    """The completed trial to promote next, highest rung first, or None.

    A trial is promotable when it ranks among the best `len(rung) // eta` trials of
    its rung, its score says something (`judged(trial)`: above chance) and no trial
    continues it yet. Trials at `top_rung` are final.
    """
    continued = {parent_of(t) for t in trials}
    scored = [t for t in trials if t.status == COMPLETED and t.score is not None]
    for rung in reversed(range(top_rung)):
        level = sorted((t for t in scored if rung_of(t) == rung),
                       key=lambda t: t.score, reverse=maximize)
        for trial in level[:len(level) // eta]:
            if trial.trial_id not in continued and judged(trial):
                return trial
    return None


def entry_rung(trials, top_rung, eta=ETA, judged=lambda trial: True):
    """The rung a new configuration enters: the lowest whose scores tell trials apart.

    A rung where `eta` or more trials completed and none scored above chance
    (`judged`) is too short to judge a configuration: new ones enter the next rung.
    """
    rung = 0
    while rung < top_rung:
        level = [t for t in trials if t.status == COMPLETED and t.score is not None
                 and rung_of(t) == rung]
        if len(level) < eta or any(judged(t) for t in level):
            break
        rung += 1
    return rung


def continuation(parent, epochs, rung):
    """Values of a trial that continues `parent`'s weights to `epochs` epochs of the whole split.

    A parent that trained on a share of the split counts the whole epochs its
    examples make up (`tuner/initial_epoch`), so the continuation reaches the next
    rung's examples in full.
    """
    values = dict(parent.hyperparameters.values)
    values.update({"tuner/trial_id": parent.trial_id, "tuner/rung": rung,
                   "tuner/initial_epoch": passes_done(parent),
                   "tuner/epochs": int(epochs), "tuner/fraction": 1.0})
    return values


class Pace:
    """What the scheduler needs to know of time: set by the search loop.

    `time_left()` is the seconds left before the search deadline;
    `new_trial_seconds()` estimates a new configuration at the first rung;
    `epoch_seconds(trial)` is a completed trial's seconds per epoch on the whole
    training split, and `continue_epoch_seconds(trial)` what one more epoch of it
    costs the budget (its retrain included); `overhead_seconds()` what a trial costs
    besides its epochs; `finishes_in_retrain(trial)` whether the retrain, not the
    search, trains `trial` to the top rung; `new_configuration_fits()` whether a new
    configuration can still reach the furthest rung a trial has reached; `chance()`
    the validation score of a model that learned nothing and the number of
    validation examples, or None where no such test applies.
    `automl.tuning.planner.Planner` is the pace of a search under a budget. Without a
    budget time is never short.
    """

    finishing_in_retrain = False  # whether the export, not the search, reaches the top rung

    def time_left(self):
        return math.inf

    def new_trial_seconds(self):
        return 0.0

    def epoch_seconds(self, trial):
        return 0.0

    def continue_epoch_seconds(self, trial):
        return self.epoch_seconds(trial)

    def overhead_seconds(self):
        return 0.0

    def finishes_in_retrain(self, trial):
        return False

    def new_configuration_fits(self):
        return True

    def chance(self):
        return None


def successive_halving(oracle_class):
    """`oracle_class` whose new configurations enter at the first rung and are promoted."""

    class SuccessiveHalvingOracle(oracle_class):
        def __init__(self, *args, rungs=(Rung(1),), first_rung=0, **kwargs):
            super().__init__(*args, **kwargs)
            self.rungs = [Rung.from_value(r) for r in rungs]
            self.first_rung = int(first_rung)
            self.out_of_time = False
            planner = kwargs.get("planner")
            self.pace = planner if planner is not None else Pace()

        def populate_space(self, trial_id):
            trials = list(self.trials.values())
            maximize = self.objective.direction == "max"
            best = self._best_unfinished(trials, maximize)
            if (best is not None and not self.pace.finishes_in_retrain(best)
                    and self._time_to_finish(best)):
                return {"status": RUNNING, "values": self._last_continuation(best)}
            # Where the export finishes in the retrain, the top rung is reached there.
            top = len(self.rungs) - (2 if self.pace.finishing_in_retrain else 1)
            parent = promotion(trials, top, ETA, maximize, self._judged)
            if parent is not None:
                rung = rung_of(parent) + 1
                return {"status": RUNNING,
                        "values": continuation(parent, self.rungs[rung].epochs, rung)}
            if trials and not self.pace.new_configuration_fits():
                self.out_of_time = True
                return {"status": STOPPED, "values": None}
            response = super().populate_space(trial_id)
            if response.get("status") == RUNNING:
                rung = (self.first_rung if not trials
                        else entry_rung(trials, len(self.rungs) - 1, ETA, self._judged))
                response["values"] = {
                    **response["values"], "tuner/rung": rung, "tuner/initial_epoch": 0,
                    "tuner/epochs": self.rungs[rung].epochs,
                    "tuner/fraction": self.rungs[rung].fraction}
            return response

        def _judged(self, trial):
            """Whether `trial`'s score is above chance (always, where no test applies)."""
            return above_chance(trial.score, self.pace.chance())

        def _time_to_finish(self, best):
            """Whether the time left should go to training the best trial to the top rung.

            True once the time left is no more than that training plus one new
            configuration, or, for a best trial at the top rung already, less than a
            new configuration needs.
            """
            pace = self.pace
            top = self.rungs[-1].epochs
            done = passes_done(best)
            finish = (pace.overhead_seconds()
                      + max(top - done, 0) * pace.continue_epoch_seconds(best))
            if done >= top:
                finish = 0.0
            return pace.time_left() < finish + pace.new_trial_seconds()

        def _best_unfinished(self, trials, maximize):
            """The best completed trial that no other trial continues yet.

            A trial that early stopping ended at the top rung is finished: training
            it on would not improve it. Only trials a choice may pick from count
            (`choosable_trials`).
            """
            continued = {parent_of(t) for t in trials}
            top = len(self.rungs) - 1
            open_trials = [t for t in choosable_trials(trials, self.pace.chance())
                           if t.trial_id not in continued
                           and not (converged(t) and rung_of(t) >= top)]
            if not open_trials:
                return None
            return (max if maximize else min)(open_trials, key=lambda t: t.score)

        def _last_continuation(self, best):
            """Continue `best` to the top rung, or as far as the time left allows."""
            top = self.rungs[-1].epochs
            done = passes_done(best)
            per_epoch = self.pace.continue_epoch_seconds(best)
            left = self.pace.time_left() - self.pace.overhead_seconds()
            fits = int(left / per_epoch) if per_epoch > 0 else 1
            wanted = top - done if done < top else top
            more = max(1, min(fits, wanted))
            return continuation(best, done + more, max(rung_of(best) + 1, len(self.rungs) - 1))

        def get_state(self):
            state = super().get_state()
            state["schedule"] = {"rungs": [r.to_dict() for r in self.rungs],
                                 "first_rung": self.first_rung}
            return state

        def set_state(self, state):
            super().set_state(state)
            schedule = state.get("schedule")
            if schedule:
                first_fraction = schedule.get("fraction", 1.0)  # written by earlier versions
                self.rungs = [Rung.from_value(r, first_fraction if i == 0 else 1.0)
                              for i, r in enumerate(schedule["rungs"])]
                self.first_rung = schedule.get("first_rung", 0)

    SuccessiveHalvingOracle.__name__ = f"SuccessiveHalving{oracle_class.__name__}"
    return SuccessiveHalvingOracle
