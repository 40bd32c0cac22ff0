"""The time budget: one deadline for the whole command, and the arithmetic that shares it.

Every function here is pure: it takes the clock reading (`now`, seconds since the
epoch) and measured costs as arguments, so the rules are unit-tested with a fake
clock. The search loop supplies the measurements and does what they decide.
"""

import math
import time

FIRST_TRIAL_SHARE = 0.15   # the first trial ends within this share of the budget
RETRAIN_SHARE = 0.25       # a retrain is planned only when it costs at most this share
RETRAIN_FIT_SHARE = 0.8    # a retrain's estimate overstates it by about this much
SINGLE_CONFIG_SHARE = 0.5  # the most one configuration may train, as a share of the budget
TRIAL_CAP_FACTOR = 3.0     # a trial may run this many times its estimate before it is cut
SMALLEST_FRACTION = 0.1    # the smallest share of the training split a trial trains on
FIRST_RUNG_EPOCHS = 2      # the fewest epochs of a rung below the top one


class Budget:
    """Deadline arithmetic for a command started at `started_at` (time.time()).

    Without `seconds`, every deadline is infinitely far away.
    """

    def __init__(self, seconds, started_at):
        self.seconds = seconds
        self.started_at = started_at

    @property
    def end(self):
        return float("inf") if self.seconds is None else self.started_at + self.seconds

    def elapsed(self):
        return time.time() - self.started_at

    def remaining(self):
        return self.end - time.time()


def finishing_reserve(export_seconds, evaluate_seconds, retrain_seconds, budget_seconds):
    """Seconds kept back after the search: export, evaluation, and a retrain if one is planned.

    A retrain is planned only when it costs at most `RETRAIN_SHARE` of the budget;
    otherwise the search model is exported and that time goes to the search. A
    retrain that finds less time than its estimate runs fewer epochs (`retrain_epochs`).
    """
    reserve = export_seconds + evaluate_seconds
    if retrain_planned(retrain_seconds, budget_seconds):
        reserve += 1.1 * retrain_seconds
    return reserve


def retrain_planned(retrain_seconds, budget_seconds):
    """Whether retraining on train+val is worth its share of the budget."""
    return budget_seconds is None or retrain_seconds <= RETRAIN_SHARE * budget_seconds


def retrain_epochs(best_epochs, epoch_seconds, overhead_seconds, available_seconds, growth):
    """Epochs a retrain on train+val runs in `available_seconds`; 0 when it should not start.

    The trial's best epoch count where it fits, else as many epochs as fit, down to
    as many training steps as the trial's own model took (`best_epochs / growth`,
    where `growth` is how much larger train+val is than train): the retrain's
    learning-rate schedule is laid out over the epochs it runs, so it finishes
    instead of being cut short. `epoch_seconds` is one epoch on train+val as measured
    in the trial, validation and the traced first epoch included, so a retrain takes
    about `RETRAIN_FIT_SHARE` of its estimate.
    """
    if math.isinf(available_seconds):
        return best_epochs
    fitting = int((available_seconds / RETRAIN_FIT_SHARE - overhead_seconds)
                  / max(epoch_seconds, 1e-9))
    fewest = math.ceil(best_epochs / growth)
    return min(best_epochs, fitting) if fitting >= fewest else 0


def trial_deadline(now, search_deadline, estimate, budget_seconds, first_minimum=None):
    """When a trial estimated at `estimate` seconds is stopped and scored where it stands.

    A trial may run `TRIAL_CAP_FACTOR` times its estimate (at least a tenth of the
    budget) and never past the search deadline, except the first trial, which is
    given at least `first_minimum` seconds (one epoch) so that the search always
    produces a model.
    """
    if budget_seconds is None:
        return float("inf")
    cap = now + max(TRIAL_CAP_FACTOR * estimate, 0.1 * budget_seconds)
    deadline = min(search_deadline, cap)
    return deadline if first_minimum is None else max(deadline, now + first_minimum)


def worth_starting(now, search_deadline, cheapest_seconds):
    """Whether there is time before the search deadline for the cheapest useful trial."""
    return search_deadline - now >= cheapest_seconds


def rungs(max_epochs, epoch_seconds, budget_seconds, eta=3):
    """Cumulative epochs of the successive-halving rungs, cheapest first.

    The top rung is the trial's epoch count, lowered so that one configuration
    trains for at most `SINGLE_CONFIG_SHARE` of the budget; each lower rung has
    `eta` times fewer epochs, down to `FIRST_RUNG_EPOCHS`: fewer epochs rank
    configurations by how fast they start, not by how good they get.
    """
    top = max_epochs
    if budget_seconds is not None and epoch_seconds > 0:
        top = min(top, int(SINGLE_CONFIG_SHARE * budget_seconds / epoch_seconds))
    top = max(top, 1)
    levels = [top]
    while levels[0] / eta >= FIRST_RUNG_EPOCHS and len(levels) < 4:
        levels.insert(0, max(1, int(round(levels[0] / eta))))
    return sorted(set(levels))


def first_fraction(first_epochs, epoch_seconds, overhead_seconds, budget_seconds):
    """Share of the training split the first rung trains on, so it fits its share of the budget.

    1.0 unless even `first_epochs` epochs of the whole split would take longer than
    `FIRST_TRIAL_SHARE` of the budget; never below `SMALLEST_FRACTION`.
    """
    if budget_seconds is None or epoch_seconds <= 0:
        return 1.0
    allowed = FIRST_TRIAL_SHARE * budget_seconds - overhead_seconds
    fraction = allowed / (first_epochs * epoch_seconds)
    return float(min(1.0, max(SMALLEST_FRACTION, round(fraction, 2))))


def first_rung(levels, trial_seconds, budget_seconds):
    """Index of the highest rung at which the first trial ends within its share of the budget.

    `trial_seconds(epochs)` estimates the first configuration at that many epochs.
    """
    if budget_seconds is None:
        return 0
    fitting = [i for i, epochs in enumerate(levels)
               if trial_seconds(epochs) <= FIRST_TRIAL_SHARE * budget_seconds]
    return fitting[-1] if fitting else 0


def minimum_budget(startup_seconds, smallest_trial_seconds, finishing_seconds):
    """The shortest budget in which one trial at the smallest fidelity and the export fit."""
    return int(math.ceil(1.2 * (startup_seconds + smallest_trial_seconds + finishing_seconds)))


def deadline_callback(keras, deadline, min_epochs=0):
    """A Keras callback that stops training once `deadline` (time.time()) passes.

    With `min_epochs`, training is not stopped before that many epochs completed.
    """

    class StopAtDeadline(keras.callbacks.Callback):
        stopped = False
        epochs_done = 0

        def on_epoch_end(self, epoch, logs=None):
            self.epochs_done += 1

        def on_train_batch_end(self, batch, logs=None):
            if self.epochs_done >= min_epochs and time.time() >= deadline:
                self.stopped = True
                self.model.stop_training = True

    return StopAtDeadline()
