"""Quiet, checked import of TensorFlow and Keras, and lazy import of the modules that
import them at once.

TensorFlow writes several lines to stderr at import that no environment variable
silences; they are sent to /dev/null for the duration of the import. The Keras
backend must be TensorFlow, since exports are TensorFlow SavedModels.
"""

import contextlib
import gc
import importlib
import logging
import os
import sys
import threading
import types
import warnings

from automl.errors import AutomlError

_VERBOSE = False
_FIRST_IMPORT = threading.Lock()


def set_verbose(verbose):
    """Let TensorFlow's own logging through (`automl -v`)."""
    global _VERBOSE
    _VERBOSE = bool(verbose)


def is_verbose():
    return _VERBOSE


@contextlib.contextmanager
def silenced_stderr():
    """Send file descriptor 2 to /dev/null for the block (unless verbose)."""
    if _VERBOSE:
        yield
        return
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def check_backend():
    """Select the TensorFlow backend, refusing any other that the user set."""
    backend = os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if backend != "tensorflow":
        raise AutomlError(
            f"KERAS_BACKEND={backend} is not supported: keras-automl exports "
            "TensorFlow SavedModels and needs KERAS_BACKEND=tensorflow"
        )


def import_tensorflow():
    """Import TensorFlow and Keras quietly and return `(tf, keras)`.

    The first call also hides what is loaded by then (TensorFlow's and Keras's own
    objects, some 400,000) from Python's cyclic garbage collector with `gc.freeze()`:
    they live as long as the process, and each collection (one after every trial)
    then scans only what the search made, in milliseconds instead of a quarter of a
    second. Reference counting frees frozen objects as before. The collector is off
    during that first import, most of whose objects stay alive: its collections would
    scan the growing heap for little (over a tenth of the import's time).
    """
    check_backend()
    if not _VERBOSE:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    with _FIRST_IMPORT:
        first = not gc.get_freeze_count()
        with _collector_off() if first else contextlib.nullcontext(), silenced_stderr():
            import tensorflow as tf
            import keras
        if first:
            gc.collect()  # nothing unreachable is frozen
            gc.freeze()
    if not _VERBOSE:
        tf.get_logger().setLevel(logging.ERROR)
        tf.autograph.set_verbosity(0)
        logging.getLogger("absl").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module="keras")
        warnings.filterwarnings("ignore", module="tensorflow")
        warnings.filterwarnings("ignore", module="keras_tuner")
        warnings.filterwarnings("ignore", module="sklearn")
        keras.utils.disable_interactive_logging()
    return tf, keras


@contextlib.contextmanager
def _collector_off():
    """Python's cyclic garbage collector off for the block, then as it was."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class _LazyModule(types.ModuleType):
    """Stands for a module until one of its names is used, then imports it.

    It stays out of `sys.modules`, so code that walks the loaded modules (AutoGraph
    does, each time it converts a function) never imports it by looking.
    """

    def __getattr__(self, attribute):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return getattr(importlib.import_module(self.__name__), attribute)


def lazy_module(name):
    """The module `name`, imported on first use of one of its names.

    The front doors (`automl.api`, the CLI) hold the modules that import TensorFlow or
    keras-tuner at once through this, so `import automl` and `automl --help` stay fast.
    """
    return sys.modules.get(name) or _LazyModule(name)
