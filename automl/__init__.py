"""keras-automl: search, retrain and export Keras classifiers for images, text and audio.

`automl.search(task, data, ...)`, `automl.resume(run_dir)` and `automl.load(run_dir)`
drive the command line's pipeline from Python; `ImageClassifier`, `TextClassifier`
and `AudioClassifier` wrap them Keras-style. Public names (these, and the plugin
API's) are resolved lazily, so `import automl` stays fast and imports no TensorFlow.
"""

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "search": "automl.api",
    "resume": "automl.api",
    "load": "automl.api",
    "Predictor": "automl.api",
    "Prediction": "automl.api",
    "SearchResult": "automl.api",
    "ImageClassifier": "automl.estimators",
    "TextClassifier": "automl.estimators",
    "AudioClassifier": "automl.estimators",
    "SearchFailed": "automl.errors",
    "API_VERSION": "automl.task",
    "Task": "automl.task",
    "Augmentation": "automl.capabilities",
    "TestTimeAugmentation": "automl.capabilities",
    "OnDevice": "automl.capabilities",
    "CostEstimate": "automl.capabilities",
    "KnownGood": "automl.capabilities",
    "TrialFeedback": "automl.capabilities",
    "Initialization": "automl.capabilities",
    "TrainingTwin": "automl.capabilities",
    "Option": "automl.options",
    "Dataset": "automl.data.sources",
    "Split": "automl.data.sources",
    "LabelledExamples": "automl.data.sources",
    "FileExamples": "automl.data.sources",
    "AutomlError": "automl.errors",
    "ELEMENT_COST": "automl.cost",
    "decode_folder": "automl.data.sources",
    "MANIFEST_OPTIONS": "automl.data.manifest",
    "load_tfds": "automl.data.sources",
    "SPLIT_ALIASES": "automl.data.sources",
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
