"""Class weights for imbalanced data: `--class-weight balanced|none`.

Balanced weights make every class weigh the same in the training loss: a class
with `n_c` of the `n` training examples of `k` classes weighs `n / (k * n_c)`.
Without a setting they are used where the largest class has at least
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


def weights(mode, labels, num_classes):
    """Per-class weights as a float32 array, or None for `none`."""
    if mode != "balanced":
        return None
    counts = np.bincount(np.asarray(labels, dtype="int64"), minlength=num_classes)
    return (len(labels) / (num_classes * np.maximum(counts, 1))).astype("float32")


def describe(mode, labels, classes):
    """The card's `class_weight`: the mode, the imbalance and each class's weight."""
    found = weights(mode, labels, len(classes))
    return {"mode": mode, "imbalance": round(imbalance(labels, len(classes)), 3),
            "weights": None if found is None else
            {name: round(float(w), 4) for name, w in zip(classes, found)}}
