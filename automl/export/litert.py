"""LiteRT files for devices: the exported model converted to `.tflite`, checked by LiteRT.

The task rebuilds its model for LiteRT's built-in ops (`OnDevice.device_model`: batch 1,
fixed shapes, token ids instead of strings). Conversion runs in a child process,
since the converter leaks memory with every call, and with built-in ops only
(models that need TensorFlow's own ops do not run in LiteRT's interpreter), so a
model that cannot convert is refused with the layer that stops it. Full-integer
int8 is calibrated on examples of the training split only. Each file is then run
by the `ai-edge-litert` interpreter on the test split, and its size, digest,
tensors, accuracy, agreement with the SavedModel and latency go into the card.
"""

import contextlib
import hashlib
import json
import os
import pickle
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from automl import capabilities, registry, settings as settings_lib
from automl.adapters import litert as litert_private
from automl.data import fingerprint
from automl.errors import AutomlError, first_line
from automl.export.predictor import ExportedModel
from automl.report.run_report import rebuild_report
from automl.runtime import env, interrupt
from automl.runtime.files import write_json, writing

REPRESENTATIVE_EXAMPLES = 256
PER_TENSOR_LOSS = 0.01  # int8 weights per tensor unless that loses more accuracy than this
LATENCY_CALLS = 100
LABELS_FILE = "labels.txt"
PENDING = "litert_pending"  # the card's note of a LiteRT export a signal stopped
CHILD_POLL_SECONDS = 0.2


def file_name(quantization):
    """`model.tflite` for float32, `model_<quantization>.tflite` otherwise."""
    return "model.tflite" if quantization == "none" else f"model_{quantization}.tflite"


