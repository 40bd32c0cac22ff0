"""Balancing imbalanced classes: `--class-weight balanced|none`.

`balanced` makes every class count the same for the model's decisions. The loss
is the logit-adjusted cross-entropy (`automl.problems.keras_metrics.LogitAdjustedCrossentropy`):
the softmax is taken over the model's log-probabilities plus the log of each class's
share of the split it trains on, so a rare class must win by a wider margin, and the
model's own (exported) probabilities then rank the classes as if they were equally
common. Loss weights of `n / (k * n_c)` aim at the same, but their pull fades once a
network fits its training split, which small imbalanced sets quickly are; the margins
stay. Without a setting, `balanced` is used where the largest class has at least
`IMBALANCE_RATIO` times the examples of the smallest.
"""

import numpy as np

from automl.errors import AutomlError

MODES = ("balanced", "none")
IMBALANCE_RATIO = 3.0


def check_mode(mode):
    if mode is not None and mode not in MODES:
        raise AutomlError(f"unknown class weight '{mode}' (choose one of: {', '.join(MODES)})")


def imbalance(labels, num_classes):
    """Examples of the largest class over those of the smallest (inf where one has none)."""
    counts = np.bincount(np.asarray(labels, dtype="int64"), minlength=num_classes)
    return float(counts.max() / counts.min()) if counts.min() else float("inf")


def resolve(mode, labels, num_classes):
    """`mode`, or where it is None the automatic choice, with the reason for the card."""
    ratio = imbalance(labels, num_classes)
    if mode is not None:
        return mode, f"set; largest to smallest class {ratio:.1f}:1"
    chosen = "balanced" if ratio >= IMBALANCE_RATIO else "none"
    return chosen, (f"automatic: largest to smallest class {ratio:.1f}:1, "
                    f"{'at least' if chosen == 'balanced' else 'under'} {IMBALANCE_RATIO:g}:1")


def prior(mode, labels, num_classes):
    """Each class's share of `labels` as a float32 array (a class without examples
    counts as one), or None for `none`."""
    if mode != "balanced":
        return None
    counts = np.maximum(np.bincount(np.asarray(labels, dtype="int64"), minlength=num_classes), 1)
    return (counts / counts.sum()).astype("float32")


def describe(mode, labels, classes):
    """The card's `class_weight`: the mode, how it balances, the imbalance and each
    class's share of the training split."""
    shares = prior(mode, labels, len(classes))
    return {"mode": mode, "method": "logit-adjusted cross-entropy" if shares is not None else None,
            "imbalance": round(imbalance(labels, len(classes)), 3),
            "prior": None if shares is None else
            {name: round(float(share), 4) for name, share in zip(classes, shares)}}
