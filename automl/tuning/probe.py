"""A short throughput probe: how fast this machine trains the task's first configuration.

Before the search starts (and before anything is written), the first known-good
configuration is built and trained on a few batches. The measured build time and
seconds per example size the first trial, the rungs of successive halving, the
reserves for evaluation and export, and the shortest budget that can work.
"""

import dataclasses
import time

from automl.runtime.memory import released_after
from automl.tuning.space import TrainingPlan

PROBE_WARMUP = 3    # batches that trace the model and fill the input pipeline
PROBE_BATCHES = 10  # batches timed after them


@dataclasses.dataclass(frozen=True)
class Probe:
    """Measured costs of the first configuration on this machine."""

    build_seconds: float      # build, compile, trace and one training step
    example_seconds: float    # training seconds per example once traced
    train_examples: int
    val_examples: int
    test_examples: int

    def epoch_seconds(self, fraction=1.0):
        """One epoch on `fraction` of train, with validation (inference is about 3x faster)."""
        return self.example_seconds * (fraction * self.train_examples + self.val_examples / 3)

    def trial_seconds(self, epochs, fraction=1.0):
        return self.build_seconds + epochs * self.epoch_seconds(fraction)

    def evaluate_seconds(self, members=1):
        """Predicting the test split once (plus tracing)."""
        return members * (0.5 + 0.2 * self.build_seconds
                          + self.example_seconds * self.test_examples / 3)

    def export_seconds(self, members=1):
        """Writing `model.keras` and tracing the SavedModel's serving function."""
        return 1.0 + 0.5 * members * self.build_seconds


def measure(hypermodel, feeds, hp, batch_size, keras):
    """Build the configuration `hp`, train it on a few batches and time it.

    The first `PROBE_WARMUP` batches (tracing, the shuffle buffer filling) count as
    building; the next `PROBE_BATCHES` give the time per example.
    """
    keras.utils.set_random_seed(0)
    steps = min(PROBE_WARMUP + PROBE_BATCHES, feeds.steps("train", batch_size))
    warmup = min(PROBE_WARMUP, steps - 1) if steps > 1 else 0
    ends = []

    class BatchTimes(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            ends.append(time.perf_counter())

    with released_after(keras):
        started = time.perf_counter()
        plan = TrainingPlan(steps_per_epoch=steps)
        prior = feeds.prior_of("train")
        model = hypermodel.trainer(hp, hypermodel.build_for(hp, plan, prior), plan, prior)
        batches = feeds.pipeline("train", hp, batch_size, training=True)
        model.fit(batches.take(steps), epochs=1, shuffle=False, verbose=0,
                  callbacks=[BatchTimes()])
        del model
    if warmup:
        build_seconds = ends[warmup - 1] - started
        step_seconds = (ends[-1] - ends[warmup - 1]) / (len(ends) - warmup)
    else:
        build_seconds = step_seconds = ends[-1] - started
    return Probe(build_seconds=build_seconds, example_seconds=step_seconds / batch_size,
                 train_examples=feeds.count("train"), val_examples=feeds.count("val"),
                 test_examples=feeds.count("test"))
