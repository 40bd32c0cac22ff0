"""The Python API: `search`, `resume` and `load`, the command line's pipeline from Python.

`search` takes the settings `automl search` takes, as keywords, validated by the same
`Settings` record, and data from a folder, file or data-set name, from `(x, y)`
arrays or lists of strings, or from a pandas DataFrame (`automl.data.in_memory`). Errors
are `AutomlError`s carrying the command line's one-line messages; Ctrl-C saves the
search's state and raises `KeyboardInterrupt`, and `resume` continues it.
"""

import collections
import dataclasses
import json
import os
import secrets
import stat
import tempfile
import time

import numpy as np

from automl import registry, settings as settings_lib
from automl.data import in_memory
from automl.errors import AutomlError, SearchInterrupted
from automl.export import litert
from automl.export.predictor import ExportedModel
from automl.run_folder import RunDir
from automl.runtime import devices, env, interrupt

# Modules that import TensorFlow, loaded when a search starts.
search_run = env.lazy_module("automl.pipeline.run")
search_resume = env.lazy_module("automl.pipeline.resume")


class Prediction(collections.namedtuple("Prediction", ["labels", "probabilities"])):
    """Classification: predicted class names `[N]` and class probabilities `[N, classes]`.
    Multilabel: lists of the labels at or above their thresholds `[N]` and each label's
    probability `[N, labels]`. Regression: the predicted values `[N]` as `labels` (and
    `values`), `probabilities` None."""

    __slots__ = ()

    @property
    def values(self):
        """A regression's predicted values `[N]` (None for the other problem types)."""
        return self.labels if self.probabilities is None else None


def search(task, data, out=None, *, validation_data=None, test_data=None, class_names=None,
           time_budget=None, overwrite=False, verbose=1, callbacks=None, path_column=None,
           label_column=None, **settings):
    """Search, retrain and export a model for `task` on `data`; a `SearchResult`.

    `data` is what `--data` takes (a folder, a file, `tfds:NAME`, a built-in name),
    or examples in memory: an `(x, y)` pair (images `[N, H, W, C]` or a list of
    arrays, audio `[N, samples]` with `sample_rate=`, texts as strings, file paths
    as strings; labels as class names or integers, named by `class_names`), or a
    DataFrame (text: the `text_column` and `label_column` options; images and
    audio: `path_column` and `label_column`), or, for images and audio, a CSV
    manifest of file paths and labels (the same two options name its columns). `validation_data` and `test_data`
    take the same forms; splits not given are carved from `data`. Without `out`, the
    run folder goes under `runs_folder()`, apart from the data cache (`result.run_dir`).
    Every other keyword is an `automl search` setting (`max_trials=`, `seed=`, ...) or a task option.
    `verbose=0` prints nothing; each function in `callbacks` receives each finished
    trial's record (a dict).
    """
    env.check_backend()
    started = time.time()
    callbacks = _callbacks(callbacks)
    task_plugin = registry.get_task(task)
    declared = {option.name for option in task_plugin.options}
    named_columns = _is_frame(data) or isinstance(data, (str, os.PathLike))
    if label_column is not None and not named_columns:
        raise AutomlError("label_column names a DataFrame column: give data as a DataFrame")
    for name, value in (("label_column", label_column), ("path_column", path_column)):
        if name in declared:
            settings[name] = value
    in_memory_data = not isinstance(data, (str, os.PathLike))
    settings = {k: _setting_value(v) for k, v in settings.items() if v is not None}
    mapping = {"task": task, "data": in_memory.PREFIX if in_memory_data else os.fspath(data),
               "out": os.fspath(out) if out is not None else default_run_dir(task),
               "time_budget": _setting_value(time_budget), **settings}
    resolved = settings_lib.from_mapping(mapping, source="setting")
    if in_memory_data:
        columns = _columns(task_plugin.string_examples, resolved.options, path_column,
                           label_column)
        source = in_memory.register(task_plugin, resolved.options, data, validation_data,
                                    test_data, class_names, columns, resolved.problem,
                                    resolved.label_separator)
        resolved = dataclasses.replace(resolved, data=source)
    elif validation_data is not None or test_data is not None:
        raise AutomlError("validation_data and test_data go with data in memory; a folder "
                          "gives its splits as train/val/test subfolders")
    try:
        card = _run(resolved.out, lambda: search_run.run_search(
            resolved, started_at=started, overwrite=overwrite, verbose=verbose,
            callbacks=callbacks))
    except KeyboardInterrupt:
        raise  # the data stays known to this process for `resume`
    except BaseException:
        in_memory.release(resolved.data)
        raise
    in_memory.release(resolved.data)
    return SearchResult(resolved.out, card)


