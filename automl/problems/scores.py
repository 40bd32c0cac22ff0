"""Classification scores: the model card's, and the loss that ensemble selection lowers."""

import numpy as np


def log_loss(probabilities, labels):
    """Mean negative log probability of the true labels."""
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))


def classification_scores(y_true, probabilities, classes):
    """Accuracy, balanced accuracy (mean recall over the classes present), macro F1,
    per-class precision/recall/F1/support and the confusion matrix."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y_true = np.asarray(y_true)
    y_pred = np.argmax(probabilities, axis=-1)
    labels = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    return {
        "accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else 0.0,
        "balanced_accuracy": float(np.mean(recall[support > 0])) if len(y_true) else 0.0,
        "macro_f1": float(np.mean(f1)) if len(y_true) else 0.0,
        "examples": int(len(y_true)),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]),
                   "f1": float(f1[i]), "support": int(support[i])}
            for i, name in enumerate(classes)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }
