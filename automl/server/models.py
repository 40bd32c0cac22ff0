"""The runs a server answers for: each run's exported model under a name, and its answers.

A model serves its SavedModel, or with `tflite` its LiteRT file (`automl export RUN
--format tflite`). Predictions are `ExportedModel.prediction`'s, the numbers `automl
predict` prints, beside the SavedModel's own outputs.
"""

import os
import re

import numpy as np
from starlette.concurrency import run_in_threadpool

from automl.errors import AutomlError
from automl.export import litert
from automl.export.predictor import ExportedModel
from automl.server.batcher import Batcher
from automl.server.codec import Decoder

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
VERSION = "1"


def parse_runs(runs, named):
    """`{name: run_dir}` of run directories (named by their folders) and `NAME=RUN` pairs."""
    pairs = [(os.path.basename(os.path.normpath(run)), run) for run in runs]
    for item in named:
        name, equals, run = item.partition("=")
        if not equals or not name or not run:
            raise AutomlError(f"--name takes NAME=RUN, got '{item}'")
        pairs.append((name, run))
    if not pairs:
        raise AutomlError("nothing to serve: give one or more run directories")
    served = {}
    for name, run in pairs:
        if not NAME.match(name):
            raise AutomlError(f"model name '{name}' must be letters, digits, '.', '_' or '-' "
                              "(name it with --name NAME=RUN)")
        if name in served:
            raise AutomlError(f"two runs are named '{name}': name one with --name NAME=RUN")
        served[name] = run
    return served


class ServedModel:
    """One run's exported model, its request decoder and its batcher."""

    def __init__(self, name, run_dir, tflite=False, quantization=None, max_batch_size=32,
                 max_wait_ms=5.0):
        if quantization and not tflite:
            raise AutomlError("--quantize chooses a LiteRT file: give --tflite with it")
        if tflite:
            self.exported, device = litert.load(run_dir, quantization)
            self.exported.use_device(device)
            self.platform = "tflite"
        else:
            self.exported = ExportedModel(run_dir)
            self.platform = "tensorflow_savedmodel"
        if self.exported.task is None:
            raise AutomlError(f"serving {run_dir} needs the '{self.exported.card['task']}' task "
                              "plugin, which is not installed here")
        self.name = name
        self.run_dir = run_dir
        self.card = self.exported.card
        self.classes = list(self.exported.classes)
        self.problem = self.exported.problem.name
        self.decoder = Decoder(self.exported)
        self.batcher = Batcher(self.exported.serve_prepared, max_batch_size, max_wait_ms)

    def input_description(self):
        """The input's tensor and the request values it accepts."""
        spec = self.card["input"]
        described = {"name": spec["name"], "dtype": spec["dtype"], "shape": spec["shape"],
                     "task": self.card["task"]}
        if self.decoder.text:
            described["accepts"] = ["string", "b64 (UTF-8 text)"]
        elif self.card["task"] == "audio":
            described["accepts"] = [f"b64 ({', '.join(self.exported.task.file_extensions)})",
                                    f"array [samples] in [-1, 1] at "
                                    f"{self.exported.meta['sample_rate']} Hz"]
            described["sample_rate"] = self.exported.meta["sample_rate"]
            described["duration"] = self.exported.meta.get("duration")
        else:
            described["accepts"] = [f"b64 ({', '.join(self.exported.task.file_extensions)})",
                                    "array [H, W(, C)] of pixel values 0..255"]
        return described

    def outputs(self):
        """The signature's outputs: name, dtype and shape."""
        classes = len(self.classes)
        if self.problem == "regression":
            return {"value": ("float32", [-1])}
        if self.problem == "multilabel":
            return {"probabilities": ("float32", [-1, classes]), "labels": ("bool", [-1, classes])}
        return {"probabilities": ("float32", [-1, classes]), "label": ("string", [-1])}

    def card_summary(self):
        """What a client needs to read predictions: task, problem, classes, thresholds."""
        problem = self.card.get("problem", {})
        return {"task": self.card["task"], "problem": self.problem, "classes": self.classes,
                "thresholds": problem.get("thresholds"), "platform": self.platform,
                "version": VERSION, "input": self.input_description()}

    async def predict(self, values, where="instance"):
        """The outputs (see `ExportedModel.probabilities`) of request values, batched."""
        batch = await run_in_threadpool(self._prepared, values, where)
        return await self.batcher.predict(batch)

    def _prepared(self, values, where):
        return self.decoder.prepared(self.decoder.examples(values, where))

    def answers(self, outputs, top_k=None):
        """One answer per output row: the SavedModel's outputs and `automl predict`'s."""
        return [self.answer(row, top_k) for row in outputs]

    def answer(self, row, top_k=None):
        """Classification: `label`, `probabilities` in class order and the `top_k` ranked
        classes (default 1). Multilabel: `labels` at or above their thresholds,
        `probabilities`, and every label ranked with its threshold. Regression: `value`."""
        said = self.exported.prediction(None, row, top_k or 1)
        if self.problem == "regression":
            return {"value": said["value"]}
        probabilities = [float(p) for p in np.asarray(row)]
        if self.problem == "multilabel":
            return {"labels": said["labels"], "probabilities": probabilities,
                    "top_k": said["predictions"][:top_k] if top_k else said["predictions"]}
        return {"label": said["predictions"][0]["label"], "probabilities": probabilities,
                "top_k": said["predictions"]}


def load_models(runs, tflite=False, quantization=None, max_batch_size=32, max_wait_ms=5.0):
    """`{name: ServedModel}` of `{name: run_dir}`."""
    return {name: ServedModel(name, run, tflite, quantization, max_batch_size, max_wait_ms)
            for name, run in runs.items()}
