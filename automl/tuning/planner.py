"""The budget planner: how one time budget is shared by trials, the retrain and the export.

The arithmetic is in pure functions that take measured costs and the clock reading as
arguments, so fake-clock tests pin it down. `Planner` applies them to one search: it
is built from the budget, the probe, the settings and a read-only view of the trials
(`automl.tuning.selection.Selection`), and the oracle, the search loop, the chief and the
retrain all ask it the same questions.

Fidelity is counted in examples seen, as epoch-equivalents of the training split
(epochs times the share of the split trained on). The lowest rung sees at least
`FIRST_RUNG_EXAMPLES` examples where its share of the budget affords them, so a
tiny set gets many cheap epochs per rung. The top rung always trains the
whole split, and every configuration proposed under a budget can reach it within
the share of the budget one configuration may take: its cost per example is
estimated before it trains (`automl.cost`), from the probe's measured throughput and
every trial measured since.
"""

import dataclasses
import math
import statistics
import time

from automl.export.litert import LATENCY_CALLS
from automl.settings import parse_export
from automl.tuning import costs

FIRST_TRIAL_SHARE = 0.15   # the first trial ends within this share of the budget
NEW_TRIAL_SHARE = 0.15     # a new configuration at the first rung costs at most this share
RETRAIN_SHARE = 0.25       # a retrain from scratch is planned only within this share
RETRAIN_FIT_SHARE = 0.9    # a retrain epoch skips validation: about this share of a trial epoch
RESERVE_MARGIN = 1.1       # how much longer than expected a retrain is kept time for
SINGLE_CONFIG_SHARE = 0.6  # the most one configuration may train to the top rung
LITERT_CONVERT_SECONDS = 10.0  # a converter process: start, rebuild, convert, calibrate
LITERT_CALL_SECONDS = 1e-4     # one call of LiteRT's interpreter, besides the model's own work
FINAL_SHARE = 0.6          # a continued export trains at least this share of the budget
SKIP_TOLERANCE = 1.2       # how far an estimate may exceed that share before a skip
TRIAL_CAP_FACTOR = 3.0     # a trial may run this many times its estimate before it is cut
SMALLEST_FRACTION = 0.1    # the smallest share of the training split a rung trains on
FIRST_RUNG_EPOCHS = 2      # the fewest epochs of a whole-split rung below the top one
FIRST_RUNG_EXAMPLES = 8192  # examples the lowest rung sees where the budget affords them
MAX_RUNGS = 4
ETA = 3
VALIDATION_COST = 1 / 3    # inference on one val example, against training on one
EPOCH_OVERHEAD_SECONDS = 0.25  # an epoch's own cost besides its examples (validation, callbacks)
MEMBER_LOAD_SHARE = 0.25   # building and loading a member's weights, against a trial's overhead


@dataclasses.dataclass(frozen=True)
class Rung:
    """One fidelity level: `epochs` over `fraction` of the training split."""

    epochs: int
    fraction: float = 1.0

    @property
    def passes(self):
        """Epoch-equivalents of the whole training split (examples seen / train size)."""
        return self.epochs * self.fraction

    def to_dict(self, train_examples=None):
        values = {"epochs": self.epochs, "fraction": self.fraction}
        if train_examples is not None:
            values["examples"] = int(round(self.passes * train_examples))
        return values

    @classmethod
    def from_value(cls, value, fraction=1.0):
        """A rung from its saved form: a dict, or the epoch count of earlier versions."""
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            return cls(int(value["epochs"]), float(value.get("fraction", 1.0)))
        return cls(int(value), float(fraction))


# Pure rules ------------------------------------------------------------------


def rung_floor(train_examples, epoch_seconds, overhead_seconds, budget_seconds):
    """The fewest whole epochs of the lowest rung: `FIRST_RUNG_EXAMPLES` examples seen.

    At least `FIRST_RUNG_EPOCHS`, and no more than a new configuration trains in
    `NEW_TRIAL_SHARE` of the budget. A rung of a few epochs of a tiny set is a
    handful of optimizer steps, too few for any network to learn.
    """
    floor = math.ceil(FIRST_RUNG_EXAMPLES / max(train_examples, 1))
    if budget_seconds is not None and epoch_seconds > 0:
        floor = min(floor, int((NEW_TRIAL_SHARE * budget_seconds - overhead_seconds)
                               / epoch_seconds))
    return max(floor, FIRST_RUNG_EPOCHS)


