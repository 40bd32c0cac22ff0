"""Data given in memory: arrays, lists of strings and DataFrames as a search's source.

`register` turns `(x, y)` pairs into a source name, `memory:<hash>`, that goes into
`Settings.data` like a folder path; the task reads it (`Task.read_source`), so the
same decoding, checks, splits and data cache apply as for files. The hash is of the
content, so the data cache and the run's fingerprint follow the content. Example ids
in `splits.json` are indices into the array each split came from (file paths for a
column of paths).
"""

import hashlib
import os

import numpy as np

from automl.data import sources as data_lib
from automl.errors import AutomlError

PREFIX = "memory:"
_SOURCES = {}   # source name -> {split: (examples, labels, ids)}


class _Paths(list):
    """Files given in memory: decoded by the task instance that reads the source."""


def is_source(name):
    return str(name).startswith(PREFIX)


def register(task, settings_options, data, validation_data=None, test_data=None,
             class_names=None, columns=None, problem=None, separator="|"):
    """The source name of in-memory data for `task`; the data is kept for `read`.

    `data`, `validation_data` and `test_data` are `(x, y)` pairs or DataFrames
    (`columns`: the example and label column names); without `validation_data` or
    `test_data` those splits are carved from `data`. Labels become label cells as
    `label_names` reads them for the `problem` type.
    """
    parts = {"train" if validation_data is not None or test_data is not None else "all": data,
             "val": validation_data, "test": test_data}
    decoded, digest = {}, hashlib.sha256(task.name.encode("utf-8"))
    for split, value in parts.items():
        if value is None:
            continue
        what = {"all": "data", "train": "data", "val": "validation_data",
                "test": "test_data"}[split]
        x, y = pair(value, what, columns)
        examples, ids = task_examples(task, x, settings_options, what, digest)
        labels = label_names(y, class_names, len(examples), what, problem, separator)
        digest.update(repr((split, labels)).encode("utf-8"))
        decoded[split] = (examples, labels, ids)
    name = PREFIX + digest.hexdigest()[:24]
    _SOURCES[name] = decoded
    return name


def read(name, task):
    """`{split: LabelledExamples}` of a registered source, files decoded by `task`."""
    if name not in _SOURCES:
        raise AutomlError(f"the in-memory data {name} is neither in this process nor in the "
                          "data cache: pass it again (automl.resume(RUN, data=...))")
    return {split: data_lib.LabelledExamples(
                data_lib.FileExamples(list(examples), task.decode_file)
                if isinstance(examples, _Paths) else examples, labels, ids)
            for split, (examples, labels, ids) in _SOURCES[name].items()}


def release(name):
    """Forget a registered source (its data cache stays)."""
    _SOURCES.pop(name, None)


def pair(value, what, columns=None):
    """`(x, y)` of a pair or of a DataFrame's two `columns`."""
    if hasattr(value, "columns") and hasattr(value, "iloc"):
        x_column, y_column = columns
        missing = [c for c in (x_column, y_column) if c not in value.columns]
        if missing:
            raise AutomlError(f"{what} has no column {missing[0]!r} (columns: "
                              f"{', '.join(map(str, value.columns))})")
        return value[x_column], value[y_column]
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return value
    raise AutomlError(f"{what} must be an (x, y) pair or a DataFrame, got "
                      f"{type(value).__name__}")


def task_examples(task, x, options, what="data", digest=None):
    """`(examples, ids)` of `x` decoded for `task`; `digest` is updated with the content.

    Strings are file paths (decoded as a folder's files are, by the task that reads
    the source) unless the task's examples are strings (`Task.string_examples`);
    anything else is handed to the task's `decode_arrays`.
    """
    if isinstance(x, (str, bytes)):
        raise AutomlError(f"{what} must hold one example per row, got a single string")
    values = _values(x)
    if not len(values):
        raise AutomlError(f"{what} holds no examples")
    if not task.string_examples and all(isinstance(v, str) for v in values):
        return _files(task, values, what, digest)
    if digest is not None:
        _digest_values(digest, x, values)
    try:
        examples = task.decode_arrays(values, options)
    except AutomlError:
        raise
    except Exception as error:
        raise AutomlError(f"cannot read {what} as {task.name} examples: "
                          f"{type(error).__name__}: {error}") from None
    return list(examples), list(range(len(values)))


