"""The data cache: every example decoded once, written to TFRecord shards, streamed after.

The first search on a source reads it lazily, carves the splits, and writes each
split's examples in the model's input format (as `Task.prepare` makes them) to
`CACHE/<key>/`, one record per example; labels and example ids go to
`CACHE/<key>/index.json`. The key is a hash of the data's fingerprint (files with
their sizes and modification times, or the tfds set and version), the task and the
settings that change decoding, so later runs on the same data reuse the cache.
The cache is written in a temporary folder and renamed into place when complete.
Every folder the cache writes holds a marker file (`MARKER`) from its start: `automl
cache` lists and removes those folders only, never anything else put in the cache
folder (runs live elsewhere: `automl.api.runs_folder`).
"""

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile

import numpy as np

from automl import problems
from automl.data import sources as data_lib
from automl.errors import AutomlError
from automl.runtime import interrupt
from automl.runtime.permissions import as_created

FORMAT = 2
INDEX_FILE = "index.json"
MARKER = ".keras-automl-cache"  # in every folder the cache writes
SHARD_BYTES = 64 << 20      # bytes of examples per TFRecord shard
DESCRIBE_SAMPLE = 500       # training examples `Task.describe` sees


def root(settings):
    """The cache folder of `settings`."""
    return root_folder(settings.cache_dir)


