"""Using an exported model: classify files or texts, score labelled data."""

import json
import os

import numpy as np

from automl import data as data_lib, env, registry
from automl.errors import AutomlError, first_line
from automl.export import recover_folder
from automl.metrics import classification_scores
from automl.settings import from_mapping

BATCH = 256


class ExportedModel:
    """The SavedModel and model card of a run directory, with its task plugin."""

    def __init__(self, run_dir):
        if os.path.isdir(run_dir):
            recover_folder(os.path.join(run_dir, "model"))
        card_path = os.path.join(run_dir, "model", "model_card.json")
        if not os.path.isfile(card_path):
            raise AutomlError(f"no exported model in {run_dir} (missing model/model_card.json)")
        with open(card_path, encoding="utf-8") as handle:
            self.card = json.load(handle)
        self.run_dir = run_dir
        self.task = registry.get_task(self.card["task"])
        self.meta = self.card["data"]
        self.classes = self.card["classes"]
        tf, _ = env.import_tensorflow()
        self.tf = tf
        loaded = tf.saved_model.load(os.path.join(run_dir, "model", "saved_model"))
        self._serve = loaded.signatures["serving_default"]
        self._loaded = loaded

    def probabilities(self, examples):
        """Class probabilities [N, C] for decoded examples, in `classes` order."""
        batch = self.task.prepare(list(examples), self.meta)
        outputs = []
        for start in range(0, len(batch), BATCH):
            chunk = batch[start:start + BATCH]
            if chunk.dtype.kind in "OUS":
                chunk = self.tf.constant([str(v) for v in chunk])
            else:
                chunk = self.tf.constant(chunk, dtype=self.card["input"]["dtype"])
            outputs.append(self._serve(inputs=chunk)["probabilities"].numpy())
        return np.concatenate(outputs) if outputs else np.zeros((0, len(self.classes)))

    def _files(self, paths):
        extensions = tuple(self.task.file_extensions)
        for path in paths:
            if os.path.isdir(path):
                for root, _, names in sorted(os.walk(path)):
                    for name in sorted(names):
                        if name.lower().endswith(extensions) and not name.startswith("."):
                            yield os.path.join(root, name)
            elif os.path.isfile(path):
                yield path
            else:
                raise AutomlError(f"input not found: {path}")

    def _decode(self, path):
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
        files = list(self._files(paths))
        if paths and not files:
            kinds = ", ".join(self.task.file_extensions) or "none"
            raise AutomlError(f"no {self.card['task']} files in {', '.join(map(str, paths))} "
                              f"(file types read: {kinds})")
        names, examples, skipped = [], [], []
        for path in files:
            try:
                examples.append(self._decode(path))
                names.append(path)
            except AutomlError as error:
                if not skip_bad:
                    raise
                skipped.append(str(error))
        examples += list(texts)
        names += list(texts)
        probabilities = self.probabilities(examples)
        k = min(top_k, len(self.classes))
        results = []
        for name, row in zip(names, probabilities):
            ranked = np.argsort(-row)[:k]
            results.append({"input": name, "predictions": [
                {"label": self.classes[i], "probability": float(row[i])} for i in ranked]})
        return results, skipped

    def evaluate(self, source, data_dir=None, options=None):
        """Scores on every example of a labelled data source; `options` override the search's."""
        settings = from_mapping({"task": self.card["task"], "data": source, "out": self.run_dir,
                                 "data_dir": data_dir, **self.card.get("options", {}),
                                 **(options or {})},
                                source="evaluate option")
        decoded = self.task.read_source(settings)
        examples = [e for part in decoded.values() for e in part.examples]
        labels = [label for part in decoded.values() for label in part.labels]
        unknown = sorted(set(labels) - set(self.classes))
        if unknown:
            raise AutomlError(f"labels the model does not know: {', '.join(unknown[:5])}")
        if not labels:
            raise AutomlError(f"no labelled examples in {source}")
        y = data_lib.label_ids(labels, self.classes)
        return classification_scores(y, self.probabilities(examples), self.classes)
