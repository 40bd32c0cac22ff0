"""TensorFlow's private names: the gradient registry and the resource tracker stack,
through which `automl.runtime.memory` frees what a trial leaves behind.

Supported: tensorflow >=2.21,<2.22 (newer releases release traced graphs themselves,
see `automl.runtime.memory.removal_needed`).
"""

from automl.adapters import require

SUPPORTED = ">=2.21,<2.22"


def check():
    """Raise an `AutomlError` naming the supported versions if a private name is gone."""
    from tensorflow.python.framework import ops
    from tensorflow.python.trackable import resource

    require(ops, ["_gradient_registry"], "tensorflow", SUPPORTED)
    require(ops._gradient_registry, ["_registry"], "tensorflow", SUPPORTED)
    require(resource, ["_RESOURCE_TRACKER_STACK", "ResourceTracker"], "tensorflow", SUPPORTED)


def gradient_registry():
    """TensorFlow's registry of gradient functions by name (empty if it moved)."""
    from tensorflow.python.framework import ops

    return getattr(getattr(ops, "_gradient_registry", None), "_registry", {})


def start_tracking():
    """Start recording the TensorFlow resources created, in any thread; returns the record."""
    from tensorflow.python.trackable import resource

    tracker = resource.ResourceTracker()
    resource._RESOURCE_TRACKER_STACK.append(tracker)
    return tracker


def stop_tracking(tracker):
    """Stop `tracker` alone and return what it recorded.

    TensorFlow's own `resource_tracker_scope` restores a saved copy of the stack,
    which would leave a tracker behind when blocks in two threads end out of order.
    """
    from tensorflow.python.trackable import resource

    stack = resource._RESOURCE_TRACKER_STACK
    stack[:] = [t for t in stack if t is not tracker]
    return tracker.resources
