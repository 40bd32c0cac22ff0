"""Ctrl-C and SIGTERM that always stop a command cleanly.

The handler only records which signal asked to stop; a search stops at the next
safe point: between batches (a Keras callback), between trials and phases, and
while data is read. State saved so far stays consistent, and the command exits
with 128 plus the signal's number (130 for Ctrl-C, 143 for SIGTERM, as batch
schedulers, Docker and Kubernetes send). A second signal stops at once, as
Python's own handler would. Commands with nothing to save (`predict`, `evaluate`)
stop at the first one (`stop_at_once`).
"""

import contextlib
import signal

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received = None


def install():
    """Record SIGINT and SIGTERM instead of raising wherever the interpreter happens to be."""
    global _received
    _received = None
    _handle(_record)


@contextlib.contextmanager
def recording():
    """`install` for the duration of a block, then the handlers that were there before and
    no signal recorded (a later call in the same process starts afresh)."""
    global _received
    try:
        previous = [signal.getsignal(number) for number in SIGNALS]
    except ValueError:
        previous = None
    install()
    try:
        yield
    finally:
        _received = None
        if previous is not None:
            try:
                for number, handler in zip(SIGNALS, previous):
                    signal.signal(number, handler if handler is not None else signal.SIG_DFL)
            except ValueError:
                pass


def stop_at_once():
    """Raise KeyboardInterrupt as soon as SIGINT or SIGTERM arrives."""
    _handle(_raise)


def _handle(handler):
    try:
        for number in SIGNALS:
            signal.signal(number, handler)
    except ValueError:  # not the main thread: Python's own handling stays
        pass


def _record(signum, frame):
    global _received
    if _received is not None:
        _raise(signum, frame)
    _received = signum


def _raise(signum, frame):
    global _received
    _received = signum
    raise KeyboardInterrupt


def exit_code():
    """The exit code for the signal that stopped the command: 128 plus its number."""
    return 128 + int(_received or signal.SIGINT)


def check():
    """Raise KeyboardInterrupt at this safe point if a stop was asked for."""
    if _received is not None:
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
