"""Using an exported model: predict for files, texts or arrays, score labelled data.

The task plugin prepares examples as the search did; where it is not installed,
arrays and texts go to the SavedModel as they are (files then cannot be decoded).
"""

import itertools
import json
import os

import numpy as np

from automl import problems, registry
from automl.errors import AutomlError, first_line
from automl.runtime import env
from automl.runtime.files import complete_folder
from automl.settings import from_mapping

BATCH = 256


def batched(values, size):
    """Lists of up to `size` consecutive items of the iterable `values`."""
    values = iter(values)
    while chunk := list(itertools.islice(values, size)):
        yield chunk


class ExportedModel:
    """The SavedModel and model card of a run directory, with its task plugin if installed.

    Reading changes nothing in the run: while another process swaps in a new export,
    the previous one is read. Examples are prepared and served `batch_size` at a time.
    """

    def __init__(self, run_dir, load_saved_model=True, batch_size=BATCH):
        """`run_dir`: a run directory, or an exported model folder (its `model/`, copied)."""
        model_dir = os.path.join(run_dir, "model")
        if os.path.isfile(os.path.join(run_dir, "model_card.json")):
            model_dir = run_dir
        else:
            model_dir = complete_folder(model_dir) or model_dir
        self.batch_size = int(batch_size)
        card_path = os.path.join(model_dir, "model_card.json")
        if not os.path.isfile(card_path):
            raise AutomlError(f"no exported model in {run_dir} (missing model/model_card.json)")
        with open(card_path, encoding="utf-8") as handle:
            self.card = json.load(handle)
        self.run_dir = run_dir
        self.card_path = card_path
        self._device = None
        self.task = _installed_task(self.card["task"])
        self.meta = self.card["data"]
        self.classes = self.card["classes"]
        self.problem = problems.get(self.card.get("problem", {}).get("type", "classification"))
        self.thresholds = self.card.get("problem", {}).get("thresholds")
        self.separator = self.card.get("problem", {}).get("separator") or problems.SEPARATOR
        if not load_saved_model:
            return
        tf, _ = env.import_tensorflow()
        self.tf = tf
        loaded = tf.saved_model.load(os.path.join(model_dir, "saved_model"))
        self._serve = loaded.signatures["serving_default"]
        self._loaded = loaded

    def probabilities(self, examples):
        """The model's output for decoded examples: probabilities [N, C] in `classes`
        order (one class, or a sigmoid per label), or a regression's values [N].

        `examples` may be any iterable, a lazy one (files decoded as they are read)
        included: it is read `batch_size` examples at a time, and only the outputs
        are kept.
        """
        examples, outputs = iter(examples), []
        while (output := self._next_output(examples)) is not None:
            outputs.append(output)
        return np.concatenate(outputs) if outputs else self._no_output()

    def _next_output(self, examples):
        """The output of the next `batch_size` examples of the iterator `examples`, or
        None once it is spent; those examples are the only ones read meanwhile."""
        chunk = list(itertools.islice(examples, self.batch_size))
        if not chunk:
            return None
        if self.task is None:
            return self._unprepared_probabilities(chunk)
        return self.serve_prepared(self.task.prepare(chunk, self.meta))

    def use_device(self, device):
        """Serve with `device`, a `litert.LiteRTModel`, instead of the SavedModel."""
        self._device = device

    def serve_prepared(self, batch):
        """The output (see `probabilities`) of examples already in the model's input format."""
        if self._device is not None:
            return self._device.probabilities(batch)
        outputs = []
        for start in range(0, len(batch), self.batch_size):
            chunk = batch[start:start + self.batch_size]
            if chunk.dtype.kind in "OUS":
                chunk = self.tf.constant([str(v) for v in chunk])
            else:
                chunk = self.tf.constant(chunk, dtype=self.card["input"]["dtype"])
            outputs.append(self._serve(inputs=chunk)[self.problem.output].numpy())
        return np.concatenate(outputs) if outputs else self._no_output()

    def _no_output(self):
        return np.zeros((0,) if self.problem.output == "value" else (0, len(self.classes)))

    def _unprepared_probabilities(self, examples):
        """Probabilities of examples fed as they are: texts, or arrays of the input's rank
        (a grayscale channel added, a fixed length cropped or zero-padded)."""
        shape = self.card["input"]["shape"][1:]
        if self.card["input"]["dtype"] == "string":
            return self.serve_prepared(np.asarray([str(e) for e in examples], dtype=object))
        rows = []
        for example in examples:
            row = np.asarray(example, dtype=self.card["input"]["dtype"])
            if row.ndim == len(shape) - 1:
                row = row[..., None]
            if len(shape) == 1 and shape[0] is not None:
                row = np.pad(row[:shape[0]], (0, max(shape[0] - len(row), 0)))
            rows.append(row)
        if len({row.shape for row in rows}) <= 1:
            return self.serve_prepared(np.stack(rows) if rows else np.zeros((0, *shape)))
        return np.concatenate([self.serve_prepared(row[None]) for row in rows])

    def files(self, paths):
        """The files named by `paths` (folders walked for the task's file types), refusing
        paths that hold none."""
        extensions = tuple(self.task.file_extensions) if self.task else ("",)
        files = []
        for path in paths:
            if os.path.isdir(path):
                for root, _, names in sorted(os.walk(path)):
                    files.extend(os.path.join(root, name) for name in sorted(names)
                                 if name.lower().endswith(extensions) and not name.startswith("."))
            elif os.path.isfile(path):
                files.append(path)
            else:
                raise AutomlError(f"input not found: {path}")
        if paths and not files:
            kinds = (", ".join(extensions) or "none") if self.task else "any"
            raise AutomlError(f"no {self.card['task']} files in {', '.join(map(str, paths))} "
                              f"(file types read: {kinds})")
        return files

    def decode_file(self, path):
        """The example of the file `path`, decoded by the task plugin."""
        if self.task is None:
            raise AutomlError(f"reading {path} needs the '{self.card['task']}' task plugin, "
                              "which is not installed here: pass arrays instead")
        try:
            return self.task.decode_file(path)
        except AutomlError:
            raise
        except Exception as error:
            raise AutomlError(f"cannot decode {path}: {first_line(error)}") from None

    def predict_inputs(self, paths, texts, top_k, skip_bad=False):
        """Ranked predictions for files, folders of files and literal texts.

        With `skip_bad`, files that cannot be decoded are left out and returned in
        `skipped` instead of stopping the whole batch. Returns `(results, skipped)`.
        """
        if not paths and not texts:
            raise AutomlError("nothing to classify: give files, folders or --text")
        if texts and self.card["task"] != "text":
            raise AutomlError(f"--text needs a text model; this one is '{self.card['task']}'")
        results, skipped = [], []
        for chunk in batched(self.files(paths), self.batch_size):
            predicted, bad = self._predict_files(chunk, top_k, skip_bad)
            results += predicted
            skipped += bad
        for chunk in batched(texts, self.batch_size):
            results += [self.prediction(text, row, top_k)
                        for text, row in zip(chunk, self.probabilities(chunk))]
        return results, skipped

    def _predict_files(self, files, top_k, skip_bad):
        """`(predictions, skipped)` of one batch of `files`, decoded here and let go after."""
        names, examples, skipped = self.decode_files(files, skip_bad)
        return ([self.prediction(name, row, top_k)
                 for name, row in zip(names, self.probabilities(examples))], skipped)

    def prediction(self, name, output, top_k):
        """One input's prediction as `automl predict` reports it.

        Classification: the `top_k` classes by probability. Multilabel: `labels`, those
        at or above their thresholds, and every label's probability, most probable
        first. Regression: the `value`.
        """
        if self.problem.name == "regression":
            return {"input": name, "value": float(output)}
        ranked = np.argsort(-output)
        if self.problem.name == "multilabel":
            cut = [self.thresholds[c] for c in self.classes] if self.thresholds else \
                [0.5] * len(self.classes)
            return {"input": name,
                    "labels": [self.classes[i] for i in ranked if output[i] >= cut[i]],
                    "predictions": [{"label": self.classes[i], "probability": float(output[i]),
                                     "threshold": float(cut[i])} for i in ranked]}
        return {"input": name, "predictions": [
            {"label": self.classes[i], "probability": float(output[i])}
            for i in ranked[:min(top_k, len(self.classes))]]}

    def decode_files(self, files, skip_bad=False):
        """`(names, examples, skipped)` of decoding `files`; see `predict_inputs`."""
        names, examples, skipped = [], [], []
        for path in files:
            try:
                examples.append(self.decode_file(path))
                names.append(path)
            except AutomlError as error:
                if not skip_bad:
                    raise
                skipped.append(str(error))
        return names, examples, skipped

    def evaluate(self, source, data_dir=None, options=None):
        """Scores on every example of a labelled data source; `options` override the search's.

        The source's labels are read first; its examples are decoded as they are
        served, `batch_size` at a time (where the task reads the source lazily: folders,
        manifests, TensorFlow Datasets).
        """
        settings = from_mapping({"task": self.card["task"], "data": source, "out": self.run_dir,
                                 "data_dir": data_dir, **self.card.get("options", {}),
                                 **(options or {})},
                                source="evaluate option")
        if self.task is None:
            raise AutomlError(f"reading {source} needs the '{self.card['task']}' task plugin, "
                              "which is not installed here: pass arrays instead")
        decoded = self.task.read_source(settings)
        examples = itertools.chain.from_iterable(part.examples for part in decoded.values())
        labels = [label for part in decoded.values() for label in part.labels]
        return self.score(examples, labels, source)

    def score(self, examples, labels, source="the data"):
        """The problem's scores of decoded `examples` (any iterable, read as `probabilities`
        reads it) against their label cells `labels`."""
        if not labels:
            raise AutomlError(f"no labelled examples in {source}")
        if self.problem.name == "regression":
            bad = [label for label in labels if problems.number(label) is None]
            if bad:
                raise AutomlError(f"targets that are not numbers: {', '.join(bad[:5])}")
        else:
            given = {part for label in labels for part in problems.label_parts(
                label, self.separator if self.problem.name == "multilabel" else None)}
            unknown = sorted(given - set(self.classes))
            if unknown:
                raise AutomlError(f"labels the model does not know: {', '.join(unknown[:5])}")
        y = self.problem.encode(labels, self.classes, self.separator)
        return self.problem.scores(y, self.probabilities(examples), self.classes,
                                   [self.thresholds[c] for c in self.classes]
                                   if self.thresholds else None)


def _installed_task(name):
    """A fresh instance of the task `name`, or None where no plugin of that name is installed."""
    if name not in registry.installed_tasks(warn=False):
        return None
    return registry.get_task(name)
