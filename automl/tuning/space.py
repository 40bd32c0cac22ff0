"""The search space every task shares: optimizer and schedule (the head and loss are the
problem type's, `automl.problems`)."""

import dataclasses
import math

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
WARMUP_SHARE = 0.1   # share of a trial's steps spent warming the learning rate up
RESUME_WARMUP_SHARE = 0.05  # the same for a model that continues with a fresh optimizer
# A fit of at most this many training steps runs eagerly: tracing its training and
# validation steps into graphs costs seconds, more than running so few steps eagerly.
EAGER_STEPS = 32


@dataclasses.dataclass(frozen=True)
class TrainingPlan:
    """How long a model will train: batches per epoch and the epochs it covers.

    `initial_epoch` above 0 continues a model that has already trained that many
    epochs; its learning rate schedule picks up where a schedule over `epochs`
    would stand. With `until` (a `time.time()` reading), the model trains until then
    instead, its cosine decay following the clock (`timed_decay`).
    """

    steps_per_epoch: int = 1
    epochs: int = 1
    initial_epoch: int = 0
    until: float = None

    def eager(self):
        """Whether the fit runs eagerly: a fit of at most `EAGER_STEPS` training steps,
        where tracing its steps into graphs would cost more than running them."""
        return (self.until is None
                and self.steps_per_epoch * (self.epochs - self.initial_epoch) <= EAGER_STEPS)


def set_temperature(model, temperature):
    """Divide the logits of `model`'s head by `temperature` (folded into its weights)."""
    head = model.get_layer("probabilities")
    head.set_weights([weight / temperature for weight in head.get_weights()])


def learning_rate(hp, keras, plan):
    """The peak learning rate, and with `optimizer/schedule` cosine, warm-up then cosine decay."""
    peak = hp.Float("optimizer/learning_rate", 1e-4, 1e-1, sampling="log", default=1e-3)
    schedule = hp.Choice("optimizer/schedule", ["cosine", "constant"], default="cosine")
    if schedule == "constant":
        return peak
    if plan.until is not None:
        return starting_rate(peak, plan)
    remaining = max(plan.epochs - plan.initial_epoch, 1) * plan.steps_per_epoch
    if plan.initial_epoch == 0:
        return _warm_cosine(keras, peak, remaining, WARMUP_SHARE)
    # Continued weights get a fresh optimizer, whose first steps (no moment estimates
    # yet) are as large as the rate: a short warm-up keeps them from undoing the training.
    return _warm_cosine(keras, starting_rate(peak, plan), remaining, RESUME_WARMUP_SHARE)


def _warm_cosine(keras, rate, steps, warmup_share):
    """Over `steps`: a linear warm-up from a tenth of `rate` over `warmup_share` of
    them, then cosine decay to zero."""
    warmup = int(warmup_share * steps)
    return keras.optimizers.schedules.CosineDecay(
        rate / 10 if warmup else rate, steps - warmup,
        warmup_target=rate if warmup else None, warmup_steps=warmup)


def starting_rate(peak, plan):
    """Where a cosine schedule over `plan.epochs` stands after `plan.initial_epoch` epochs."""
    return peak * 0.5 * (1 + math.cos(math.pi * plan.initial_epoch / max(plan.epochs, 1)))


def timed_decay(keras, plan, started):
    """A callback that decays the learning rate by the clock, to zero at `plan.until`.

    Cosine decay from the rate the optimizer starts with, as the share of the time
    from `started` to `plan.until` that has passed: training ends on a schedule
    that has finished, however fast the machine turns out to be. The first
    `WARMUP_SHARE` of the time ramps up to that rate from a tenth of it, or
    `RESUME_WARMUP_SHARE` for weights that continue (the optimizer is fresh; the
    weights are not).
    """
    import time

    warmup = RESUME_WARMUP_SHARE if plan.initial_epoch else WARMUP_SHARE

    class TimedCosineDecay(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

        def on_train_batch_begin(self, batch, logs=None):
            share = min(max((time.time() - started) / max(plan.until - started, 1e-9), 0.0), 1.0)
            self.model.optimizer.learning_rate.assign(timed_rate(self.start, share, warmup))

    return TimedCosineDecay()


def timed_rate(peak, share, warmup=RESUME_WARMUP_SHARE):
    """The rate of a timed schedule from `peak` once `share` of its time has passed:
    a linear warm-up from a tenth of `peak` over the `warmup` share, then cosine decay."""
    if share < warmup:
        return peak * (0.1 + 0.9 * share / warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * share))


def make_optimizer(hp, keras, plan=TrainingPlan()):
    """An optimizer chosen from the shared space (`optimizer/...` names)."""
    name = hp.Choice("optimizer/name", list(OPTIMIZERS), default="adam")
    rate = learning_rate(hp, keras, plan)
    with hp.conditional_scope("optimizer/name", ["adamw", "sgd"]):
        weight_decay = hp.Float("optimizer/weight_decay", 1e-6, 1e-2, sampling="log", default=1e-4)
    if name == "adam":
        return keras.optimizers.Adam(rate)
    if name == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=weight_decay)
    if name == "sgd":
        return keras.optimizers.SGD(rate, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    return keras.optimizers.RMSprop(rate)


def compile_model(hp, keras, model, loss, metrics, plan=TrainingPlan()):
    """Compile `model` with the shared optimizer, the problem's `loss` and `metrics`."""
    model.compile(optimizer=make_optimizer(hp, keras, plan), loss=loss, metrics=metrics)
    return model