def plan_rungs(max_epochs, epoch_seconds, overhead_seconds, budget_seconds, eta=ETA,
               floor=FIRST_RUNG_EPOCHS):
    """The successive-halving rungs, cheapest first.

    The top rung trains the whole split for `max_epochs`, lowered so that one
    configuration trains to it (and is built) within `SINGLE_CONFIG_SHARE` of the budget. Each lower
    rung sees `eta` times fewer examples: whole epochs down to `floor` (`rung_floor`),
    then, only while a new configuration at the lowest rung would cost more than
    `NEW_TRIAL_SHARE` of the budget, one epoch, then one epoch on a share of the
    split (never below `SMALLEST_FRACTION`). `epoch_seconds` is one epoch of the
    whole split (0: unknown).
    """
    top = max(int(max_epochs), 1)
    budgeted = budget_seconds is not None and epoch_seconds > 0
    if budgeted:
        share = SINGLE_CONFIG_SHARE * budget_seconds - overhead_seconds
        top = max(1, min(top, int(share / epoch_seconds)))
    rungs = [Rung(top)]
    while len(rungs) < MAX_RUNGS:
        lowest = rungs[0]
        costly = budgeted and (overhead_seconds + lowest.passes * epoch_seconds
                               > NEW_TRIAL_SHARE * budget_seconds)
        passes = lowest.passes / eta
        if passes >= floor or (costly and passes >= 1):
            rung = Rung(max(1, int(round(passes))))
        elif costly:
            rung = Rung(1, max(round(passes, 2), SMALLEST_FRACTION))
        else:
            break
        if rung.passes >= lowest.passes:
            break
        rungs.insert(0, rung)
    return rungs


def first_rung(rungs, trial_seconds, budget_seconds):
    """Index of the highest rung at which the first trial ends within its share of the budget.

    `trial_seconds(rung)` estimates the first configuration at that rung. Never a
    rung on a share of the split: the first trial trains the whole of it.
    """
    whole = [i for i, rung in enumerate(rungs) if rung.fraction >= 1.0]
    if budget_seconds is None:
        return whole[0]
    fitting = [i for i in whole if trial_seconds(rungs[i]) <= FIRST_TRIAL_SHARE * budget_seconds]
    return fitting[-1] if fitting else whole[0]


def finishing_reserve(export_seconds, evaluate_seconds, retrain_seconds):
    """Seconds kept back after the search: export, evaluation and the planned retrain."""
    return export_seconds + evaluate_seconds + RESERVE_MARGIN * retrain_seconds


def retrain_from_scratch(retrain_seconds, budget_seconds):
    """Whether retraining from scratch on train+val is worth its share of the budget.

    Otherwise the chosen trial's own weights continue on train+val (`continued_epochs`).
    """
    return budget_seconds is None or retrain_seconds <= RETRAIN_SHARE * budget_seconds


def retrain_epochs(best_epochs, epoch_seconds, overhead_seconds, available_seconds):
    """Epochs a retrain from scratch on train+val runs in `available_seconds`; 0: none.

    The trial's best epoch count, or none: a retrain from scratch that ran fewer
    epochs than the trial it copies would end less sure of its answers than the
    search model it replaces (its learning-rate schedule laid out over fewer
    epochs). `epoch_seconds` is one traced epoch on train+val as measured in the
    trial, validation included, so a retrain (which skips it) takes about
    `RETRAIN_FIT_SHARE` of its estimate.
    """
    if math.isinf(available_seconds):
        return best_epochs
    fitting = int((available_seconds / RETRAIN_FIT_SHARE - overhead_seconds)
                  / max(epoch_seconds, 1e-9))
    return best_epochs if fitting >= best_epochs else 0


