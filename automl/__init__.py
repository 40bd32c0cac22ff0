"""keras-automl: search, retrain and export Keras classifiers for images, text and audio.

Public names for plugin authors are resolved lazily, so `import automl` stays fast
and does not import TensorFlow.
"""

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "API_VERSION": "automl.task",
    "Task": "automl.task",
    "Option": "automl.task",
    "Dataset": "automl.data",
    "Split": "automl.data",
    "LabelledExamples": "automl.data",
    "FileExamples": "automl.data",
    "AutomlError": "automl.errors",
    "ELEMENT_COST": "automl.cost",
    "decode_folder": "automl.data",
    "load_tfds": "automl.data",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'automl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
