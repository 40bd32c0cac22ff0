"""The time budget: one deadline for the whole command, and a callback that keeps it.

How the budget is shared between trials, the retrain and the export is decided by
`automl.tuning.planner`.
"""

import time


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


def deadline_callback(keras, deadline):
    """A Keras callback that stops training once `deadline` (time.time()) passes.

    Its `stopped` attribute says whether the deadline stopped training,
    `batches_done` counts the batches trained and `epoch_ends` holds when each
    epoch ended (`time.time()`).
    """

    class StopAtDeadline(keras.callbacks.Callback):
        stopped = False
        batches_done = 0

        def __init__(self):
            super().__init__()
            self.epoch_ends = []

        @property
        def epochs_done(self):
            return len(self.epoch_ends)

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_ends.append(time.time())

        def on_train_batch_end(self, batch, logs=None):
            self.batches_done += 1
            if time.time() >= deadline:
                self.stopped = True
                self.model.stop_training = True

    return StopAtDeadline()
