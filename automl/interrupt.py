"""Ctrl-C that always stops a command cleanly.

The SIGINT handler only records the interrupt; the command stops at the next safe
point: between batches (a Keras callback), between trials and phases, and while
data is read. State saved so far stays consistent, and the command exits with 130.
A second Ctrl-C stops at once, as Python's own handler would.
"""

import signal

_interrupted = False


def install():
    """Record SIGINT instead of raising wherever the interpreter happens to be."""
    global _interrupted
    _interrupted = False
    try:
        signal.signal(signal.SIGINT, _record)
    except ValueError:  # not the main thread: Python's own handling stays
        pass


def _record(signum, frame):
    global _interrupted
    if _interrupted:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        raise KeyboardInterrupt
    _interrupted = True


def check():
    """Raise KeyboardInterrupt at this safe point if Ctrl-C was pressed."""
    if _interrupted:
        raise KeyboardInterrupt


def keras_callback(keras):
    """A callback that stops training, evaluation or prediction between batches."""

    class StopOnInterrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            check()

        def on_test_batch_end(self, batch, logs=None):
            check()

        def on_predict_batch_end(self, batch, logs=None):
            check()

        def on_epoch_end(self, epoch, logs=None):
            check()

    return StopOnInterrupt()
