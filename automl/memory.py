"""Release what a trained model leaves behind, so memory stays flat across trials.

`keras.backend.clear_session()` drops Keras' own state, but not one global that
TensorFlow keeps: in graph mode `tf.custom_gradient` registers each wrapped
function's gradient in the process-wide gradient registry, and the registered
closure holds the traced graph. Every Keras optimizer step goes through
`tf.distribute`'s all-reduce, which is such a function, so each traced train
step (with its whole model graph) would stay in memory for good. Entries made
while a trial ran are only needed to differentiate that trial's graphs, so they
are removed when it ends.

TensorFlow fixed the capture upstream (tensorflow/tensorflow#97697, pull request
109334, merged in February 2026); the releases known to need the removal are those
up to `LAST_LEAKING_TENSORFLOW`, and later ones are left alone.
"""

import contextlib
import gc
import re

_CUSTOM_GRADIENT_PREFIX = "CustomGradient-"
LAST_LEAKING_TENSORFLOW = (2, 21)


def removal_needed(version):
    """Whether TensorFlow `version` (such as "2.21.0") keeps traced graphs in its registry."""
    match = re.match(r"(\d+)\.(\d+)", version)
    return match is None or (int(match.group(1)), int(match.group(2))) <= LAST_LEAKING_TENSORFLOW


def _gradient_registry():
    """TensorFlow's registry of gradient functions by name (empty if it moved)."""
    from tensorflow.python.framework import ops

    return getattr(getattr(ops, "_gradient_registry", None), "_registry", {})


class Release:
    """What `released_after` removed: the number of gradient functions."""

    removed = 0


@contextlib.contextmanager
def released_after(keras):
    """Run a block, then free the models, graphs and gradient functions it made.

    Yields a `Release` whose `removed` counts the gradient functions removed. The
    release never raises: should TensorFlow's registry change shape, nothing is
    removed and the block's own outcome stands.
    """
    import tensorflow as tf

    release = Release()
    registry = _gradient_registry() if removal_needed(tf.__version__) else {}
    before = set(registry)
    try:
        yield release
    finally:
        keras.backend.clear_session()
        try:
            for name in set(registry) - before:
                if name.startswith(_CUSTOM_GRADIENT_PREFIX):
                    del registry[name]
                    release.removed += 1
        except Exception:  # a private registry: never fail a trial over it
            pass
        gc.collect()
