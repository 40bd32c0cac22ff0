"""Search objectives: the names a search may optimise and their direction.

Which objectives fit which problem type, how a trial's model computes them (Keras
metrics over the whole validation set, not means of batch scores) and how
selection scores saved validation predictions in numpy is the problem type's
(`automl.problems`).
"""

from automl.errors import AutomlError

NAMES = ("val_accuracy", "val_loss", "val_balanced_accuracy", "val_macro_f1", "val_micro_f1",
         "val_auc", "val_subset_accuracy", "val_mae", "val_rmse", "accuracy", "loss")
MINIMIZED = ("loss", "mae", "rmse")


def direction(name):
    """"min" for losses and errors, "max" for scores."""
    return "min" if name.removeprefix("val_") in MINIMIZED else "max"


def check_name(name):
    if name is not None and name not in NAMES:
        raise AutomlError(f"unknown objective '{name}' (choose one of: {', '.join(NAMES)})")


def better(name, score):
    """`score` of objective `name` made higher-is-better (negated for minimised ones)."""
    return score if direction(name) == "max" else -score