def root_folder(cache_dir=None):
    """The cache folder: `cache_dir`, else `$AUTOML_CACHE_DIR`, else the user cache directory."""
    if cache_dir:
        return cache_dir
    if os.environ.get("AUTOML_CACHE_DIR"):
        return os.environ["AUTOML_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "keras-automl")


def key(task, source_print):
    """The cache folder name of `source_print` (see `automl.data.fingerprint.of_source`) read by `task`."""
    record = {"format": FORMAT, "task": task.name, "api": task.api_version,
              "source": source_print}
    text = json.dumps(record, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def load(task, settings, source_print):
    """The `Dataset` of `settings.data`, from its cache (written first when missing)."""
    folder = os.path.join(root(settings), key(task, source_print))
    if not os.path.isfile(os.path.join(folder, INDEX_FILE)):
        _write(task, settings, folder)
    else:
        os.utime(os.path.join(folder, INDEX_FILE))  # its last use, for `automl cache clean`
    return open_dataset(folder)


@dataclasses.dataclass
class Entry:
    """One folder of the cache: a data set (`task` and `source` None for a leftover)."""

    folder: str
    task: str
    source: str
    size_bytes: int
    last_used: float


def entries(cache_root):
    """The folders the cache wrote under `cache_root`, complete or left by an interrupted
    write; oldest first. Other folders there (a run, a user's files) are not entries."""
    found = []
    names = sorted(os.listdir(cache_root)) if os.path.isdir(cache_root) else []
    for name in names:
        folder = os.path.join(cache_root, name)
        if os.path.islink(folder) or not os.path.isdir(folder):
            continue
        index = _complete_index(folder)
        if index is not None:
            task, source = index["task"], index["source"]
            last_used = os.path.getmtime(os.path.join(folder, INDEX_FILE))
        elif os.path.isfile(os.path.join(folder, MARKER)):
            task = source = None
            last_used = os.path.getmtime(folder)
        else:
            continue
        size = sum(os.path.getsize(os.path.join(top, f))
                   for top, _, files in os.walk(folder) for f in files)
        found.append(Entry(folder, task, source, size, last_used))
    return sorted(found, key=lambda entry: entry.last_used)


def _complete_index(folder):
    """The index of a complete data set in `folder` (markers came later), else None."""
    try:
        with open(os.path.join(folder, INDEX_FILE), encoding="utf-8") as handle:
            index = json.load(handle)
    except (OSError, ValueError):
        return None
    wanted = {"format", "task", "source", "splits"}
    return index if isinstance(index, dict) and wanted <= set(index) else None


def remove(entry):
    shutil.rmtree(entry.folder, ignore_errors=True)


def _write(task, settings, folder):
    """Decode, check and write the whole source into `folder`, atomically."""
    decoded = task.read_source(settings)
    separator = settings.label_separator
    known = decoded.get("train") or decoded.get("all")
    problem_name, reason = problems.resolve(settings.problem, known.labels if known else [],
                                            separator, known.classes_from if known else None)
    problem = problems.get(problem_name)
    if problem_name != "multilabel":
        _refuse_missing_labels(decoded, settings.data)
    splits = data_lib.assign_splits(decoded, settings.split_seed, settings.group_by,
                                    problem.split_strata)
    data_lib.check_not_empty(splits)
    classes = problem.check(splits, separator)
    meta = task.describe(_sample(splits["train"].examples, DESCRIBE_SAMPLE), settings)
    parent = os.path.dirname(folder)
    try:
        os.makedirs(parent, exist_ok=True)
        temporary = tempfile.mkdtemp(prefix=os.path.basename(folder) + ".", dir=parent)
        as_created(temporary)
        with open(os.path.join(temporary, MARKER), "w", encoding="utf-8") as handle:
            handle.write("a keras-automl data cache folder: `automl cache clean` removes it\n")
    except OSError as error:
        raise AutomlError(f"cannot write the data cache in {parent}: {error.strerror}") from None
    try:
        index, bad = {"format": FORMAT, "task": task.name, "source": settings.data,
                      "classes": classes, "meta": meta, "splits": {},
                      "problem": {"type": problem_name, "reason": reason}}, []
        for name in data_lib.SPLITS:
            part = splits[name]
            written = _write_split(temporary, name, part.examples, task, meta, bad)
            written.update(labels=problem.encode(part.labels, classes, separator).tolist(),
                           ids=part.ids if part.ids is not None else
                           [f"{name}:{i}" for i in range(len(part))])
            index["splits"][name] = written
        if bad:
            raise data_lib.undecodable(bad)
        with open(os.path.join(temporary, INDEX_FILE), "w", encoding="utf-8") as handle:
            json.dump(index, handle)
        try:
            os.rename(temporary, folder)
        except OSError:  # written meanwhile by another run on the same data
            if not os.path.isfile(os.path.join(folder, INDEX_FILE)):
                raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _refuse_missing_labels(decoded, source):
    """Refuse an empty label cell, naming its example: only multilabel data reads one
    (as no labels)."""
    for part in decoded.values():
        for index, label in enumerate(part.labels):
            if not str(label).strip():
                example = part.ids[index] if part.ids is not None else f"example {index}"
                raise AutomlError(f"{source}: {example} has no label (an empty label cell "
                                  "is no labels in multilabel data only: --problem multilabel)")


def _decoded(examples):
    """`(example, None)` or `(None, error message)` for each example, in order."""
    if isinstance(examples, data_lib.FileExamples):
        for index in range(len(examples)):
            try:
                yield examples[index], None
            except AutomlError as error:
                yield None, str(error)
    else:
        for example in examples:
            yield example, None


def _sample(examples, count):
    """Up to `count` decodable examples from the start of `examples`."""
    found = []
    for example, error in _decoded(examples):
        if error is None:
            found.append(example)
        if len(found) >= count:
            break
    return found


def _write_split(folder, name, examples, task, meta, bad):
    """Write one split's prepared examples as TFRecord shards; its index entry."""
    import tensorflow as tf

    shards, writer, size, shape, dtype = [], None, 0, None, None
    try:
        for example, error in _decoded(examples):
            interrupt.check()
            if error is not None:
                bad.append(error)
                continue
            if bad:
                continue  # the cache will not be kept: only look for more undecodable files
            row = task.prepare([example], meta)[0]
            if isinstance(row, str):
                record, shape, dtype = row.encode("utf-8"), [], "string"
            else:
                row = np.ascontiguousarray(row)
                record, shape, dtype = row.tobytes(), list(row.shape), row.dtype.name
            if writer is None or size >= SHARD_BYTES:
                if writer is not None:
                    writer.close()
                shards.append(f"{name}-{len(shards):05d}.tfrecord")
                writer = tf.io.TFRecordWriter(os.path.join(folder, shards[-1]))
                size = 0
            writer.write(record)
            size += len(record)
    finally:
        if writer is not None:
            writer.close()
    return {"files": shards, "shape": shape, "dtype": dtype}


def open_dataset(folder):
    """The `Dataset` a complete cache folder holds."""
    with open(os.path.join(folder, INDEX_FILE), encoding="utf-8") as handle:
        index = json.load(handle)
    splits, problem = {}, index.get("problem", {"type": "classification", "reason": "set"})
    label_dtype = problems.get(problem["type"]).label_dtype
    for name in data_lib.SPLITS:
        entry = index["splits"][name]
        examples = CachedExamples([os.path.join(folder, f) for f in entry["files"]],
                                  len(entry["labels"]), tuple(entry["shape"]), entry["dtype"])
        splits[name] = data_lib.Split(examples, np.asarray(entry["labels"], dtype=label_dtype),
                                      entry["ids"])
    return data_lib.Dataset(classes=index["classes"], source=index["source"],
                            meta=index["meta"], problem=problem["type"],
                            problem_reason=problem["reason"], **splits)


def without_autotune(tf, dataset):
    """`dataset` (and every dataset built on it) with tf.data's autotuning off.

    Destroying an autotuned iterator waits for its tuning thread, which sleeps
    between rounds: on CPU, epochs of a 28x28 network stood idle for 10 to 20 s
    at their ends (Keras makes an iterator per epoch). Parallel maps and
    prefetches asked for with `AUTOTUNE` then run at tf.data's fixed defaults.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


class CachedExamples:
    """The examples of one cached split: streamed from its TFRecord shards, in order."""

    def __init__(self, files, count, shape, dtype):
        self.files, self.count, self.shape, self.dtype = files, count, shape, dtype

    def __len__(self):
        return self.count

    def stream(self):
        """A `tf.data.Dataset` of the examples, one at a time, in order."""
        import tensorflow as tf

        records = without_autotune(tf, tf.data.TFRecordDataset(self.files, buffer_size=8 << 20))
        records = records.apply(tf.data.experimental.assert_cardinality(self.count))
        if self.dtype == "string":
            return records
        dtype, shape = tf.as_dtype(self.dtype), self.shape
        return records.map(lambda record: tf.reshape(tf.io.decode_raw(record, dtype), shape),
                           num_parallel_calls=tf.data.AUTOTUNE)

    def batches(self, size):
        """The examples as numpy arrays of up to `size`, in order."""
        for batch in self.stream().batch(size).prefetch(1).as_numpy_iterator():
            if self.dtype == "string":
                batch = np.asarray([value.decode("utf-8") for value in batch], dtype=object)
            yield batch

    def take(self, indices):
        """The examples at `indices`, a list in the same order (one pass over the split)."""
        wanted = {int(i) for i in indices}
        found = {}
        for position, value in enumerate(self.stream().as_numpy_iterator()):
            if position in wanted:
                found[position] = value.decode("utf-8") if self.dtype == "string" else value
                if len(found) == len(wanted):
                    break
        return [found[int(i)] for i in indices]

    def example_bytes(self):
        if self.dtype == "string":
            return data_lib.STRING_BYTES
        return int(np.prod(self.shape, dtype="int64")) * np.dtype(self.dtype).itemsize
