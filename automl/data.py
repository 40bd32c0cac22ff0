"""Labelled data in memory, and the sources it is read from.

A source is `tfds:NAME[/CONFIG]`, a folder (`PATH/{train,val,test}/<class>/*` or
`PATH/<class>/*`), or a name or file that the task itself understands. Every example
is decoded once, here, before the search starts; the search then trains from memory.
"""

import dataclasses
import os
from typing import Any, Dict, List, Optional

import numpy as np

from automl import interrupt
from automl.errors import AutomlError, first_line

SPLITS = ("train", "val", "test")
SPLIT_ALIASES = {"train": "train", "val": "val", "valid": "val", "validation": "val",
                 "dev": "val", "test": "test"}
HOLDOUT_FRACTION = 0.15
MAX_LISTED = 10          # undecodable files named in one error


@dataclasses.dataclass
class Split:
    """Examples `x` (array, or object array of strings), integer labels `y`, and example ids."""

    x: Any
    y: np.ndarray
    ids: Optional[List[str]] = None

    def __len__(self):
        return len(self.y)


@dataclasses.dataclass
class Dataset:
    """Train, validation and test splits that share one sorted list of classes."""

    classes: List[str]
    train: Split
    val: Split
    test: Split
    source: str
    meta: Dict[str, Any] = dataclasses.field(default_factory=dict)

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
    """

    examples: list
    labels: List[str]
    ids: Optional[List[str]] = None

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


def decode_folder(path, extensions, decode_file):
    """Decode every file of a class-per-folder tree; `{split: LabelledExamples}`.

    Every file is tried; undecodable ones are refused together in one error that
    lists the first `MAX_LISTED` and counts them all.
    """
    decoded, bad = {}, []
    for split, entries in list_folder(path, extensions).items():
        examples = []
        for file, _ in entries:
            interrupt.check()
            try:
                examples.append(decode_file(file))
            except AutomlError as error:
                bad.append(str(error))
            except Exception as error:
                bad.append(f"cannot decode {file}: {first_line(error)}")
        decoded[split] = LabelledExamples(examples, [label for _, label in entries],
                                          [os.path.relpath(file, path) for file, _ in entries])
    if len(bad) == 1:
        raise AutomlError(bad[0])
    if bad:
        shown = "; ".join(bad[:MAX_LISTED])
        more = f"; and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        raise AutomlError(f"{len(bad)} files cannot be decoded: {shown}{more}")
    return decoded


def load_tfds(name, feature, data_dir=None, download=False, convert=None):
    """Examples of a TensorFlow Datasets set; `{split: LabelledExamples}`.

    `feature` names the feature holding the raw example, or is a tuple of
    candidate names of which the first one the set has is used.

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
        examples, labels = [], []
        try:
            records = builder.as_dataset(split=split, shuffle_files=False)
        except Exception:
            raise AutomlError(
                f"tfds:{full_name} is not prepared in {builder.data_dir}: run again with "
                "--download (needs network), or prepare it with "
                f"`tfds build {full_name}` and pass --data-dir") from None
        for record in tfds.as_numpy(records):
            interrupt.check()
            value = record[feature]
            examples.append(convert(value) if convert else value)
            labels.append(names[int(record["label"])])
        decoded[target] = LabelledExamples(examples, labels,
                                           [f"{split}:{index}" for index in range(len(labels))])
    return decoded


def assign_splits(decoded, seed):
    """Fill in missing validation and test splits, carved deterministically.

    `decoded` maps split names ("train", "val", "test", or "all") to examples.
    A missing split is carved from train (stratified, `HOLDOUT_FRACTION` each).
    """
    if "all" in decoded:
        pool = decoded["all"]
        rest, test = _carve(pool, HOLDOUT_FRACTION, seed)
        train, val = _carve(rest, HOLDOUT_FRACTION / (1 - HOLDOUT_FRACTION), seed + 1)
        return {"train": train, "val": val, "test": test}
    if "train" not in decoded or not len(decoded["train"]):
        raise AutomlError("the data has no training examples")
    splits = dict(decoded)
    if "test" not in splits:
        splits["train"], splits["test"] = _carve(splits["train"], HOLDOUT_FRACTION, seed)
    if "val" not in splits:
        splits["train"], splits["val"] = _carve(splits["train"], HOLDOUT_FRACTION, seed + 1)
    return splits


def _carve(pool, fraction, seed):
    """Split off about `fraction` of each class, the same way for the same seed."""
    rng = np.random.RandomState(seed)
    labels = np.asarray(pool.labels)
    keep, held = [], []
    for label in sorted(set(pool.labels)):
        index = np.flatnonzero(labels == label)
        index = index[rng.permutation(len(index))]
        count = int(round(len(index) * fraction))
        if len(index) >= 2:
            count = min(max(count, 1), len(index) - 1)
        else:
            count = 0
        held.extend(index[:count])
        keep.extend(index[count:])

    def take(indices):
        indices = sorted(indices)
        return LabelledExamples([pool.examples[i] for i in indices],
                                [pool.labels[i] for i in indices],
                                None if pool.ids is None else [pool.ids[i] for i in indices])

    return take(keep), take(held)


def check_splits(splits):
    """Refuse data a classifier cannot be searched on, naming the problem."""
    for name in SPLITS:
        if not len(splits[name]):
            raise AutomlError(f"the {name} split is empty: add examples to it")
    classes = sorted(set(splits["train"].labels))
    if len(classes) < 2:
        found = classes[0] if classes else "none"
        raise AutomlError(f"need at least two classes to classify, found one ({found})")
    for name in ("val", "test"):
        unknown = sorted(set(splits[name].labels) - set(classes))
        if unknown:
            raise AutomlError(
                f"labels in the {name} split that train does not have: {', '.join(unknown[:5])}"
            )
    return classes


def label_ids(labels, classes):
    index = {name: i for i, name in enumerate(classes)}
    return np.asarray([index[label] for label in labels], dtype="int64")

