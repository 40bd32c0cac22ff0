"""Keras metrics of the objectives Keras does not ship (over a whole evaluation set), the
regression loss on a standardised target and the class-balancing classification loss.

The classes subclass Keras's, so they are defined on first use: importing this module
imports no TensorFlow.
"""

import functools
import types

from automl.runtime import env

NAMES = ("BalancedAccuracy", "PositiveClassAUC", "SubsetAccuracy", "StandardisedError",
         "LogitAdjustedCrossentropy")


@functools.cache
def _defined():
    """Define the classes (once), with Keras imported."""
    _, keras = env.import_tensorflow()
    ops = keras.ops

    @keras.saving.register_keras_serializable(package="automl")
    class BalancedAccuracy(keras.metrics.Metric):
        """Mean recall over the classes present, from confusion counts kept across batches.

        Labels are one-hot (or mixed, taken by their largest entry); predictions are
        probabilities.
        """

        def __init__(self, num_classes, name="balanced_accuracy", **kwargs):
            super().__init__(name=name, **kwargs)
            self.num_classes = int(num_classes)
            self.correct = self.add_variable((self.num_classes,), "zeros", name="correct")
            self.support = self.add_variable((self.num_classes,), "zeros", name="support")

        def update_state(self, y_true, y_pred, sample_weight=None):
            true = ops.one_hot(ops.argmax(y_true, axis=-1), self.num_classes)
            hit = ops.cast(ops.equal(ops.argmax(y_true, axis=-1), ops.argmax(y_pred, axis=-1)),
                           "float32")
            self.support.assign_add(ops.sum(true, axis=0))
            self.correct.assign_add(ops.sum(true * hit[:, None], axis=0))

        def result(self):
            present = ops.cast(self.support > 0, "float32")
            recall = ops.divide_no_nan(self.correct, self.support)
            return ops.divide_no_nan(ops.sum(recall * present), ops.sum(present))

        def reset_state(self):
            self.correct.assign(ops.zeros_like(self.correct))
            self.support.assign(ops.zeros_like(self.support))

        def get_config(self):
            return {**super().get_config(), "num_classes": self.num_classes}


    @keras.saving.register_keras_serializable(package="automl")
    class PositiveClassAUC(keras.metrics.AUC):
        """ROC AUC of a two-class softmax: the second class's probability against its label."""

        def update_state(self, y_true, y_pred, sample_weight=None):
            super().update_state(y_true[:, 1], y_pred[:, 1], sample_weight)


    @keras.saving.register_keras_serializable(package="automl")
    class SubsetAccuracy(keras.metrics.MeanMetricWrapper):
        """Share of examples whose every label is right at 0.5."""

        def __init__(self, name="subset_accuracy", **kwargs):
            super().__init__(fn=_all_labels_right, name=name, **kwargs)

        def get_config(self):
            return {"name": self.name, "dtype": self.dtype}


    def _all_labels_right(y_true, y_pred):
        return ops.cast(ops.all(ops.equal(y_true > 0.5, y_pred >= 0.5), axis=-1), "float32")


    @keras.saving.register_keras_serializable(package="automl")
    class StandardisedError(keras.losses.Loss):
        """MSE or Huber of a regression taken on the standardised target: `(y - mean) / std`.

        The model outputs values in the target's units; the loss (and a Huber delta of
        one standard deviation) does not depend on those units.
        """

        def __init__(self, kind="huber", mean=0.0, std=1.0, name="standardised_error", **kwargs):
            super().__init__(name=name, **kwargs)
            self.kind, self.mean, self.std = kind, float(mean), float(std)

        def call(self, y_true, y_pred):
            error = (ops.cast(y_pred, "float32") - ops.cast(y_true, "float32")) / self.std
            if self.kind == "mse":
                return ops.mean(ops.square(error), axis=-1)
            absolute = ops.abs(error)
            quadratic = ops.minimum(absolute, 1.0)
            return ops.mean(0.5 * ops.square(quadratic) + (absolute - quadratic), axis=-1)

        def get_config(self):
            return {**super().get_config(), "kind": self.kind, "mean": self.mean, "std": self.std}


    @keras.saving.register_keras_serializable(package="automl")
    class LogitAdjustedCrossentropy(keras.losses.Loss):
        """Cross-entropy of the softmax over `log p + log prior` (logit adjustment,
        Menon et al., "Long-tail learning via logit adjustment", 2021).

        `y_pred` are the model's probabilities `p`; `prior` is each class's share of the
        training examples. Minimising it makes `argmax p` the classifier of the best
        balanced accuracy: a rare class needs a margin of `log(prior_common / prior_rare)`.
        Targets may be smoothed and mixed like `CategoricalCrossentropy`'s.
        """

        def __init__(self, prior, label_smoothing=0.0, name="logit_adjusted_crossentropy",
                     **kwargs):
            super().__init__(name=name, **kwargs)
            self.prior = [float(share) for share in prior]
            self.label_smoothing = float(label_smoothing)

        def call(self, y_true, y_pred):
            y_true = ops.cast(y_true, "float32")
            if self.label_smoothing:
                smoothing = self.label_smoothing
                y_true = y_true * (1.0 - smoothing) + smoothing / len(self.prior)
            logits = ops.log(ops.clip(ops.cast(y_pred, "float32"), 1e-7, 1.0))
            adjusted = ops.log_softmax(logits + ops.log(ops.convert_to_tensor(self.prior)), axis=-1)
            return -ops.sum(y_true * adjusted, axis=-1)

        def get_config(self):
            return {**super().get_config(), "prior": self.prior,
                    "label_smoothing": self.label_smoothing}

    defined = locals()
    return types.SimpleNamespace(**{name: defined[name] for name in NAMES})


def __getattr__(name):
    if name in NAMES:
        return getattr(_defined(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
