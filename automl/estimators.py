"""Keras-style estimators: `fit`, `predict`, `evaluate` and `export` over `automl.search`.

Thin wrappers for those used to AutoKeras's `ImageClassifier(...).fit(x, y)`: every
call goes through `automl.search` and its `Predictor`, with the same settings.
"""

import os
import shutil

import numpy as np

from automl import api
from automl.errors import AutomlError


class _Classifier:
    task = None

    def __init__(self, *, out=None, time_budget=None, verbose=1, callbacks=None, **settings):
        """Settings for `fit`'s search: any keyword `automl.search` takes.

        The labels are classes whatever they look like (integers included); `problem`
        may be "multilabel" for multi-hot labels.
        """
        self.settings = {"out": out, "time_budget": time_budget, "verbose": verbose,
                         "callbacks": callbacks, **settings}
        self.result = None
        self._class_names = None
        self._integer_labels = False

    def fit(self, x, y=None, validation_data=None, test_data=None, **settings):
        """Search on `(x, y)` (or a DataFrame or source as `x`); returns the estimator.

        Keywords override the constructor's settings for this search
        (`time_budget=120`).
        """
        given = {**self.settings, **{k: v for k, v in settings.items() if v is not None}}
        given["problem"] = given.get("problem") or "classification"
        if given["problem"] == "regression":
            raise AutomlError(f"{type(self).__name__} classifies: search a regression with "
                              "automl.search(..., problem='regression')")
        data = x if y is None else (x, y)
        self.result = api.search(self.task, data, validation_data=validation_data,
                                 test_data=test_data, **given)
        labels = None if y is None else np.asarray(getattr(y, "to_numpy", lambda: y)())
        self._class_names = given.get("class_names")
        self._integer_labels = (labels is not None and labels.dtype.kind in "iu"
                                and labels.ndim == 1 and self._class_names is None)
        return self

    def _fitted(self):
        if self.result is None:
            raise AutomlError(f"this {type(self).__name__} has not been fitted: call fit first")
        return self.result

    @property
    def run_dir(self):
        return self._fitted().run_dir

    @property
    def card(self):
        return self._fitted().card

    def predict(self, x, **options):
        """Predicted labels, of the type `fit`'s labels had (integers or class names)."""
        labels = self._fitted().predict(x, **options).labels
        return labels.astype("int64") if self._integer_labels else labels

    def predict_proba(self, x, **options):
        """Class probabilities `[N, classes]` in the order of `card["classes"]`."""
        return self._fitted().predict_proba(x, **options)

    def evaluate(self, x, y=None, **options):
        """Scores (accuracy, per class, ...) on labelled `(x, y)`, a DataFrame or a source."""
        if y is not None and not isinstance(x, (str, os.PathLike)):
            options.setdefault("class_names", self._class_names)
        return self._fitted().evaluate(x if y is None else (x, y), **options)

    def export(self, path):
        """Copy the exported model folder (SavedModel, .keras, card) to `path`; returns it.

        `automl.load(path)` and `automl predict path` read the copy as they read the run.
        """
        source = os.path.join(self._fitted().run_dir, "model")
        if os.path.exists(path):
            raise AutomlError(f"export path exists: {path}")
        shutil.copytree(source, path)
        return path


class ImageClassifier(_Classifier):
    """Image classification: `fit(x, y)` with `x` images `[N, H, W, C]`, a list of arrays or paths."""

    task = "image"


class TextClassifier(_Classifier):
    """Text classification: `fit(x, y)` with `x` a list, array or Series of strings."""

    task = "text"


class AudioClassifier(_Classifier):
    """Audio classification: `fit(x, y, sample_rate=16000)` with `x` waveforms `[N, samples]`."""

    task = "audio"
