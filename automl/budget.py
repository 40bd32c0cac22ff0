"""The time budget: one deadline for the whole command, shared by every phase."""

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

    @property
    def export_reserve(self):
        """Seconds kept for evaluation and export after retraining."""
        return 0.0 if self.seconds is None else max(8.0, 5.0 + 0.02 * self.seconds)


def deadline_callback(keras, deadline):
    """A Keras callback that stops training once `deadline` (time.time()) passes."""

    class StopAtDeadline(keras.callbacks.Callback):
        stopped = False

        def on_train_batch_end(self, batch, logs=None):
            if time.time() >= deadline:
                self.stopped = True
                self.model.stop_training = True

    return StopAtDeadline()
