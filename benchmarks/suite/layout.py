"""What every generator shares: group-wise splits, the folder and CSV layouts, the summary.

A set is either image or audio class folders, OUT/{train,val,test}/<class>/<file>, or
text CSVs, OUT/{train,val,test}.csv with columns text,label. A source group (typeface,
speaker, voice, source package, instrument preset) always lands in one split whole.
"""

import collections
import csv
import hashlib
import json
import os
import random

SPLITS = ("train", "val", "test")


def split_of(group, seed=0):
    """70/15/15 by a hash of the group's name: stable whatever else the set holds."""
    share = int(hashlib.sha256(f"{seed}/{group}".encode()).hexdigest()[:8], 16) / 2**32
    return "train" if share < 0.70 else "val" if share < 0.85 else "test"


def split_within(groups, seed=0):
    """70/15/15 of one class's groups, at least one in each of val and test: {group: split}."""
    groups = sorted(set(groups))
    random.Random(seed).shuffle(groups)
    held = max(1, round(0.15 * len(groups)))
    return {g: "test" if i < held else "val" if i < 2 * held else "train"
            for i, g in enumerate(groups)}


def write_csv(out, split, rows):
    """Write `rows` of (text, label) as OUT/SPLIT.csv."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"{split}.csv"), "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def class_path(out, split, label, name):
    """OUT/SPLIT/LABEL/NAME, its folder created."""
    folder = os.path.join(out, split, label)
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, name)


def counts(out):
    """{split: Counter(class -> examples)} of a generated set, folders or CSVs."""
    found = {}
    for split in SPLITS:
        path = os.path.join(out, split)
        if os.path.isdir(path):
            found[split] = collections.Counter(
                {label: len(os.listdir(os.path.join(path, label))) for label in os.listdir(path)})
        else:
            with open(path + ".csv", encoding="utf-8", newline="") as handle:
                found[split] = collections.Counter(row["label"] for row in csv.DictReader(handle))
    return found


def summary(out, groups):
    """The set's sizes, class count, imbalance (largest over smallest training class), groups."""
    found = counts(out)
    train = found["train"]
    return {"train": sum(train.values()), "val": sum(found["val"].values()),
            "test": sum(found["test"].values()), "classes": len(train),
            "imbalance": round(max(train.values()) / min(train.values()), 1), "groups": groups}


def report(out, groups):
    """Print the summary as one JSON line (the registry and the README quote it)."""
    print(json.dumps(summary(out, groups)))
