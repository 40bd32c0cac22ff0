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

Lookup tables leak too (tensorflow/tensorflow#61866, open): a `tf.lookup` table
created eagerly under a shared name, as Keras's `StringLookup` and
`TextVectorization` create theirs, stays in TensorFlow's resource manager after
its Python object is gone; a 50,000-token vocabulary is about 4 MB per model.
Tables made while a trial ran are destroyed when their Python object is
collected, as TensorFlow destroys a variable's memory.
"""

import contextlib
import gc
import re
import weakref

from automl.adapters import tensorflow as tf_private

_CUSTOM_GRADIENT_PREFIX = "CustomGradient-"
LAST_LEAKING_TENSORFLOW = (2, 21)


def removal_needed(version):
    """Whether TensorFlow `version` (such as "2.21.0") keeps traced graphs in its registry."""
    match = re.match(r"(\d+)\.(\d+)", version)
    return match is None or (int(match.group(1)), int(match.group(2))) <= LAST_LEAKING_TENSORFLOW


class Release:
    """What `released_after` released: gradient functions removed, lookup tables to destroy."""

    removed = 0
    tables = 0


def _destroy(handle):
    import tensorflow as tf

    try:
        tf.raw_ops.DestroyResourceOp(resource=handle, ignore_lookup_error=True)
    except Exception:  # the runtime may be shutting down
        pass


def _destroy_when_collected(resources):
    """Destroy each eager, named lookup table in `resources` once nothing refers to it.

    Returns how many tables will be destroyed.
    """
    from tensorflow.python.ops import lookup_ops

    count = 0
    for table in resources:
        handle = getattr(table, "_resource_handle", None)
        if (isinstance(table, lookup_ops.LookupInterface) and hasattr(handle, "numpy")
                and not getattr(table, "_is_anonymous", False)):
            weakref.finalize(table, _destroy, handle).atexit = False
            count += 1
    return count


@contextlib.contextmanager
def released_after(keras):
    """Run a block, then free the models, graphs, gradient functions and tables it made.

    Yields a `Release` that counts the gradient functions removed and the lookup
    tables that will be destroyed with their Python objects. The release never
    raises: should TensorFlow's internals change shape, nothing is released and
    the block's own outcome stands.
    """
    import tensorflow as tf

    release = Release()
    registry = tf_private.gradient_registry() if removal_needed(tf.__version__) else {}
    before = set(registry)
    try:
        tracker = tf_private.start_tracking()
    except Exception:  # a private module: never fail a trial over it
        tracker = None
    try:
        yield release
    finally:
        try:
            created = tf_private.stop_tracking(tracker) if tracker is not None else []
        except Exception:
            created = []
        keras.backend.clear_session()
        try:
            for name in set(registry) - before:
                if name.startswith(_CUSTOM_GRADIENT_PREFIX):
                    del registry[name]
                    release.removed += 1
        except Exception:  # a private registry: never fail a trial over it
            pass
        try:
            release.tables = _destroy_when_collected(created)
        except Exception:  # a resource of a shape not known here
            pass
        created.clear()
        gc.collect()