def continued_epochs(done, top, epoch_seconds, overhead_seconds, available_seconds):
    """Epochs (cumulative) a trial at `done` epochs is planned to reach on train+val; 0: none.

    The top rung `top`, or as many epochs as the time left allows where more fit;
    0 when not even one more epoch fits.
    """
    if math.isinf(available_seconds):
        return max(top, done + 1)
    fitting = int((available_seconds / RETRAIN_FIT_SHARE - overhead_seconds)
                  / max(epoch_seconds, 1e-9))
    return max(top, done + fitting) if fitting >= 1 else 0


def trial_deadline(now, search_deadline, estimate, budget_seconds, first_minimum=None,
                   latest=float("inf")):
    """When a trial estimated at `estimate` seconds is stopped and scored where it stands.

    A trial may run `TRIAL_CAP_FACTOR` times its estimate (at least a tenth of the
    budget) and never past the search deadline, except the first trial, which is
    given at least `first_minimum` seconds (one epoch) so that the search always
    produces a model, yet never past `latest` (when only the export still fits the
    budget).
    """
    if budget_seconds is None:
        return float("inf")
    cap = now + max(TRIAL_CAP_FACTOR * estimate, 0.1 * budget_seconds)
    deadline = min(search_deadline, cap)
    if first_minimum is None:
        return deadline
    return min(max(deadline, now + first_minimum), latest)


def minimum_budget(startup_seconds, first_trial_seconds, finishing_seconds):
    """The shortest budget in which the first trial and the export fit."""
    return int(math.ceil(1.2 * (startup_seconds + first_trial_seconds + finishing_seconds)))


def probe_minimum_budget(probe, startup_seconds, litert_files=0):
    """`minimum_budget` for the configuration `probe` measured (`automl.tuning.probe.Probe`).

    The first trial trains one epoch of the whole training split (`first_rung`);
    the export includes `litert_files` LiteRT files.
    """
    return minimum_budget(startup_seconds, probe.trial_seconds(1),
                          probe.export_seconds() + probe.evaluate_seconds()
                          + litert_seconds(probe, litert_files))


def litert_seconds(probe, files, copies=1):
    """Converting and checking `files` LiteRT files of a model of `copies` copies.

    Each file scores the test split an example at a time (a forward pass costs
    about half a training step), beside the SavedModel's answers, computed once.
    """
    if not files:
        return 0.0
    call = LITERT_CALL_SECONDS + 0.5 * probe.example_seconds * copies
    checking = call * (probe.test_examples + LATENCY_CALLS)
    return probe.evaluate_seconds(copies) + files * (LITERT_CONVERT_SECONDS + checking)


# The planner of one search -----------------------------------------------------


