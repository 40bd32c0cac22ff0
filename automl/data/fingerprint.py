"""What a run was searched on: a fingerprint of the data and the resolved splits.

`RUN/fingerprint.json` records the source, the settings that change how it is
decoded (the split seed, the grouping and the task's options), the tfds version, and
for local files each file's size and modification time (the data cache is keyed by it);
`RUN/splits.json` records the example ids of each split. `automl resume` compares
both with the data as it is now and refuses, naming what changed, when they differ.
"""

import os

from automl.data import manifest
from automl.errors import AutomlError
from automl.runtime.files import write_json

FINGERPRINT_FILE = "fingerprint.json"
SPLITS_FILE = "splits.json"


def of_source(settings, task):
    """The fingerprint of `settings.data` as `task` reads it: a JSON-ready mapping.

    A name among the task's bundled sources is that source, wherever the search
    runs, even where a folder of that name is at hand, as the task loads it. A CSV
    manifest is recorded with the files it lists.
    """
    source, extensions = settings.data, task.file_extensions
    record = {"source": source,
              "settings": {"split_seed": settings.split_seed, "group_by": settings.group_by,
                           **settings.options}}
    if settings.problem is not None:  # recorded where set: labels are read by it
        record["settings"]["problem"] = settings.problem
    if settings.label_separator != "|":
        record["settings"]["label_separator"] = settings.label_separator
    if source.startswith("tfds:"):
        record["tfds"] = {"name": source[len("tfds:"):], "data_dir": settings.data_dir,
                          "version": _tfds_version(source[len("tfds:"):], settings.data_dir)}
    elif source not in task.builtin_sources() and os.path.exists(source):
        record["files"] = _files(source, extensions)
        if manifest.is_manifest(source) and task.reads_manifests():
            record["files"].update(_listed(source, settings.options, extensions))
    return record


def _listed(path, options, extensions):
    """`{path as listed: [size, mtime in ns]}` of the files a CSV manifest lists."""
    base, found = os.path.dirname(os.path.abspath(path)), {}
    for name in manifest.listed_files(path, options, extensions):
        full = os.path.join(base, name)
        if os.path.isfile(full):
            stat = os.stat(full)
            found[name] = [stat.st_size, stat.st_mtime_ns]
    return found


def _tfds_version(name, data_dir):
    import tensorflow_datasets as tfds

    try:
        return str(tfds.builder(name, data_dir=data_dir).version)
    except Exception:  # an unknown name is reported when the data is read
        return None


def _files(path, extensions):
    """`{relative path: [size, mtime in ns]}` of the data files under `path` (or `path` itself)."""
    if os.path.isfile(path):
        stat = os.stat(path)
        return {os.path.basename(path): [stat.st_size, stat.st_mtime_ns]}
    found = {}
    for root, folders, names in os.walk(path):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or not (name.lower().endswith(tuple(extensions))
                                            or name.lower().endswith(".csv")):
                continue
            full = os.path.join(root, name)
            stat = os.stat(full)
            found[os.path.relpath(full, path)] = [stat.st_size, stat.st_mtime_ns]
    return found


def of_splits(dataset):
    """`{"train": ids, "val": ids, "test": ids}` of a loaded dataset."""
    return {name: list(split.ids) if split.ids is not None else
            [f"{name}:{index}" for index in range(len(split))]
            for name, split in (("train", dataset.train), ("val", dataset.val),
                                ("test", dataset.test))}


def save(run_path, fingerprint, splits):
    write_json(os.path.join(run_path, FINGERPRINT_FILE), fingerprint)
    write_json(os.path.join(run_path, SPLITS_FILE), splits)


def check_unchanged(run_path, fingerprint, splits=None):
    """Refuse to resume on data or splits that differ from those the run recorded.

    Without `splits`, only the fingerprint is compared (before the data is read).
    """
    import json

    try:
        with open(os.path.join(run_path, FINGERPRINT_FILE), encoding="utf-8") as handle:
            recorded = json.load(handle)
        with open(os.path.join(run_path, SPLITS_FILE), encoding="utf-8") as handle:
            recorded_splits = json.load(handle)
    except (OSError, ValueError):
        return  # a run written before fingerprints were recorded
    changed = describe_change(recorded, fingerprint)
    if changed:
        raise AutomlError(f"cannot resume {run_path}: the data changed since the search "
                          f"started ({changed})")
    if splits is None:
        return
    for name in ("train", "val", "test"):
        if recorded_splits.get(name) != splits[name]:
            raise AutomlError(f"cannot resume {run_path}: the {name} split differs from the "
                              f"one in {SPLITS_FILE}")


def describe_change(recorded, current):
    """A short description of how `current` differs from `recorded`, or "" when it does not."""
    if recorded.get("source") != current.get("source"):
        return f"source {recorded.get('source')} is now {current.get('source')}"
    for key, value in current.get("settings", {}).items():
        if recorded.get("settings", {}).get(key, value) != value:
            return f"{key} was {recorded['settings'][key]!r}, now {value!r}"
    recorded_tfds, current_tfds = recorded.get("tfds"), current.get("tfds")
    if recorded_tfds and current_tfds:  # runs recorded before versions were kept lack them
        current_tfds = {k: v for k, v in current_tfds.items() if k in recorded_tfds}
    if recorded_tfds != current_tfds:
        return "the TensorFlow Datasets set or its data folder differs"
    before, after = recorded.get("files", {}), current.get("files", {})
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    modified = sorted(f for f in set(before) & set(after) if before[f] != after[f])
    parts = [f"{len(files)} file{'s' * (len(files) > 1)} {verb}, e.g. {files[0]}"
             for files, verb in ((added, "added"), (removed, "removed"), (modified, "modified"))
             if files]
    return "; ".join(parts)
