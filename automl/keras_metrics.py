"""Keras metrics of the objectives Keras does not ship, over a whole evaluation set."""

import keras
from keras import ops


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
