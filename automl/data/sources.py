"""Labelled data, and the sources it is read from.

A source is `tfds:NAME[/CONFIG]`, a folder (`PATH/{train,val,test}/<class>/*` or
`PATH/<class>/*`), or a name or file that the task itself understands. Sources are
read lazily (`FileExamples`, `TfdsExamples`): every example is decoded once, when the
data cache is written (`automl.data.cache`), and the search streams from that cache.
"""

import collections
import dataclasses
import os
import re
from typing import Any, Dict, List, Optional

import numpy as np

from automl.errors import AutomlError, first_line
from automl.runtime import interrupt

SPLITS = ("train", "val", "test")
# Folder and file names of the splits as data sets spell them (`automl.SPLIT_ALIASES`).
SPLIT_ALIASES = {"train": "train", "val": "val", "valid": "val", "validation": "val",
                 "dev": "val", "test": "test"}
HOLDOUT_FRACTION = 0.15
MAX_LISTED = 10          # undecodable files named in one error
STRING_BYTES = 1024      # assumed size of one text example


@dataclasses.dataclass
class Split:
    """Examples `x`, labels `y` (as the problem type stores them), and example ids, in one order.

    `x` is an array (an object array for strings) or the split's on-disk cache
    (`automl.data.cache.CachedExamples`); read it through the methods below, which work
    for both without loading a cached split into memory.
    """

    x: Any
    y: np.ndarray
    ids: Optional[List[str]] = None

    def __len__(self):
        return len(self.y)

    def stream(self):
        """A `tf.data.Dataset` of the examples, one at a time, in order."""
        if not isinstance(self.x, np.ndarray):
            return self.x.stream()
        import tensorflow as tf

        values = self.x
        if values.dtype.kind in "OUS":
            values = tf.constant([str(v) for v in values])
        return tf.data.Dataset.from_tensor_slices(values)

    def batches(self, size):
        """The examples as numpy arrays of up to `size`, in order."""
        if not isinstance(self.x, np.ndarray):
            yield from self.x.batches(size)
            return
        for start in range(0, len(self.x), size):
            yield self.x[start:start + size]

    def head(self, count):
        """The first `count` examples as one array."""
        return next(self.batches(count))

    def take(self, indices):
        """The examples at `indices`, a list in the same order."""
        if not isinstance(self.x, np.ndarray):
            return self.x.take(indices)
        return [self.x[int(i)] for i in indices]

    def example_bytes(self):
        """About how many bytes one example takes in memory."""
        if not isinstance(self.x, np.ndarray):
            return self.x.example_bytes()
        if self.x.dtype.kind in "OUS":
            return STRING_BYTES
        return max(1, self.x.nbytes // max(len(self.x), 1))


@dataclasses.dataclass
class Dataset:
    """Train, validation and test splits that share one sorted list of classes.

    `problem` is the problem type (`automl.problems`), and `problem_reason` how it
    was decided; `classes` are the class (or, for multilabel, label) names, empty
    for regression.
    """

    classes: List[str]
    train: Split
    val: Split
    test: Split
    source: str
    meta: Dict[str, Any] = dataclasses.field(default_factory=dict)
    problem: str = "classification"
    problem_reason: str = "set"

    def split(self, name):
        return getattr(self, name)

    def training_only(self):
        """This dataset without its val and test splits: what a task builds models from.

        The same object on every call, so a task may cache what it derives from it.
        """
        if "_training_only" not in self.__dict__:
            self.__dict__["_training_only"] = dataclasses.replace(self, val=None, test=None)
        return self.__dict__["_training_only"]


@dataclasses.dataclass
class LabelledExamples:
    """Decoded examples of one split with their class names, before preparation.

    `ids` name the examples (file paths relative to the data folder), where known.
    `classes_from` says what makes the labels classes where the source's layout does
    (class folders, a tfds `ClassLabel`): such data is classified whatever its class
    names look like. None where the problem type is inferred from the label cells.
    """

    examples: list
    labels: List[str]
    ids: Optional[List[str]] = None
    classes_from: Optional[str] = None

    def __len__(self):
        return len(self.labels)


def list_folder(path, extensions):
    """Files of a class-per-folder tree: `{split: [(file, class), ...]}`.

    `PATH/{train,val,test}/<class>/*` gives those splits; `PATH/<class>/*` gives one
    split named "all". Hidden files and files of other extensions are skipped.
    """
    if not os.path.isdir(path):
        raise AutomlError(f"data folder not found: {path}")
    children = sorted(e for e in os.listdir(path) if not e.startswith("."))
    split_dirs = {SPLIT_ALIASES[c.lower()]: c for c in children
                  if c.lower() in SPLIT_ALIASES and os.path.isdir(os.path.join(path, c))}
    layout = ({split: os.path.join(path, d) for split, d in split_dirs.items()}
              if split_dirs else {"all": path})
    files = {}
    for split, root in layout.items():
        entries = []
        for label in sorted(os.listdir(root)):
            folder = os.path.join(root, label)
            if label.startswith(".") or not os.path.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                if name.startswith(".") or not os.path.isfile(os.path.join(folder, name)):
                    continue
                if extensions and not name.lower().endswith(tuple(extensions)):
                    continue
                entries.append((os.path.join(folder, name), label))
        files[split] = entries
    if not any(files.values()):
        wanted = ", ".join(extensions) if extensions else "any"
        raise AutomlError(
            f"no data files ({wanted}) found in {path}: expected "
            "PATH/<class>/<file> or PATH/{train,val,test}/<class>/<file>"
        )
    return files


class FileExamples:
    """Files decoded on access by `decode` (a lazy, indexable sequence of examples)."""

    def __init__(self, files, decode):
        self.files, self.decode = list(files), decode

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        file = self.files[index]
        try:
            return self.decode(file)
        except AutomlError:
            raise
        except Exception as error:
            raise AutomlError(f"cannot decode {file}: {first_line(error)}") from None

    def __iter__(self):
        return (self[index] for index in range(len(self)))

    def subset(self, indices):
        return FileExamples([self.files[i] for i in indices], self.decode)


class TfdsExamples:
    """Examples of one TensorFlow Datasets split, streamed in the set's order."""

    def __init__(self, builder, split, feature, convert=None, indices=None):
        self.builder, self.split, self.feature, self.convert = builder, split, feature, convert
        self.indices = indices

    def __len__(self):
        if self.indices is not None:
            return len(self.indices)
        return self.builder.info.splits[self.split].num_examples

    def __iter__(self):
        import tensorflow_datasets as tfds

        wanted = None if self.indices is None else set(int(i) for i in self.indices)
        records = self.builder.as_dataset(split=self.split, shuffle_files=False)
        for index, record in enumerate(tfds.as_numpy(records)):
            if wanted is not None and index not in wanted:
                continue
            value = record[self.feature]
            yield self.convert(value) if self.convert else value

    def subset(self, indices):
        chosen = sorted(indices)  # a stream keeps its own order
        if self.indices is not None:
            chosen = [self.indices[i] for i in chosen]
        return TfdsExamples(self.builder, self.split, self.feature, self.convert, chosen)


def subset(examples, indices):
    """The examples at `indices` of a list, `FileExamples` or `TfdsExamples`."""
    if hasattr(examples, "subset"):
        return examples.subset(indices)
    return [examples[i] for i in indices]


def decode_folder(path, extensions, decode_file):
    """A class-per-folder tree as `{split: LabelledExamples}`, decoded lazily.

    Each file is decoded by `decode_file` when the data cache is written, which
    refuses undecodable files together (see `automl.data.cache`).
    """
    return {split: LabelledExamples(FileExamples([file for file, _ in entries], decode_file),
                                    [label for _, label in entries],
                                    [os.path.relpath(file, path) for file, _ in entries],
                                    classes_from="class folders")
            for split, entries in list_folder(path, extensions).items()}


def undecodable(errors):
    """One `AutomlError` for the messages of undecodable examples: the first few, and a count."""
    if len(errors) == 1:
        return AutomlError(errors[0])
    shown = "; ".join(errors[:MAX_LISTED])
    more = f"; and {len(errors) - MAX_LISTED} more" if len(errors) > MAX_LISTED else ""
    return AutomlError(f"{len(errors)} files cannot be decoded: {shown}{more}")


def load_tfds(name, feature, data_dir=None, download=False, convert=None):
    """Examples of a TensorFlow Datasets set, streamed: `{split: LabelledExamples}`.

    `feature` names the feature holding the raw example, or is a tuple of
    candidate names of which the first one the set has is used. Only the labels
    are read here; the examples are streamed when the data cache is written.

    Prepared data is looked up first; it is downloaded only when `download` is set,
    so an offline machine gets an immediate, clear error rather than a long wait.
    """
    import tensorflow_datasets as tfds

    name, _, config = name.partition("/")
    full_name = f"{name}/{config}" if config else name
    try:
        builder = tfds.builder(full_name, data_dir=data_dir)
    except Exception as error:
        raise AutomlError(f"unknown TensorFlow Datasets name '{full_name}': {first_line(error)}") from None
    if download and not builder.is_prepared():
        try:
            builder.download_and_prepare()
        except Exception as error:
            raise AutomlError(f"cannot download tfds:{full_name}: {first_line(error)}") from None
    label_feature = builder.info.features["label"]
    candidates = (feature,) if isinstance(feature, str) else tuple(feature)
    present = [name for name in candidates if name in builder.info.features]
    if not present:
        raise AutomlError(
            f"tfds:{full_name} has no {' or '.join(repr(c) for c in candidates)} feature "
            f"(it has: {', '.join(builder.info.features.keys())})"
        )
    feature = present[0]
    names = list(label_feature.names)
    available = list(builder.info.splits.keys()) or ["train", "test"]
    decoded = {}
    for split in available:
        target = SPLIT_ALIASES.get(split)
        if target is None or target in decoded:
            continue
        labels = [names[int(label)] for label in _tfds_labels(builder, split, feature, full_name)]
        decoded[target] = LabelledExamples(
            TfdsExamples(builder, split, feature, convert), labels,
            [f"{split}:{index}" for index in range(len(labels))],
            classes_from="a tfds ClassLabel")
    return decoded


def _tfds_labels(builder, split, feature, full_name):
    """The labels of a tfds split, read without decoding its examples where possible."""
    import tensorflow_datasets as tfds

    try:
        try:
            records = builder.as_dataset(split=split, shuffle_files=False,
                                         decoders={feature: tfds.decode.SkipDecoding()})
        except Exception:  # a feature that cannot skip decoding (any other error recurs below)
            records = builder.as_dataset(split=split, shuffle_files=False)
    except Exception as error:
        if not builder.is_prepared():
            raise AutomlError(
                f"tfds:{full_name} is not prepared in {builder.data_dir}: run again with "
                "--download (needs network), or prepare it with "
                f"`tfds build {full_name}` and pass --data-dir") from None
        raise AutomlError(f"cannot read tfds:{full_name} split {split}: "
                          f"{type(error).__name__}: {first_line(error)}") from None
    labels = []
    for batch in tfds.as_numpy(records.map(lambda record: record["label"]).batch(4096)):
        interrupt.check()
        labels.extend(batch.tolist())
    return labels


def assign_splits(decoded, seed, group_by=None, strata=None):
    """Fill in missing validation and test splits, carved deterministically.

    `decoded` maps split names ("train", "val", "test", or "all") to examples.
    A missing split is carved from train (stratified, `HOLDOUT_FRACTION` each), or,
    with `group_by` (a regular expression matched against each file's base name),
    by whole groups, so that no group is in two splits. `strata(labels)` gives the
    key stratification keeps the shares of (default: the label itself). The training
    split is put in a fixed random order, so that a bounded shuffle buffer mixes its
    classes.
    """
    if group_by is not None:
        carve = _group_carver(group_by)
    else:
        def carve(pool, fraction, seed):
            return _carve(pool, fraction, seed, strata)
    if "all" in decoded:
        pool = decoded["all"]
        rest, test = carve(pool, HOLDOUT_FRACTION, seed)
        train, val = carve(rest, HOLDOUT_FRACTION / (1 - HOLDOUT_FRACTION), seed + 1)
        splits = {"train": train, "val": val, "test": test}
    else:
        if "train" not in decoded or not len(decoded["train"]):
            raise AutomlError("the data has no training examples")
        splits = dict(decoded)
        if "test" not in splits:
            splits["train"], splits["test"] = carve(splits["train"], HOLDOUT_FRACTION, seed)
        if "val" not in splits:
            splits["train"], splits["val"] = carve(splits["train"], HOLDOUT_FRACTION, seed + 1)
    splits["train"] = _shuffled(splits["train"], seed + 2)
    return splits


def _take(pool, indices):
    indices = list(indices)
    return LabelledExamples(subset(pool.examples, indices), [pool.labels[i] for i in indices],
                            None if pool.ids is None else [pool.ids[i] for i in indices],
                            pool.classes_from)


def _shuffled(pool, seed):
    if isinstance(pool.examples, TfdsExamples):
        return pool  # streamed in the set's own order
    return _take(pool, np.random.RandomState(seed).permutation(len(pool)))


def _carve(pool, fraction, seed, strata=None):
    """Split off about `fraction` of each class (or stratum), the same way for the same seed."""
    rng = np.random.RandomState(seed)
    labels = np.asarray(pool.labels if strata is None else strata(pool.labels))
    keep, held = [], []
    for label in sorted(set(labels.tolist())):
        index = np.flatnonzero(labels == label)
        index = index[rng.permutation(len(index))]
        count = int(round(len(index) * fraction))
        if len(index) >= 2:
            count = min(max(count, 1), len(index) - 1)
        else:
            count = 0
        held.extend(index[:count])
        keep.extend(index[count:])
    return _take(pool, sorted(keep)), _take(pool, sorted(held))


def _group_carver(pattern):
    expression = re.compile(pattern)

    def carve(pool, fraction, seed):
        """Split off whole groups holding about `fraction` of the examples."""
        if pool.ids is None or not all(isinstance(i, str) for i in pool.ids):
            raise AutomlError("--group-by needs data read from files; this source has no file names")
        groups = []
        for example_id in pool.ids:
            name = os.path.basename(example_id)
            match = expression.search(name)
            if not match:
                raise AutomlError(f"--group-by '{pattern}' does not match the file name {name}")
            groups.append(match.group(1) if expression.groups else match.group(0))
        names = sorted(set(groups))
        if len(names) < 2:
            raise AutomlError(f"--group-by '{pattern}' finds one group in {len(pool)} "
                              f"file{'s' * (len(pool) != 1)}; "
                              "carving a split off needs at least two")
        order = [names[i] for i in np.random.RandomState(seed).permutation(len(names))]
        target = max(1, int(round(len(pool) * fraction)))
        held_groups, held_count = set(), 0
        sizes = collections.Counter(groups)
        for name in order[:-1]:
            if held_count >= target:
                break
            held_groups.add(name)
            held_count += sizes[name]
        keep = [i for i, g in enumerate(groups) if g not in held_groups]
        held = [i for i, g in enumerate(groups) if g in held_groups]
        return _take(pool, keep), _take(pool, held)

    return carve


def check_not_empty(splits):
    """Refuse an empty split, naming it."""
    for name in SPLITS:
        if not len(splits[name]):
            raise AutomlError(f"the {name} split is empty: add examples to it")


def label_ids(labels, classes):
    index = {name: i for i, name in enumerate(classes)}
    return np.asarray([index[label] for label in labels], dtype="int64")