def interpreter_class():
    """LiteRT's `Interpreter`, or a one-line error naming the extra that installs it."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise AutomlError("LiteRT is not installed: pip install 'keras-automl[edge]' "
                          "(from a checkout: pip install '.[edge]'; the ai-edge-litert "
                          "package)") from None
    return Interpreter


# Writing ---------------------------------------------------------------------


def export(run_dir, quantizations, out=None, dataset=None, progress=None, report=True):
    """Write and check a `.tflite` per quantization; returns the card's `litert` entries.

    Files go into `RUN/model` (or, with `out`, the one file to `out` and what it
    needs beside it). `dataset` is the run's data, loaded again where not given.
    With `report`, the run's report is rebuilt to list them.
    """
    interpreter_class()
    if out is not None and len(quantizations) != 1:
        raise AutomlError("--out names one file: give one --quantize with it")
    with _writing_model(run_dir):
        entries = _export(run_dir, quantizations, out, dataset, progress)
    if report and os.path.isdir(os.path.join(run_dir, "search")):
        rebuild_report(run_dir)
    return entries


def _writing_model(run_dir):
    """The lock of `RUN/model` (a copied model folder is not a run's: no lock)."""
    if not os.path.isdir(run_dir) or os.path.isfile(os.path.join(run_dir, "model_card.json")):
        return contextlib.nullcontext()
    return writing(os.path.join(run_dir, "model"))


def _export(run_dir, quantizations, out, dataset, progress):
    exported = ExportedModel(run_dir)
    if exported.task is None:
        raise AutomlError(f"converting needs the '{exported.card['task']}' task plugin, "
                          "which is not installed here")
    if exported.problem.name != "classification":
        raise AutomlError(f"LiteRT files are written for classification models; this one is "
                          f"{exported.problem.name} (serve its SavedModel)")
    model_dir = os.path.dirname(exported.card_path)
    dataset = dataset or _run_dataset(run_dir, exported.task)
    saved_probabilities = _saved_model_probabilities(exported, dataset.test)
    calibration = (_representative(dataset.train, exported.card.get("options", {}))
                   if "int8" in quantizations else None)
    entries = {}
    with Converter() as converter:
        for quantization in quantizations:
            settings_lib.check_quantization(quantization)
            if progress:
                progress(f"converting to LiteRT ({quantization})")
            target = (os.path.abspath(out) if out
                      else os.path.join(model_dir, file_name(quantization)))
            entries[quantization] = _write_checked(
                converter, exported, dataset.test, quantization, target, saved_probabilities,
                calibration if quantization == "int8" else None)
            if target.startswith(os.path.abspath(model_dir) + os.sep):
                entries[quantization]["file"] = os.path.relpath(target, model_dir)
    card = exported.card
    card["litert"] = {**card.get("litert", {}), **entries}
    card.pop(PENDING, None)
    write_json(exported.card_path, card)
    return entries


def pending(card_path):
    """The `export` setting of a LiteRT export a signal stopped (see `finish_pending`),
    or None."""
    try:
        with open(card_path, encoding="utf-8") as handle:
            return json.load(handle).get(PENDING)
    except (OSError, ValueError):
        return None


def clear_pending(card_path):
    """Drop the mark of a stopped LiteRT export from the card at `card_path`, where it
    has one: a new search in the run will write its own export."""
    if not pending(card_path):
        return
    with writing(os.path.dirname(card_path)):
        with open(card_path, encoding="utf-8") as handle:
            card = json.load(handle)
        card.pop(PENDING, None)
        write_json(card_path, card)


def finish_pending(run_dir, progress=None):
    """Write the LiteRT files of a search a signal stopped while converting; returns the
    card, with the files or with `litert_error` where they could not be written."""
    card_path = os.path.join(run_dir, "model", "model_card.json")
    try:
        export(run_dir, settings_lib.parse_export(pending(card_path)), progress=progress, report=False)
    except AutomlError as error:
        with open(card_path, encoding="utf-8") as handle:
            card = json.load(handle)
        card.pop(PENDING, None)
        card["litert_error"] = str(error)
        write_json(card_path, card)
    with open(card_path, encoding="utf-8") as handle:
        return json.load(handle)


def _run_dataset(run_dir, task):
    """The run's data as the search split it (refused where it has changed since)."""
    recipe = os.path.join(run_dir, "recipe.yaml")
    if not os.path.isfile(recipe):
        raise AutomlError(f"{run_dir} holds no recipe.yaml: its data cannot be read again")
    settings = settings_lib.load_recipe(recipe, [f"out={run_dir}"], legacy=True)
    source_print = fingerprint.of_source(settings, task)
    fingerprint.check_unchanged(run_dir, source_print, None)
    dataset = task.load(settings)
    fingerprint.check_unchanged(run_dir, source_print, fingerprint.of_splits(dataset))
    return dataset


def _saved_model_probabilities(exported, split):
    return np.concatenate([exported.serve_prepared(batch) for batch in split.batches(256)])


def _write_checked(converter, exported, test, quantization, target, saved_probabilities,
                   calibration):
    """Convert into a temporary folder, check the file there, then move it into place.

    `calibration` is int8's `(examples, labels)` of the training split. Int8 weights are scaled per tensor unless that costs more than `PER_TENSOR_LOSS`
    of accuracy against the SavedModel on the calibration examples; then per channel.
    """
    folder = os.path.dirname(target) or "."
    os.makedirs(folder, exist_ok=True)
    staging = tempfile.mkdtemp(dir=folder, prefix=".litert-")
    representative, labels = calibration or (None, None)
    try:
        staged = os.path.join(staging, os.path.basename(target))
        per_channel = False
        content, model = _converted(converter, exported, quantization, representative, staged,
                                    per_channel)
        if quantization == "int8" and \
                _accuracy_loss(exported, model, representative, labels) > PER_TENSOR_LOSS:
            per_channel = True
            content, model = _converted(converter, exported, quantization, representative,
                                        staged, per_channel)
        with open(os.path.join(staging, LABELS_FILE), "w", encoding="utf-8") as handle:
            handle.write("".join(f"{name}\n" for name in exported.classes))
        entry = model.describe(quantization)
        if quantization == "int8":
            _check_integer(model, entry)
            entry["representative_examples"] = len(representative)
            entry["weights"] = "per channel" if per_channel else "per tensor"
        entry.update(_scores(model, test, saved_probabilities))
        entry.update(size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest(),
                     file=target, companions=sorted(os.listdir(staging)))
        entry["companions"].remove(os.path.basename(target))
        for name in entry["companions"] + [os.path.basename(target)]:  # the model last
            os.replace(os.path.join(staging, name), os.path.join(folder, name))
        return entry
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _converted(converter, exported, quantization, representative, staged, per_channel):
    """`(bytes, LiteRTModel)` of the exported model converted and written to `staged`."""
    content = converter.convert(exported.card, os.path.dirname(exported.card_path),
                                quantization, representative, os.path.dirname(staged),
                                per_channel)
    with open(staged + ".part", "wb") as handle:  # a new file: an interpreter maps the old
        handle.write(content)
    os.replace(staged + ".part", staged)
    return content, LiteRTModel(staged, exported.task, exported.meta)


def _accuracy_loss(exported, model, examples, labels):
    """The SavedModel's accuracy on `examples` (training ones) less `model`'s."""
    saved = np.argmax(exported.serve_prepared(stacked(examples)), axis=-1)
    lite = np.argmax(model.probabilities(examples), axis=-1)
    return float(np.mean(saved == labels) - np.mean(lite == labels))


def _representative(train, options):
    """`(examples, labels)`: up to `REPRESENTATIVE_EXAMPLES` of the training split, drawn
    at random (seeded)."""
    count = min(REPRESENTATIVE_EXAMPLES, len(train))
    indices = sorted(int(i) for i in np.random.RandomState(
        int(options.get("seed", 0) or 0)).choice(len(train), count, replace=False))
    return train.take(indices), np.asarray(train.y)[indices]


def _check_integer(model, entry):
    floating = [t["name"] for t in entry["inputs"] + entry["outputs"] if t["dtype"] == "float32"]
    if floating:
        raise AutomlError(f"the int8 conversion came out with float tensors "
                          f"({', '.join(floating)}): not a full-integer model")


def _scores(model, test, saved_probabilities):
    probabilities = model.probabilities([x for batch in test.batches(256) for x in batch])
    labels = np.argmax(probabilities, axis=-1)
    saved = np.argmax(saved_probabilities, axis=-1)
    example = test.take([0]) if len(test) else None
    return {"test_examples": int(len(test)),
            "test_accuracy": float(np.mean(labels == test.y)) if len(test) else None,
            "saved_model_test_accuracy": float(np.mean(saved == test.y)) if len(test) else None,
            "agreement_with_saved_model": float(np.mean(labels == saved)) if len(test) else None,
            "latency_ms": model.latency_ms(example[0]) if example else None}


# Converting (in a child process) ---------------------------------------------------


class Converter:
    """A converter child process that serves the conversions of one export in turn.

    A fresh interpreter converts (not a fork, nor `multiprocessing`, which would
    import the caller's main script again); it starts at the first conversion and
    ends with the `with` block, so one export imports TensorFlow there once, and the
    memory the converter leaks goes with it. Requests and outcomes pass as pickles.
    It runs isolated (`-I`), on this process's import path without the working
    folder, so modules lying there are not imported. It is in a session of its own:
    Ctrl-C or SIGTERM reach this process, which ends the child and stops as the
    signal asks (KeyboardInterrupt), not as a failed conversion.
    """

    def __init__(self):
        self.child, self.exchange = None, None

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        if self.child is not None:
            if self.child.poll() is None:
                if exception[0] is None:
                    self.child.stdin.close()  # no more requests: the child ends
                    try:
                        self.child.wait(CHILD_POLL_SECONDS * 50)
                    except subprocess.TimeoutExpired:
                        pass
                if self.child.poll() is None:
                    self.child.terminate()
                    self.child.wait()
            self.exchange.cleanup()
        return False

    def convert(self, card, model_dir, quantization, representative, folder, per_channel):
        """The `.tflite` bytes of `model_dir/model.keras`; companion files go into `folder`.

        Int8 weights are quantized per tensor, or with `per_channel` per output channel.
        """
        if self.child is None:
            self.exchange = tempfile.TemporaryDirectory()
            self.child = subprocess.Popen(
                [sys.executable, "-I", "-c", "import sys; sys.path[:] = sys.argv[1:]; "
                 "import automl.export.litert as l; l.convert_child()", *_import_path()],
                stdin=subprocess.PIPE, text=True, start_new_session=True)
        request = os.path.join(self.exchange.name, "request")
        reply = os.path.join(self.exchange.name, "reply")
        with contextlib.suppress(FileNotFoundError):
            os.remove(reply)
        with open(request, "wb") as handle:
            pickle.dump((card, model_dir, quantization, representative, folder, per_channel,
                         env.is_verbose()), handle)
        if self.child.poll() is None:
            self.child.stdin.write(f"{request}\t{reply}\n")
            self.child.stdin.flush()
        while not os.path.isfile(reply) and self.child.poll() is None:
            interrupt.check()
            time.sleep(CHILD_POLL_SECONDS)
        interrupt.check()
        if not os.path.isfile(reply):
            raise AutomlError(f"cannot convert to LiteRT: the converter exited with code "
                              f"{self.child.poll()}")
        with open(reply, "rb") as handle:
            outcome, value = pickle.load(handle)
        if outcome == "error":
            raise AutomlError(value)
        return value


def _import_path():
    """This process's `sys.path` without the working folder, the folder holding this
    package first."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    working = os.getcwd()
    kept = [p for p in sys.path if p and os.path.abspath(p) != working]
    return [here] + [p for p in kept if os.path.abspath(p) != here]


def convert_child():
    """The child process of `Converter`: one conversion for each line of
    `REQUEST<TAB>REPLY` on its standard input, its outcome written whole to REPLY."""
    for line in sys.stdin:
        request, reply = line.rstrip("\n").split("\t")
        with open(request, "rb") as handle:
            card, model_dir, quantization, representative, folder, per_channel, verbose = \
                pickle.load(handle)
        env.set_verbose(verbose)
        outcome = _convert_here(card, model_dir, quantization, representative, folder,
                                per_channel)
        with open(reply + ".part", "wb") as handle:
            pickle.dump(outcome, handle)
        os.replace(reply + ".part", reply)


def _convert_here(card, model_dir, quantization, representative, folder, per_channel):
    try:
        _, keras = env.import_tensorflow()
        task = registry.get_task(card["task"])
        model = keras.saving.load_model(os.path.join(model_dir, "model.keras"), compile=False)
        device = capabilities.device_model(task, model, card["data"], folder)
        return "ok", convert_device_model(device, task, card["data"], quantization,
                                          representative, folder, per_channel)
    except AutomlError as error:
        return "error", str(error)
    except Exception as error:
        return "error", f"cannot convert to LiteRT: {first_line(error)}"


def convert_device_model(device, task, meta, quantization, representative, folder,
                         per_channel=False):
    """The `.tflite` bytes of `device`, a model from the task's `device_model`, on built-in ops.

    Converts in this process; `Converter` runs it in a child. Int8 weights are
    quantized per tensor (a scale and a zero point per weight tensor: in a small
    model the per-channel ones take a fifth of the file), or with `per_channel`.
    """
    tf, keras = env.import_tensorflow()
    with tempfile.TemporaryDirectory() as saved:
        _write_saved_model(tf, keras, device, saved)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        _configure(tf, converter, task, meta, quantization, representative, folder, per_channel)
        float_layers = quantization == "int8" and _present(device, capabilities.device_float_layers(task))
        try:
            with env.silenced_stderr():
                if float_layers:
                    content = _quantized_but(tf, converter, float_layers,
                                             capabilities.device_input_type(task))
                else:
                    content = converter.convert()
        except AutomlError:
            raise
        except Exception as error:  # the converter's own error types vary by version
            raise AutomlError(_conversion_error(str(error), device)) from None
    return without_inner_names(content)


def without_inner_names(content):
    """`content` with the names of its inner tensors dropped: the same model in fewer
    bytes (a fused op's name spells every layer folded into it, and a quantised model
    has several tensors per layer). Inputs, outputs and signatures keep their names."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    for subgraph in model.subgraphs:
        named = set(subgraph.inputs) | set(subgraph.outputs)
        for index, tensor in enumerate(subgraph.tensors):
            if index not in named:
                tensor.name = None
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _present(device, names):
    found = {layer.name for layer in _layers(device)}
    return [name for name in names if name in found]


def _quantized_but(tf, converter, float_layers, input_type):
    """Full-integer int8, except the ops of `float_layers`, which keep float kernels."""
    pattern = re.compile(r"(^|/)(%s)(_\d+)?/" % "|".join(map(re.escape, float_layers)))
    integer = {"int8": tf.int8, "uint8": tf.uint8}[input_type]
    return litert_private.quantized_except(
        tf, converter, interpreter_class(),
        lambda names: [name for name in names if pattern.search(name)], integer)


def _write_saved_model(tf, keras, device, path):
    specs = [tf.TensorSpec(t.shape, t.dtype, name=t.name) for t in device.inputs]

    def serve(*args):
        feed = args[0] if len(args) == 1 else list(args)
        return {"probabilities": device(feed, training=False)}

    archive = keras.export.ExportArchive()
    archive.track(device)
    archive.add_endpoint("serving_default", serve, input_signature=specs)
    archive.write_out(path, verbose=False)


def _configure(tf, converter, task, meta, quantization, representative, folder, per_channel):
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantization == "int8":
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        feeds = capabilities.device_inputs(task, stacked(representative), meta, folder)
        converter.representative_dataset = lambda: iter(feeds)
        integer = {"int8": tf.int8, "uint8": tf.uint8}[capabilities.device_input_type(task)]
        converter.inference_input_type = integer
        converter.inference_output_type = tf.int8
        litert_private.set_per_channel(converter, per_channel)
    converter.target_spec.supported_ops = ops


def stacked(examples):
    """Prepared examples (an array, or a list from `Split.take`) as one array."""
    if isinstance(examples, np.ndarray):
        return examples
    if examples and isinstance(examples[0], str):
        return np.asarray(examples, dtype=object)
    return np.stack(examples)


def _conversion_error(message, device):
    """One line naming the layer and TensorFlow ops that keep a model off built-in ops."""
    ops = sorted(set(re.findall(r"\btf\.([A-Z][A-Za-z0-9]+)", message)))
    if not ops:
        return f"cannot convert to LiteRT: {first_line(message)}"
    names = {layer.name for layer in _layers(device)} - {device.name}
    named = []
    for scope in re.findall(r'"((?:[^"/@]+/)+)[^"/@]*@', message):
        parts = [part if part in names else re.sub(r"_\d+$", "", part)
                 for part in scope.strip("/").split("/")]
        named += [part for part in parts if part in names][-1:]
    where = f"layer '{named[0]}' needs" if named else "the model needs"
    return (f"cannot convert to LiteRT with built-in ops only: {where} TensorFlow ops "
            f"{', '.join(ops)} (Select TF ops, which LiteRT's interpreter does not run)")


def _layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _layers(layer)


# Running -------------------------------------------------------------------------


class LiteRTModel:
    """A `.tflite` file run by LiteRT's interpreter, fed as its task prepares examples."""

    def __init__(self, path, task, meta):
        if not os.path.isfile(path):
            raise AutomlError(f"no LiteRT file {path}: write it with `automl export RUN "
                              "--format tflite`")
        self.path, self.task, self.meta = path, task, meta
        with env.silenced_stderr():  # LiteRT announces its CPU delegate on stderr
            self.interpreter = interpreter_class()(model_path=path)
            self.interpreter.allocate_tensors()
            self.runner = self.interpreter.get_signature_runner()
        self.inputs = self.runner.get_input_details()
        self.output = next(iter(self.runner.get_output_details().values()))

    def run(self, feed):
        """Probabilities `[classes]` of one example's `{input name: array [1, ...]}`."""
        values = {name: _quantized(value, self.inputs[name]) for name, value in feed.items()}
        result = next(iter(self.runner(**values).values()))
        return _dequantized(result, self.output)[0]

    def feeds(self, prepared):
        """The task's `device_inputs` of prepared examples, read with the files beside the model."""
        return capabilities.device_inputs(self.task, stacked(prepared), self.meta,
                                          os.path.dirname(self.path))

    def probabilities(self, prepared):
        """Probabilities `[N, classes]` of prepared examples."""
        rows = [self.run(feed) for feed in self.feeds(prepared)]
        return np.stack(rows) if rows else np.zeros((0, int(self.output["shape"][-1])))

    def latency_ms(self, example):
        """Median milliseconds of one call on one prepared example (after a warm-up)."""
        feed = self.feeds([example])[0]
        self.run(feed)
        times = []
        for _ in range(LATENCY_CALLS):
            start = time.perf_counter()
            self.run(feed)
            times.append(time.perf_counter() - start)
        return round(1000 * statistics.median(times), 3)

    def describe(self, quantization):
        """The file's tensors and the ops it computes in float, for the card."""
        return {"quantization": quantization,
                "inputs": [_tensor(name, d) for name, d in self.inputs.items()],
                "outputs": [_tensor(name, d)
                            for name, d in self.runner.get_output_details().items()],
                "float_ops": self.float_ops() if quantization == "int8" else None}

    def float_ops(self):
        """Op names whose outputs stay float32 in a quantised model (read without delegates,
        which would hide the ops they take over)."""
        from ai_edge_litert.interpreter import OpResolverType

        with env.silenced_stderr():
            plain = interpreter_class()(
                model_path=self.path,
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            plain.allocate_tensors()
        tensors = {t["index"]: t for t in plain.get_tensor_details()}
        found = set()
        for op in litert_private.ops_details(plain):
            if op["op_name"] == "DEQUANTIZE":
                continue
            if any(tensors[i]["dtype"] == np.float32 for i in op["outputs"] if i in tensors):
                found.add(op["op_name"])
        return sorted(found)


def _tensor(name, details):
    scale, zero_point = details.get("quantization", (0.0, 0))
    return {"name": name, "shape": [int(s) for s in details["shape_signature"]],
            "dtype": np.dtype(details["dtype"]).name,
            "scale": float(scale), "zero_point": int(zero_point)}


def _quantized(value, details):
    dtype = np.dtype(details["dtype"])
    scale, zero_point = details.get("quantization", (0.0, 0))
    if dtype.kind in "iu" and scale:
        limits = np.iinfo(dtype)
        value = np.clip(np.round(np.asarray(value, "float32") / scale + zero_point),
                        limits.min, limits.max)
    return np.asarray(value).astype(dtype)


def _dequantized(value, details):
    scale, zero_point = details.get("quantization", (0.0, 0))
    if scale:
        return (value.astype("float32") - zero_point) * scale
    return value.astype("float32")


def load(run_dir, quantization=None):
    """The `LiteRTModel` of a run's `.tflite` (`quantization`: which one; default the float)."""
    exported = ExportedModel(run_dir, load_saved_model=False)
    entries = exported.card.get("litert") or {}
    if not entries:
        raise AutomlError(f"no LiteRT file in {run_dir}: write one with `automl export "
                          f"{run_dir} --format tflite`")
    if quantization is None:
        quantization = "none" if "none" in entries else next(iter(entries))
    if quantization not in entries:
        raise AutomlError(f"no {quantization} LiteRT file in {run_dir} (exported: "
                          f"{', '.join(entries)})")
    if exported.task is None:
        raise AutomlError(f"reading inputs needs the '{exported.card['task']}' task plugin")
    return exported, LiteRTModel(_inside_model_folder(exported, entries[quantization]["file"]),
                                 exported.task, exported.meta)


def _inside_model_folder(exported, recorded):
    """The LiteRT file the card names, resolved inside the model folder; refused elsewhere
    (an absolute path, `..`, or a link leading out)."""
    model_dir = os.path.realpath(os.path.dirname(exported.card_path))
    path = os.path.realpath(os.path.join(model_dir, recorded))
    if os.path.dirname(path) != model_dir:
        raise AutomlError(f"the model card names a LiteRT file outside its model folder "
                          f"({recorded}): only files in {model_dir} are read")
    return path


def summary(entries):
    """One line per LiteRT file, as `automl export` prints it."""
    return [f"{os.path.basename(e['file'])}: {e['size_bytes'] / 1024:.0f} KiB, test accuracy "
            f"{e['test_accuracy']:.4f} (SavedModel {e['saved_model_test_accuracy']:.4f}, "
            f"labels agree on {100 * e['agreement_with_saved_model']:.2f}%), "
            f"{e['latency_ms']:.2f} ms per example"
            for e in entries.values() if e.get("test_accuracy") is not None]