def _values(x):
    """A sequence of per-example values of an array, list, tuple or pandas Series."""
    if hasattr(x, "to_numpy"):
        x = x.to_numpy()
    if isinstance(x, np.ndarray) and x.ndim == 0:
        raise AutomlError("examples must be a sequence, got a single value")
    return x if isinstance(x, np.ndarray) else list(x)


def _files(task, paths, what, digest):
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise AutomlError(f"data not found: {missing[0]}"
                          + (f" (and {len(missing) - 1} more "
                             f"file{'s' * (len(missing) > 2)} of {what})"
                             if len(missing) > 1 else ""))
    paths = [os.path.abspath(p) for p in paths]
    if digest is not None:
        for path in paths:
            stat = os.stat(path)
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode("utf-8"))
    return _Paths(paths), paths


def _digest_values(digest, x, values):
    if isinstance(x, np.ndarray) and x.dtype.kind not in "OUS":
        digest.update(f"{x.dtype.str}{x.shape}".encode("utf-8"))
        digest.update(np.ascontiguousarray(x).tobytes())
        return
    for value in values:
        if isinstance(value, str):
            encoded = value.encode("utf-8")
            digest.update(f"s{len(encoded)}:".encode("utf-8") + encoded)
        else:
            array = np.ascontiguousarray(np.asarray(value))
            digest.update(f"{array.dtype.str}{array.shape}".encode("utf-8") + array.tobytes())


def label_names(y, class_names, count, what="data", problem=None, separator="|"):
    """Label cells (strings) of the labels `y`.

    Strings are kept as they are; integers (or one-hot rows) become `class_names[i]`
    or `str(i)` (a regression's, `str(i)`); fractional numbers their decimal text. For a multilabel problem, multi-hot rows or lists of labels
    become the labels joined by `separator`.
    """
    if y is None:
        raise AutomlError(f"{what} has no labels: give (x, y)")
    if problem == "multilabel":
        return _multilabel_cells(y, class_names, count, what, separator)
    labels = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if labels.ndim == 2 and labels.shape[1] > 1 and problem != "regression":
        labels = labels.argmax(axis=1)
    elif labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise AutomlError(f"{what} labels must be one per example, got shape {labels.shape}")
    if len(labels) != count:
        raise AutomlError(f"{what} has {count} example{'s' * (count != 1)} but "
                          f"{len(labels)} label{'s' * (len(labels) != 1)}")
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)):
            raise AutomlError(f"{what} has a missing or infinite label")
        if not np.all(labels == np.round(labels)):
            return [repr(float(v)) for v in labels]
        labels = labels.astype("int64")
    if labels.dtype.kind in "iub" and problem == "regression":
        return [str(int(v)) for v in labels]
    if labels.dtype.kind in "iub":
        labels = labels.astype("int64")
        if class_names is not None:
            names = [str(n) for n in class_names]
            outside = labels[(labels < 0) | (labels >= len(names))]
            if len(outside):
                raise AutomlError(f"{what} label {int(outside[0])} has no class name "
                                  f"({len(names)} class_names given)")
            return [names[int(i)] for i in labels]
        return [str(int(i)) for i in labels]
    names = []
    for label in labels:
        if label is None or (isinstance(label, float) and np.isnan(label)):
            raise AutomlError(f"{what} has a missing label")
        names.append(str(label))
    return names


def _multilabel_cells(y, class_names, count, what, separator):
    """Cells of multi-hot rows `[N, labels]`, of lists of label names, or of joined strings."""
    values = y.to_numpy() if hasattr(y, "to_numpy") else y
    array = np.asarray(values) if not isinstance(values, list) else None
    if array is not None and array.ndim == 2 and array.dtype.kind in "fiub":
        names = [str(n) for n in class_names] if class_names is not None else \
            [str(i) for i in range(array.shape[1])]
        if len(names) != array.shape[1]:
            raise AutomlError(f"{what} has {array.shape[1]} label columns but "
                              f"{len(names)} class_names")
        rows = [separator.join(n for n, on in zip(names, row) if on > 0.5) for row in array]
    else:
        rows = [cell if isinstance(cell, str) else separator.join(str(part) for part in cell)
                for cell in values]
    if len(rows) != count:
        raise AutomlError(f"{what} has {count} example{'s' * (count != 1)} but "
                          f"{len(rows)} label{'s' * (len(rows) != 1)}")
    return rows
