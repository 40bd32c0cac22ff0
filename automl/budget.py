"""The time budget: one deadline for the whole command, and a callback that keeps it.

How the budget is shared between trials, the retrain and the export is decided by
`automl.planner`.
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


def deadline_callback(keras, deadline, min_epochs=0):
    """A Keras callback that stops training once `deadline` (time.time()) passes.

    With `min_epochs`, training is not stopped before that many epochs completed.
    Its `stopped` attribute says whether the deadline stopped training, and
    `batches_done` counts the batches trained.
    """

    class StopAtDeadline(keras.callbacks.Callback):
        stopped = False
        epochs_done = 0
        batches_done = 0

        def on_epoch_end(self, epoch, logs=None):
            self.epochs_done += 1

        def on_train_batch_end(self, batch, logs=None):
            self.batches_done += 1
            if self.epochs_done >= min_epochs and time.time() >= deadline:
                self.stopped = True
                self.model.stop_training = True

    return StopAtDeadline()
