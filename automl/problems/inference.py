"""Which problem type labels are: inference from the label cells, and their parts."""

import math
import re

from automl.errors import AutomlError

NAMES = ("classification", "multilabel", "regression")
SEPARATOR = "|"
MOST_INTEGER_CLASSES = 50   # integer labels with more distinct values are read as numbers
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def check_name(name):
    if name is not None and name not in NAMES:
        raise AutomlError(f"unknown problem '{name}' (choose one of: {', '.join(NAMES)})")


def infer(labels, separator=SEPARATOR):
    """`(problem, reason)` read from the training label cells (strings)."""
    if any(separator in label for label in labels):
        return "multilabel", f"label cells hold several labels joined by '{separator}'"
    values = _numbers(labels)
    if values is not None:
        distinct = len(set(values))
        fractional = any(v != math.floor(v) for v in values)
        if fractional or (distinct > MOST_INTEGER_CLASSES and not _zero_padded(labels)):
            return "regression", f"numeric labels with {distinct} distinct values"
        return "classification", (f"{distinct} integer labels read as classes; "
                                  "--problem regression reads them as numbers")
    return "classification", f"{len(set(labels))} class labels"


def resolve(requested, labels, separator=SEPARATOR, classes_from=None):
    """`(problem, reason)`: `requested`; else classification where `classes_from` says
    what makes the labels classes (class folders, a tfds ClassLabel); else the inferred one."""
    check_name(requested)
    if requested is not None:
        return requested, "set"
    if classes_from:
        return "classification", f"{len(set(labels))} classes from {classes_from}"
    problem, reason = infer(labels, separator)
    return problem, f"inferred: {reason}"


def _numbers(labels):
    """The labels as floats, or None where one of them is not a plain number."""
    values = []
    for label in labels:
        text = str(label).strip()
        if not _NUMBER.match(text):
            return None
        values.append(float(text))
    return values if values else None


def number(label):
    """`label` as a float, or None where it is not a plain number."""
    values = _numbers([label])
    return values[0] if values else None


def label_parts(cell, separator=None):
    """The labels of one cell: split at `separator` for multilabel, else the cell itself."""
    return split_cell(cell, separator) if separator else [str(cell)]


def refuse_unknown(splits, classes, separator=None):
    """Refuse val or test labels that train does not have, naming a few."""
    for name in ("val", "test"):
        given = {part for cell in splits[name].labels for part in label_parts(cell, separator)}
        unknown = sorted(given - set(classes))
        if unknown:
            raise AutomlError(
                f"labels in the {name} split that train does not have: {', '.join(unknown[:5])}")


def _zero_padded(labels):
    return any(len(label) > 1 and label.startswith("0") and "." not in label for label in labels)


def split_cell(cell, separator):
    return [part.strip() for part in str(cell).split(separator) if part.strip()]