def resume(run_dir, data=None, *, validation_data=None, test_data=None, class_names=None,
           verbose=1, callbacks=None, path_column=None, label_column=None):
    """Continue the interrupted search in `run_dir` (or re-export a finished one); a `SearchResult`.

    A search on data in memory resumes from the data cache; where that is gone,
    pass the same data again as `search` took it.
    """
    env.check_backend()
    started = time.time()
    callbacks = _callbacks(callbacks)
    run = RunDir(os.fspath(run_dir))
    if data is not None:
        if not os.path.isfile(run.recipe):
            raise AutomlError(f"{run.path} holds no search to resume (no recipe.yaml)")
        recorded = settings_lib.load_recipe(run.recipe, [f"out={run.path}"], legacy=True)
        task_plugin = registry.get_task(recorded.task)
        columns = _columns(task_plugin.string_examples, recorded.options, path_column,
                           label_column)
        source = in_memory.register(task_plugin, recorded.options, data, validation_data,
                                    test_data, class_names, columns, recorded.problem,
                                    recorded.label_separator)
        if source != recorded.data:
            in_memory.release(source)
            raise AutomlError(f"cannot resume {run.path}: the data given differs from the "
                              "data the search started with")
    card = _run(run.path, lambda: search_resume.resume_search(
        run.path, started_at=started, verbose=verbose, callbacks=callbacks))
    if card is None:
        with open(run.card, encoding="utf-8") as handle:
            card = json.load(handle)
    in_memory.release(card.get("data", {}).get("source"))
    return SearchResult(run.path, card)


def load(run_dir):
    """The exported model of a finished run as a `Predictor`."""
    env.check_backend()
    return Predictor(os.fspath(run_dir))


def runs_folder():
    """Where searches given no `out` write their runs: `$AUTOML_RUNS_DIR`, else
    `keras-automl/runs` in the user's data folder (`$XDG_DATA_HOME`, else
    `~/.local/share`). Apart from the data cache, so cleaning the cache leaves runs be."""
    if os.environ.get("AUTOML_RUNS_DIR"):
        return os.environ["AUTOML_RUNS_DIR"]
    base = (os.environ.get("XDG_DATA_HOME")
            or os.path.join(os.path.expanduser("~"), ".local", "share"))
    return os.path.join(base, "keras-automl", "runs")


def default_run_dir(task):
    """A new run folder for a search given no `out`: in `runs_folder()`, else (where that
    cannot be written) in a folder of the temp folder private to this user."""
    name = f"{task}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    parent = runs_folder()
    try:
        os.makedirs(parent, exist_ok=True)
        if os.access(parent, os.W_OK):
            return os.path.join(parent, name)
    except OSError:
        pass
    if os.environ.get("AUTOML_RUNS_DIR"):
        raise AutomlError(f"cannot write runs in $AUTOML_RUNS_DIR ({parent}): pass out=PATH")
    return os.path.join(private_temp_folder(), name)


def private_temp_folder():
    """`keras-automl-runs-<uid>` in the temp folder: made readable by this user only, or
    refused where something else (another user's folder, a link) holds its name."""
    uid = os.getuid() if hasattr(os, "getuid") else None  # Windows: the temp folder is the user's
    folder = os.path.join(tempfile.gettempdir(),
                          "keras-automl-runs" if uid is None else f"keras-automl-runs-{uid}")
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError as error:
        raise AutomlError(f"no writable folder for the run ({folder}: {error.strerror}): "
                          "pass out=PATH") from None
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or (uid is not None and info.st_uid != uid):
        raise AutomlError(f"{folder} is not a folder of this user's: pass out=PATH")
    os.chmod(folder, 0o700)
    return folder


