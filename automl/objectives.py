"""Search objectives: the score trials are compared by, its direction, and how it is computed.

Every validation objective is a Keras metric accumulated over the whole
validation set (confusion counts, not a mean of batch scores), compiled into each
trial's model; selection from saved validation probabilities (ensembles) uses
the same score computed in numpy.
"""

import numpy as np

from automl.errors import AutomlError

CLASSIFICATION = ("val_accuracy", "val_loss", "val_balanced_accuracy", "val_macro_f1",
                  "val_auc", "accuracy", "loss")
REGRESSION = ("val_mae", "val_rmse")
NAMES = CLASSIFICATION + REGRESSION
MINIMIZED = ("loss", "mae", "rmse")


def direction(name):
    """"min" for losses and errors, "max" for scores."""
    return "min" if name.removeprefix("val_") in MINIMIZED else "max"


def check_name(name):
    if name is not None and name not in NAMES:
        raise AutomlError(f"unknown objective '{name}' (choose one of: {', '.join(NAMES)})")


def check_for(name, num_classes):
    """Refuse an objective that does not fit single-label classification of `num_classes`."""
    if name in REGRESSION:
        raise AutomlError(f"objective '{name}' is for regression; a classification search "
                          f"takes one of: {', '.join(CLASSIFICATION)}")
    if name == "val_auc" and num_classes != 2:
        raise AutomlError(f"objective 'val_auc' needs two classes, the data has {num_classes} "
                          "(use val_macro_f1 or val_balanced_accuracy)")


def default_for(class_weight):
    """The objective of a search that names none: balanced accuracy where classes are weighted."""
    return "val_balanced_accuracy" if class_weight == "balanced" else "val_accuracy"


def keras_metrics(name, keras, num_classes):
    """The metrics a trial's model is compiled with for objective `name`."""
    from automl import keras_metrics as metrics

    compiled = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    metric = name.removeprefix("val_")
    if metric == "balanced_accuracy":
        compiled.append(metrics.BalancedAccuracy(num_classes, name=metric))
    elif metric == "macro_f1":
        compiled.append(keras.metrics.F1Score(average="macro", name=metric))
    elif metric == "auc":
        compiled.append(metrics.PositiveClassAUC(name=metric))
    return compiled


def score(name, probabilities, labels):
    """`name`'s score of `[N, C]` probabilities against integer `labels`, higher is better."""
    from sklearn import metrics

    predicted = np.argmax(probabilities, axis=-1)
    metric = name.removeprefix("val_")
    if metric == "balanced_accuracy":
        return float(metrics.balanced_accuracy_score(labels, predicted))
    if metric == "macro_f1":
        return float(metrics.f1_score(labels, predicted, average="macro", zero_division=0))
    if metric == "auc" and len(np.unique(labels)) == 2:
        return float(metrics.roc_auc_score(labels, probabilities[:, 1]))
    if metric == "loss":
        chosen = probabilities[np.arange(len(labels)), labels]
        return -float(np.mean(-np.log(np.clip(chosen, 1e-12, 1.0))))
    return float(np.mean(predicted == labels))