class Planner:
    """Budget and fidelity decisions of one search.

    `selection` is the read-only view of the trials (`automl.tuning.selection.Selection`);
    `cost(values)` the estimated cost of one training example of a configuration, or
    None where it cannot be estimated (such configurations are never skipped);
    `known_good` the task's known-good values (the probe measured the first:
    `automl.tuning.costs`); `now()`
    the clock; `data_reason(values)` why the data speaks against a configuration
    (`automl.TrialFeedback.skip_reason`), or None.
    """

    def __init__(self, budget, probe, settings, max_epochs, ensemble_size, train_examples,
                 val_examples, selection, cost=None, known_good=(), now=time.time,
                 data_reason=None):
        self.budget, self.probe, self.settings = budget, probe, settings
        self.max_epochs, self.ensemble_size = max_epochs, ensemble_size
        self.train_examples, self.val_examples = train_examples, val_examples
        self.selection = selection
        self.data_reason = data_reason or (lambda values: None)
        self.rungs = [Rung(max_epochs)]
        self.finishing_in_retrain = False
        self.copies = 1  # how many times as long the export predicts (test-time copies)
        self.now = now
        self.costs = costs.ExampleCosts(cost or (lambda values: None), probe,
                                        next(iter(known_good), None), selection.completed,
                                        self.examples_per_epoch())

    @property
    def budget_seconds(self):
        return self.settings.time_budget

    def chance(self):
        return self.selection.chance()

    # The schedule --------------------------------------------------------------

    def schedule(self):
        """`{"rungs": [...], "first_rung": i}` for successive halving, from the probe."""
        if self.probe is None:
            self.rungs = plan_rungs(self.max_epochs, 0.0, 0.0, None)
            return {"rungs": self.rungs, "first_rung": 0}
        probe = self.probe

        def trial_seconds(rung):
            return (probe.trial_seconds(rung.epochs, rung.fraction)
                    + rung.epochs * EPOCH_OVERHEAD_SECONDS)

        epoch = probe.epoch_seconds() + EPOCH_OVERHEAD_SECONDS
        # Rungs count examples, unless `--epochs` set the unit.
        top, floor = self.max_epochs, FIRST_RUNG_EPOCHS
        if self.settings.epochs is None:
            floor = rung_floor(self.train_examples, epoch, probe.build_seconds,
                               self.budget_seconds)
            top = max(top, ETA * floor)
        self.rungs = plan_rungs(top, epoch, probe.build_seconds, self.budget_seconds,
                                floor=floor)
        first = first_rung(self.rungs, trial_seconds, self.budget_seconds)
        # Where the first configuration would be continued to the top rung in the
        # retrain, not retrained from scratch, the search never trains to the top rung,
        # and the first trial is one of several contenders: it starts where they do.
        retrain = trial_seconds(self.top) * self.retrain_growth()
        self.finishing_in_retrain = not retrain_from_scratch(retrain, self.budget_seconds)
        if self.finishing_in_retrain:
            first = next(i for i, r in enumerate(self.rungs) if r.fraction >= 1.0)
        return {"rungs": self.rungs, "first_rung": first}

    def patience(self, epochs):
        """Early stopping's patience: the task's `epochs`, or the lowest rung's, if longer.

        A trial is not stopped for a stall shorter than the training that judges a
        configuration.
        """
        lowest = self.rungs[0]
        return max(epochs, lowest.epochs if lowest.fraction >= 1.0 else 0)

    def use_rungs(self, rungs):
        """Take the rungs of a resumed oracle."""
        self.rungs = list(rungs)

    @property
    def top(self):
        return self.rungs[-1]

    # Costs of configurations ---------------------------------------------------------

    def examples_per_epoch(self):
        """Training examples of one epoch, plus validation at its relative cost."""
        return self.train_examples + VALIDATION_COST * self.val_examples

    def skip_reason(self, values, first=False):
        """Why the configuration `values` should not be trained, or None.

        The task may refuse it from what earlier trials showed of the data
        (`data_reason`). Under a budget, a configuration must reach the top rung
        within `SINGLE_CONFIG_SHARE` of it (estimates are trusted to `SKIP_TOLERANCE`),
        except the `first` of a search: a search always trains one configuration,
        and its trial deadline stops it where the budget cannot afford its top rung.
        """
        reason = self.data_reason(values)
        if reason is not None:
            return reason
        if first or self.budget_seconds is None or self.probe is None:
            return None
        seconds = self.costs.seconds(values)
        if seconds is None:
            return None
        needed = (self.probe.build_seconds
                  + self.top.passes * self.examples_per_epoch() * seconds)
        if needed > SKIP_TOLERANCE * SINGLE_CONFIG_SHARE * self.budget_seconds:
            return (f"the top rung ({self.top.epochs} epoch{'s' * (self.top.epochs != 1)}) "
                    f"would take about {needed:.0f}s, "
                    f"over {SINGLE_CONFIG_SHARE:.0%} of the budget")
        return None

    # What trials cost (the scheduler's pace) ------------------------------------------

    epoch_seconds = staticmethod(costs.epoch_seconds)

    def overhead_seconds(self):
        """Median seconds a trial spends besides its traced epochs (building, tracing, saving)."""
        overheads = [t.metrics.get_last_value("trial_seconds") - t.metrics.get_last_value("fit_seconds")
                     + (t.metrics.get_last_value("trace_seconds") or 0.0)
                     for t in self.selection.completed() if t.metrics.exists("trial_seconds")]
        if overheads:
            return max(statistics.median(overheads), 0.0)
        return self.probe.build_seconds if self.probe else 0.0

    def new_trial_seconds(self):
        """Estimated seconds of a new configuration at the first rung."""
        fresh = [t.metrics.get_last_value("trial_seconds") for t in self.selection.completed()
                 if not t.hyperparameters.values.get("tuner/trial_id")
                 and int(t.hyperparameters.values.get("tuner/rung", 0)) == 0
                 and t.metrics.exists("trial_seconds")]
        if fresh:
            return statistics.median(fresh)
        if self.probe is None:
            return 0.0
        lowest = self.rungs[0]
        return self.probe.trial_seconds(lowest.epochs, lowest.fraction)

    def trial_estimate(self, trial):
        """Estimated seconds of `trial`: a continuation from its parent's epoch time."""
        values = trial.hyperparameters.values
        parent = self.selection.get(values.get("tuner/trial_id"))
        if parent is not None and parent.metrics.exists("epoch_seconds"):
            more = int(values["tuner/epochs"]) - int(values.get("tuner/initial_epoch", 0))
            return self.overhead_seconds() + more * self.epoch_seconds(parent)
        if self.probe is not None:
            seconds = self.costs.seconds(values)
            if seconds is not None:
                passes = int(values.get("tuner/epochs", self.max_epochs)) * float(
                    values.get("tuner/fraction", 1.0))
                return self.overhead_seconds() + passes * self.examples_per_epoch() * seconds
        return self.new_trial_seconds()

    def continue_epoch_seconds(self, trial):
        """What one more epoch of `trial` on train costs the budget.

        Where a retrain from scratch on train+val is planned, the epoch costs twice:
        now, and again in the retrain.
        """
        seconds = self.epoch_seconds(trial)
        if self.finishes_in_retrain(trial):
            return seconds
        return seconds * (1 + self.retrain_growth())

    def finishes_in_retrain(self, trial):
        """Whether `trial` reaches the top rung in the retrain, continued on train+val.

        True where a retrain from scratch would not be worth its share of the budget:
        the search then never trains the best trial on train to the top rung first.
        """
        return (self.budget_seconds is not None
                and not retrain_from_scratch(self.fresh_retrain_estimate(trial),
                                             self.budget_seconds))

    def new_configuration_fits(self):
        """Whether a new configuration could still catch up with the trial to be exported.

        Where that trial finishes in the retrain, a new configuration is worth
        training only if it can reach the rung that trial reached before the search
        deadline; otherwise the time left goes to the export's retrain.
        """
        final = self.selection.final()
        if self.budget_seconds is None or final is None or not self.finishes_in_retrain(final):
            return True
        fresh = [self.epoch_seconds(t) for t in self.selection.completed()
                 if not t.hyperparameters.values.get("tuner/trial_id")]
        per_epoch = statistics.median(fresh) if fresh else self.epoch_seconds(final)
        catch_up = self.overhead_seconds() + planned_passes(final) * per_epoch
        return self.time_left() >= catch_up

    # Deadlines ---------------------------------------------------------------------

    def deadline_for(self, trial, first):
        """When a trial about to run must stop.

        The deadline gives the first trial the time of one epoch, but never past the
        retrain deadline (when only the export still fits the budget): a first
        epoch slower than the probe measured is cut there and scored where it
        stands.
        """
        values = trial.hyperparameters.values
        one_epoch = (self.probe.trial_seconds(1, float(values.get("tuner/fraction", 1.0)))
                     if self.probe else 0.0)
        return trial_deadline(self.now(), self.search_deadline(), self.trial_estimate(trial),
                              self.budget_seconds, first_minimum=one_epoch if first else None,
                              latest=self.retrain_deadline())

    def time_left(self):
        return self.search_deadline() - self.now()

    def search_deadline(self):
        """When the search must end so that what follows it fits the budget."""
        if self.budget.seconds is None:
            return float("inf")
        return self.budget.end - self.finishing_reserve()

    def time_for_another_trial(self):
        if self.budget.seconds is None or not self.selection.completed():
            return True
        best = self.selection.best()
        cheapest = self.new_trial_seconds()
        if best is not None and not self.finishes_in_retrain(best):
            cheapest = min(cheapest, self.overhead_seconds() + self.epoch_seconds(best))
        return self.time_left() >= cheapest

    # The retrain and the export --------------------------------------------------------

    def retrain_growth(self):
        """How much longer an epoch on train+val takes than one on train."""
        return (self.train_examples + self.val_examples) / self.train_examples

    def fresh_epochs(self, trial):
        """Epochs a retrain of `trial` from scratch runs: its best epoch count at the top rung.

        A trial scored below the top rung is retrained for the top rung's epochs,
        unless early stopping ended it (it had stopped improving at its best epoch).
        """
        best = int(trial.metrics.get_last_value("best_epoch"))
        planned = int(trial.hyperparameters.values.get("tuner/epochs", best)) * float(
            trial.hyperparameters.values.get("tuner/fraction", 1.0))
        if planned >= self.top.passes or converged(trial):
            return best
        return max(best, self.top.epochs)

    def fresh_retrain_estimate(self, trial):
        """Seconds a retrain of `trial` from scratch on train+val takes."""
        return (self.overhead_seconds() + self.epoch_seconds(trial) * self.retrain_growth()
                * self.fresh_epochs(trial))

    def continued_retrain_estimate(self, trial, alone=True):
        """Seconds kept for continuing `trial` on train+val.

        Enough to reach the top rung, and, for a model exported `alone` (not one
        member of an ensemble), at least what brings the configuration's training to
        `FINAL_SHARE` of the budget: in a short search the export's own training
        decides most of its accuracy.
        """
        done = passes_done(trial)
        more = max(self.top.epochs - done, 1)
        to_top = (self.overhead_seconds() + RETRAIN_FIT_SHARE * more * self.epoch_seconds(trial)
                  * self.retrain_growth())
        if self.budget_seconds is None or not alone:
            return to_top
        return max(to_top, FINAL_SHARE * self.budget_seconds - done * self.epoch_seconds(trial))

    def retrain_estimate(self, trial, alone=True):
        """Seconds the retrain of `trial` takes, from scratch or continued (`alone`: as above)."""
        if self.finishes_in_retrain(trial):
            return self.continued_retrain_estimate(trial, alone)
        return self.fresh_retrain_estimate(trial)

    def continues_by_clock(self):
        """Whether a continued export trains to the budget's end (no `--epochs` caps it)."""
        return self.budget_seconds is not None and self.settings.epochs is None

    def retrains_by_clock(self, trial, mode):
        """Whether the retrain of `trial` in `mode` trains until its deadline.

        A continued trial does (`continues_by_clock`), and so does a retrain from
        scratch of a trial that had not passed its best (`passed_its_best`): its
        schedule is laid over all the time left, never fewer epochs than the
        trial's (`retrain_plan` checked they fit), so the time a search leaves (its
        trial limit reached, or the reserve's margin unspent) trains the export
        further. A trial that had passed its best keeps its best epoch count.
        """
        if not self.continues_by_clock():
            return False
        return mode == "continued" or (mode == "fresh" and not self.passed_its_best(trial))

    def passed_its_best(self, trial):
        """Whether `trial` scored best before its last epoch, above chance.

        Then its best epoch count is how long the configuration should train (early
        stopping may have ended it there). One that scored best at its last epoch was
        still improving; one at chance had not learned yet, so its best epoch says
        nothing.
        """
        last = (int(trial.hyperparameters.values.get("tuner/initial_epoch", 0))
                + int(trial.metrics.get_last_value("epochs_run") or 0))
        return (int(trial.metrics.get_last_value("best_epoch")) < last
                and self.selection.above_chance(trial))

    def retrain_plan(self, trial, available_seconds):
        """`(mode, initial epoch, epochs)` of `trial`'s retrain on train+val in the time given.

        `mode` is "fresh" (from scratch, for the trial's best epoch count or as many as
        fit), "continued" (from the trial's weights; `epochs` is where its schedule is
        laid out to, the top rung or as far as the time allows), or None when
        neither fits. Where a retrain from scratch does not fit, the trial continues
        instead: the time left still trains it further.
        """
        growth = self.retrain_growth()
        if not self.finishes_in_retrain(trial):
            epochs = retrain_epochs(self.fresh_epochs(trial), self.epoch_seconds(trial) * growth,
                                    self.overhead_seconds(), available_seconds)
            if epochs:
                return "fresh", 0, epochs
        done = passes_done(trial)
        epochs = continued_epochs(done, self.top.epochs, self.epoch_seconds(trial) * growth,
                                  self.overhead_seconds(), available_seconds)
        if self.settings.epochs is not None:  # --epochs given: it caps the continuation too
            epochs = min(epochs, max(self.settings.epochs, done + 1))
        return ("continued", done, epochs) if epochs else (None, 0, 0)

    def finishing_estimates(self, members=1):
        """`(export, evaluate)` seconds for a model of `members` members (and its test-time copies).

        The export includes the LiteRT files the settings ask for (`litert_seconds`).
        """
        if self.probe is None:
            return 8.0, 2.0
        copies = members * self.copies
        files = len(parse_export(getattr(self.settings, "export", None)))
        return (self.probe.export_seconds(copies) + litert_seconds(self.probe, files, copies),
                self.probe.evaluate_seconds(copies))

    def finishing_reserve(self):
        """Seconds kept back for what follows the search, from measured costs.

        The retrain is reserved for the trials that would be exported now: from
        scratch where that costs at most `RETRAIN_SHARE` of the budget, else
        continued to the top rung (`reserved_retrain`). Where a later trial takes
        their place with a longer retrain, the search ends then, and a retrain by the
        clock takes the time there is. With an ensemble, also selection itself:
        building and loading each member (`MEMBER_LOAD_SHARE` of a trial's overhead,
        which also traces and fits).
        """
        if self.ensemble_size > 1 and len(self.selection.ranked()) > 1:
            members = self.selection.members()
            export, evaluate = self.finishing_estimates(len(members))
            retrain = sum(self.reserved_retrain(t, alone=False) for t in members)
            return (len(members) * MEMBER_LOAD_SHARE * self.overhead_seconds()
                    + finishing_reserve(export, evaluate, retrain))
        export, evaluate = self.finishing_estimates()
        final = self.selection.final()
        if final is None:
            return export + evaluate
        return finishing_reserve(export, evaluate, self.reserved_retrain(final))

    def reserved_retrain(self, trial, alone=True):
        """Seconds kept for `trial`'s retrain: what it is expected to take.

        A retrain from scratch takes about `RETRAIN_FIT_SHARE` of its estimate (the
        trial's epochs were timed with validation); the reserve's own
        margin (`finishing_reserve`) covers the rest. One that trains by the clock
        (`retrains_by_clock`) and is exported `alone` is kept at least `FINAL_SHARE`
        of the budget, as a continued export is: a configuration still improving
        when its epochs ended gains more from training than from the search.
        """
        if self.finishes_in_retrain(trial):
            return self.continued_retrain_estimate(trial, alone)
        estimate = self.fresh_retrain_estimate(trial)
        if not retrain_from_scratch(estimate, self.budget_seconds):
            return 0.0
        if alone and self.retrains_by_clock(trial, "fresh"):
            return max(RETRAIN_FIT_SHARE * estimate, FINAL_SHARE * self.budget_seconds)
        return RETRAIN_FIT_SHARE * estimate

    def retrain_deadline(self, members=1):
        """When a retrain must end so that evaluation and export still fit."""
        export, evaluate = self.finishing_estimates(members)
        return self.budget.end - export - evaluate


def planned_passes(trial):
    """Epoch-equivalents of the training split a trial is planned to reach (its rung)."""
    values = trial.hyperparameters.values
    return float(values.get("tuner/epochs", 0)) * float(values.get("tuner/fraction", 1.0))


def converged(trial):
    """Whether early stopping ended `trial` before its planned epochs: it stopped improving."""
    return bool(trial.metrics.exists("converged") and trial.metrics.get_last_value("converged"))


def passes_done(trial):
    """Whole epochs of the training split a trial's kept weights have seen.

    A completed trial keeps its best epoch's weights; before it completes, its plan counts.
    """
    values = trial.hyperparameters.values
    epochs = int(values.get("tuner/epochs", 0))
    if trial.metrics.exists("best_epoch"):
        epochs = int(trial.metrics.get_last_value("best_epoch"))
    return int(epochs * float(values.get("tuner/fraction", 1.0)))