def _run(run_dir, call):
    """`call()` with Ctrl-C stopping at a safe point and Keras' dtype policy restored after
    it; an interrupted search raises KeyboardInterrupt naming `resume`."""
    with interrupt.recording(), devices.policy_restored():
        try:
            return call()
        except SearchInterrupted:
            raise KeyboardInterrupt(f"search interrupted; its state is saved: continue it with "
                                    f"automl.resume({run_dir!r})") from None


def _callbacks(callbacks):
    """`callbacks` as a tuple of functions, refusing anything else."""
    if callbacks is None:
        return ()
    functions = (callbacks,) if callable(callbacks) else callbacks
    functions = tuple(functions) if isinstance(functions, (list, tuple)) else (functions,)
    for function in functions:
        if not callable(function):
            raise AutomlError(f"callbacks are functions of a trial's record, got "
                              f"{type(function).__name__}")
    return functions


def _columns(string_examples, options, path_column, label_column):
    """The DataFrame columns of examples and labels, by the task's `options`."""
    if string_examples and "text_column" in options:
        return options["text_column"], options.get("label_column") or "label"
    return (path_column or options.get("path_column") or "path",
            options.get("label_column") or label_column or "label")


def _setting_value(value):
    """Paths as strings and numpy scalars as Python values, as settings take them."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value.item() if isinstance(value, np.generic) else value


def _is_frame(value):
    return hasattr(value, "columns") and hasattr(value, "iloc")


class Predictor:
    """The exported model of a run directory: predict and evaluate as `automl predict` does.

    The task plugin, where installed, decodes and prepares inputs as the search did;
    without it, arrays and texts go to the SavedModel as they are.
    """

    def __init__(self, run_dir):
        self._exported = ExportedModel(run_dir)
        self.run_dir = run_dir
        self.card = self._exported.card
        self.classes = list(self._exported.classes)

    def __repr__(self):
        return f"Predictor({self.run_dir!r}, task={self.card['task']!r}, classes={len(self.classes)})"

    def predict(self, inputs, sample_rate=None):
        """`Prediction(labels, probabilities)` for `inputs`.

        `inputs`: files or folders (paths; for a text model, `pathlib.Path`s, since
        strings are texts), texts (a string or a list of them), or arrays as
        `automl.search` takes them (one per example along the first axis; audio at
        `sample_rate`, by default the model's). Rows follow `files(inputs)` for paths.
        """
        outputs = self.predict_proba(inputs, sample_rate)
        problem = self._exported.problem.name
        if problem == "regression":
            return Prediction(np.asarray(outputs), None)
        if problem == "multilabel":
            cut = np.asarray([self._exported.thresholds[c] for c in self.classes])
            labels = np.empty(len(outputs), dtype=object)
            labels[:] = [[c for c, on in zip(self.classes, row >= cut) if on] for row in outputs]
            return Prediction(labels, outputs)
        labels = np.asarray(self.classes, dtype=object)[np.argmax(outputs, axis=-1)] \
            if len(outputs) else np.zeros((0,), dtype=object)
        return Prediction(labels, outputs)

    def predict_proba(self, inputs, sample_rate=None):
        """The model's output for `inputs`: probabilities `[N, classes]` in `classes` order
        (a regression's values `[N]`)."""
        return self._exported.probabilities(self._examples(inputs, sample_rate)[1])

    def files(self, paths):
        """The files `predict(paths)` reads, in the order of its rows (folders walked)."""
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        return self._exported.files([os.fspath(p) for p in paths])

    def evaluate(self, data, class_names=None, sample_rate=None, **options):
        """Scores on labelled `data`, as `automl evaluate --json` prints them.

        `data` is a source (folder, file, `tfds:NAME`), an `(x, y)` pair or a
        DataFrame; `options` are the task's data options (`text_column=`, ...).
        """
        if isinstance(data, (str, os.PathLike)):
            return self._exported.evaluate(os.fspath(data), options=options)
        columns = _columns(self.card["input"]["dtype"] == "string",
                           {**self.card.get("options", {}), **options},
                           options.get("path_column"), None)
        x, y = in_memory.pair(data, "data", columns)
        count, examples = self._examples(x, sample_rate)
        exported = self._exported
        labels = in_memory.label_names(
            y, class_names if class_names is not None or exported.problem.name != "multilabel"
            else self.classes, count, problem=exported.problem.name,
            separator=exported.separator)
        return exported.score(examples, labels)

    def _examples(self, inputs, sample_rate=None):
        """`(count, examples)` of `inputs` (see `predict`): the examples are decoded as
        they are read, a serving batch at a time, so only that many are held at once."""
        exported, task = self._exported, self._exported.task
        text = self.card["input"]["dtype"] == "string"
        if isinstance(inputs, (str, os.PathLike)):
            inputs = [inputs]
        values = list(inputs) if not isinstance(inputs, np.ndarray) else inputs
        paths = (os.PathLike,) if text else (str, os.PathLike)
        if len(values) and all(isinstance(v, paths) for v in values):
            files = self.files(values)
            return len(files), map(exported.decode_file, files)
        if task is None:
            return len(values), values
        options = dict(self.card.get("options", {}))
        if "sample_rate" in options:
            options["sample_rate"] = sample_rate or self.card["data"].get("sample_rate")
        if not len(values):
            raise AutomlError("inputs holds no examples")
        return len(values), _decoded_arrays(task, values, options, exported.batch_size)


def _decoded_arrays(task, values, options, size):
    """The task's examples of the in-memory `values`, decoded `size` values at a time."""
    for start in range(0, len(values), size):
        yield from in_memory.task_examples(task, values[start:start + size], options,
                                           "inputs")[0]


class SearchResult:
    """A finished search: its run folder, model card, exported model and report."""

    def __init__(self, run_dir, card):
        self.run_dir = run_dir
        self.card = card
        self.report_path = os.path.join(run_dir, "report", "index.html")
        self._model = self._predictor = None

    def __repr__(self):
        test = self.card.get("metrics", {}).get("test", {}).get("accuracy")
        return (f"SearchResult({self.run_dir!r}, task={self.card.get('task')!r}, "
                f"test_accuracy={test})")

    @property
    def model(self):
        """The exported Keras model (`model/model.keras`), loaded on first use."""
        if self._model is None:
            _, keras = env.import_tensorflow()
            self._model = keras.saving.load_model(
                os.path.join(self.run_dir, "model", "model.keras"))
        return self._model

    @property
    def predictor(self):
        """The `Predictor` of the exported model, made on first use."""
        if self._predictor is None:
            self._predictor = Predictor(self.run_dir)
        return self._predictor

    def predict(self, inputs, sample_rate=None):
        """`Prediction(labels, probabilities)`; see `Predictor.predict`."""
        return self.predictor.predict(inputs, sample_rate)

    def predict_proba(self, inputs, sample_rate=None):
        return self.predictor.predict_proba(inputs, sample_rate)

    def evaluate(self, data, **options):
        """Scores on labelled data; see `Predictor.evaluate`."""
        return self.predictor.evaluate(data, **options)

    def export_tflite(self, quantize="none", out=None):
        """Write and check a LiteRT file, as `automl export RUN --format tflite` does.

        `quantize`: "none", "float16", "dynamic" or "int8" (or a list of them).
        Returns the card's entry for each file (path, size, test accuracy, latency ...).
        """
        quantizations = [quantize] if isinstance(quantize, str) else list(quantize)
        entries = litert.export(self.run_dir, quantizations, out=out)
        self.card.setdefault("litert", {}).update(entries)
        return entries
