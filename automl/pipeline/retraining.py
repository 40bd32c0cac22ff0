"""Retraining the chosen trials on train+val, and the health check that keeps a search
model where a retrain did worse.
"""

import dataclasses
import time

from automl.tuning.planner import RESERVE_MARGIN


@dataclasses.dataclass
class Retrained:
    """An exported member: its model, how it was retrained and what it has seen."""

    model: object
    mode: str = None       # "fresh", "continued", or None: the trial's search model
    epochs: int = 0        # cumulative epochs of the retrain (0: none)
    examples: int = 0      # training examples the model has seen
    note: str = None       # why the search model was kept


def retrain(tuner, trial, settings, progress, kept_back=0.0, members=1):
    """`trial` retrained on train+val in the time left but `kept_back` seconds; a `Retrained`.

    The planner (`automl.tuning.planner.Planner.retrain_plan`) chooses: from scratch for the
    trial's best epoch count where it fits, or, where that is not worth its share of the budget,
    the trial's own weights continued on train+val until the time left is spent, its
    learning rate decaying by the clock to zero at the end (so it reaches the top
    rung and goes on as far as the machine's speed allows). A retrain from scratch of
    a trial still improving at its last epoch (or at chance) also trains by the
    clock, until the time left is spent (`Planner.retrains_by_clock`). Where neither
    fits, or a retrain from scratch is cut short, or the model does worse than the
    search model on val (which it trained on: a lower score, or a higher loss, so
    less sure of its answers), the trial's search model (trained on train only) is
    exported instead, with a note. `members` is how many models the export holds: their
    evaluation and export follow the retrain.
    """
    planner = tuner.planner
    deadline = planner.retrain_deadline(members) - kept_back
    mode, initial, epochs = planner.retrain_plan(trial, deadline - time.time())
    seen = int(trial.metrics.get_last_value("examples_seen") or 0)
    if mode is None:
        note = (f"kept the search model of trial {trial.trial_id}: retraining on train+val "
                f"(about {planner.retrain_estimate(trial):.0f}s) did not fit the time budget")
        return Retrained(tuner.best_model(trial), examples=seen, note=note)
    continued = mode == "continued"
    timed = planner.retrains_by_clock(trial, mode)
    verb = "continuing" if continued else "retraining"
    progress.phase(f"{verb} trial {trial.trial_id} on train+val until the budget's end"
                   if timed else
                   f"{verb} trial {trial.trial_id} on train+val for {epochs} "
                   f"epoch{'s' * (epochs != 1)}")
    fitted = tuner.fit(trial.hyperparameters, "train+val", epochs, deadline,
                       validation=False, seed=settings.seed, initial_epoch=initial,
                       weights=tuner.weights_path(trial.trial_id) if continued else None,
                       timed=timed)
    ran = len(fitted.history.get("loss", []))
    if fitted.stopped:
        note = (f"kept the search model of trial {trial.trial_id}: retraining on train+val "
                f"reached the time budget after {initial + ran} of {epochs} "
                f"epoch{'s' * (epochs != 1)}")
        return Retrained(tuner.best_model(trial), examples=seen, note=note)
    if not healthy(tuner, fitted.model, trial):
        note = (f"kept the search model of trial {trial.trial_id}: the model retrained on "
                "train+val did worse than it on val, which it had trained on")
        return Retrained(tuner.best_model(trial), examples=seen, note=note)
    examples = fitted.examples + (seen if continued else 0)
    return Retrained(fitted.model, mode, initial + ran, examples)


def retrain_members(tuner, members, models, settings, progress):
    """Ensemble members retrained on train+val where the budget allows; a list of `Retrained`.

    Members are chosen on val with their search models; each is then retrained on
    train+val like a single exported trial (`retrain`), in order, each in the time
    left but what the members after it are expected to need, with the reserve's
    margin (the first members, chosen first on val, matter most). A member whose
    retrain does not fit or fails keeps its search model.
    """
    needs = [RESERVE_MARGIN * tuner.planner.reserved_retrain(t, alone=False) for t in members]
    retrained = []
    for index, (trial, model) in enumerate(zip(members, models)):
        result = retrain(tuner, trial, settings, progress, kept_back=sum(needs[index + 1:]),
                         members=len(members))
        if result.mode is None:
            result.model = model
        else:
            result.model.name = model.name
            tuner.calibrate(trial, result.model)
        retrained.append(result)
    return retrained


def healthy(tuner, model, best):
    """Whether a model retrained on train+val does at least as well as the search model on val.

    Val is part of its training data, so a sound retrain matches or beats the search
    model's score there, and its loss is no higher (it is at least as sure of the
    right answers); otherwise the retrain diverged, landed badly or ended too soon.
    """
    objective = tuner.oracle.objective
    hp = best.hyperparameters
    logs = model.evaluate(tuner.feeds.pipeline("val", hp, tuner.batch_size(hp), training=False),
                          verbose=0, return_dict=True)
    score = logs.get(objective.name.removeprefix("val_"))
    if score is not None and (score > best.score if objective.direction == "min"
                              else score < best.score):
        return False
    search_loss = tuner.files.val_loss(best.trial_id, int(best.metrics.get_last_value("best_epoch")))
    return search_loss is None or logs.get("loss", search_loss) <= search_loss
