"""LiteRT export: conversion on built-in ops, int8 tensors, the pure-Python tokenizer, checks."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error, invoke
from test_audio import family_model
from test_text import synthetic_texts

from automl.export import litert

ODD_TEXTS = ["Hello, World! It's  A   TEST.", "ÄÖÜ Straße naïve CAFÉ", "tab\tnew\nline\rend",
             "no\u00a0break\u2003em\x1cfile", "a", "", "   ", "punct-uation: (yes) [no] {x}",
             "日本語 テキスト", "MiXeD CaSe 123 4.5", "emoji 😀 and more 😀"]


def _layer_ids(layer, texts):
    import tensorflow as tf

    return np.asarray(layer(tf.constant(texts)))


@pytest.mark.parametrize("kind", ["word_bigrams", "tf_idf_trigrams", "characters", "sequence",
                                  "character_sequence"])
def test_the_tokenizer_reproduces_text_vectorization_exactly(kind):
    import keras

    from automl_plugins.text_device import vectorizer_spec
    from automl_plugins.text_tokenizer import Vectorizer

    texts = [t for t, _ in synthetic_texts(40, 0)] + ODD_TEXTS
    options = {"word_bigrams": dict(output_mode="multi_hot", ngrams=2),
               "tf_idf_trigrams": dict(output_mode="tf_idf", ngrams=3),
               "characters": dict(output_mode="multi_hot", split="character", ngrams=(2, 3, 4, 5),
                                  standardize="lower"),
               "sequence": dict(output_mode="int", output_sequence_length=12),
               "character_sequence": dict(output_mode="int", output_sequence_length=40,
                                          split="character", standardize="lower")}[kind]
    layer = keras.layers.TextVectorization(max_tokens=300, **options)
    layer.adapt(texts[:30])
    tokenizer = Vectorizer({"input": "ids", **vectorizer_spec(layer)})
    expected = _layer_ids(layer, texts[30:] + ODD_TEXTS)
    for text, row in zip(texts[30:] + ODD_TEXTS, expected):
        ids = tokenizer.encode(text)
        if kind.endswith("sequence"):
            assert ids == row.tolist(), text
            continue
        bag = np.bincount([i for i in ids if i != tokenizer.pad_id], minlength=len(row))
        if kind == "tf_idf_trigrams":
            weights = np.asarray(layer._lookup_layer.idf_weights_const)
            bag = bag * weights
        np.testing.assert_allclose(bag, row, rtol=1e-6, err_msg=text)


def test_the_tokenizer_file_runs_without_tensorflow(tmp_path):
    from automl_plugins import text_tokenizer

    spec = {"input": "ids", "standardize": "lower_and_strip_punctuation", "split": "whitespace",
            "ngrams": [1, 2], "output_mode": "multi_hot", "sequence_length": None, "oov_id": 0,
            "pad_id": 3, "vocabulary": ["[UNK]", "good", "good film"]}
    (tmp_path / "tokenizer.json").write_text(json.dumps({"inputs": [spec]}))
    (tmp_path / "tokenizer.py").write_text(open(text_tokenizer.__file__).read())
    code = ("import sys; sys.modules['tensorflow'] = None; sys.modules['numpy'] = None; "
            "from tokenizer import Tokenizer; "
            "print(Tokenizer.load('tokenizer.json').encode('Good film, bad!'))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{'ids': [0, 1, 2]}"  # bad, film, good film bad, ... -> OOV


def test_a_fixed_resize_computes_what_keras_resizing_does():
    import keras

    from automl_plugins.image_device import device_model

    inputs = keras.Input((None, None, 3))
    x = keras.layers.Resizing(30, 36, antialias=True, name="input_resize")(inputs)
    x = keras.layers.Resizing(12, 20, antialias=True, name="resize")(x)
    outputs = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(x))
    model = keras.Model(inputs, outputs)
    device = device_model(model, 30, 36, 3)
    image = np.random.RandomState(0).uniform(0, 255, (1, 30, 36, 3)).astype("float32")
    np.testing.assert_allclose(device(image), model(image), atol=1e-4)
    kinds = {type(layer).__name__ for layer in device.layers}
    assert "Resizing" not in kinds


@pytest.fixture
def litert_run(image_run, tmp_path):
    """A copy of the shared image run for a test that exports into it."""
    return str(shutil.copytree(image_run, tmp_path / "run"))


def _entries(run):
    with open(os.path.join(run, "model", "model_card.json")) as handle:
        return json.load(handle).get("litert", {})


def test_an_image_model_exports_float_and_uint8_files_that_agree_with_the_saved_model(
        litert_run, monkeypatch):
    """Both files, their card entries, `predict --tflite`, and the README's client."""
    from automl.export import litert

    image_run = litert_run
    children = []
    popen = litert.subprocess.Popen
    monkeypatch.setattr(litert.subprocess, "Popen",
                        lambda *args, **kwargs: children.append(args) or popen(*args, **kwargs))
    result = invoke("export", image_run, "--format", "tflite", "--quantize", "none",
                    "--quantize", "int8")
    assert result.exit_code == 0, result.output
    assert len(children) == 1  # one converter child serves both files
    entries = _entries(image_run)
    model_dir = os.path.join(image_run, "model")
    for quantization, name in (("none", "model.tflite"), ("int8", "model_int8.tflite")):
        entry = entries[quantization]
        path = os.path.join(model_dir, name)
        assert entry["file"] == name and os.path.getsize(path) == entry["size_bytes"]
        assert entry["inputs"][0]["shape"] == [1, 8, 8, 1]
        assert entry["test_examples"] == 12 and entry["latency_ms"] > 0
        assert "labels.txt" in entry["companions"]
    assert entries["none"]["agreement_with_saved_model"] == 1.0
    assert entries["none"]["inputs"][0]["dtype"] == "float32"
    assert entries["int8"]["inputs"][0]["dtype"] == "uint8"
    assert entries["int8"]["outputs"][0]["dtype"] == "int8"
    assert entries["int8"]["float_ops"] == []
    assert entries["int8"]["weights"] in ("per tensor", "per channel")
    assert entries["int8"]["size_bytes"] < entries["none"]["size_bytes"]
    with open(os.path.join(model_dir, "labels.txt")) as handle:
        assert handle.read().split() == ["bottom", "left", "top"]
    assert "LiteRT files" in open(os.path.join(image_run, "report", "index.html")).read()
    result = invoke("predict", image_run, _a_png(image_run), "--tflite", "--quantize", "int8")
    assert result.exit_code == 0, result.output
    assert result.output.split("\t")[1].split()[0] in ("bottom", "left", "top")
    # The README's client scores the test split as the card says.
    assert _readme_client_accuracy(image_run) == f"{entries['int8']['test_accuracy']:.4f}"


def _readme_client_accuracy(image_run):
    """The accuracy examples/litert_client.py prints for the int8 file, LiteRT and Pillow only."""
    with open(os.path.join(image_run, "model", "model_card.json")) as handle:
        test_folder = os.path.join(json.load(handle)["data"]["source"], "test")
    client = os.path.join(os.path.dirname(__file__), "..", "examples", "litert_client.py")
    code = ("import sys, runpy; sys.modules['tensorflow'] = None; sys.modules['automl'] = None; "
            f"sys.argv = ['client'] + sys.argv[1:]; runpy.run_path({client!r}, run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code,
                           os.path.join(image_run, "model", "model_int8.tflite"), test_folder],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[1]


def _a_png(run):
    with open(os.path.join(run, "model", "model_card.json")) as handle:
        source = json.load(handle)["data"]["source"]
    folder = os.path.join(source, "test", "left")
    return os.path.join(folder, sorted(os.listdir(folder))[0])


def test_a_text_ensemble_exports_id_inputs_and_the_tokenizer_beside_them(text_ensemble_run):
    out = Path(text_ensemble_run.run)
    entry = _entries(str(out))["int8"]
    assert entry["companions"] == ["labels.txt", "tokenizer.json", "tokenizer.py"]
    assert all(t["dtype"] == "int32" for t in entry["inputs"])
    assert entry["outputs"][0]["dtype"] == "int8"
    assert entry["test_accuracy"] >= entry["saved_model_test_accuracy"] - 0.15
    with open(out / "model" / "tokenizer.json") as handle:
        names = [spec["input"] for spec in json.load(handle)["inputs"]]
    assert sorted(names) == sorted(t["name"] for t in entry["inputs"])
    result = invoke("predict", out, "--text", "storm and rain today", "--tflite", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["predictions"][0]["label"] == "weather"


def test_an_ensemble_of_bags_of_words_and_of_characters_converts_with_one_input_each(tmp_path):
    from test_text import _family_model

    from automl.runtime import env
    from automl.tuning import ensemble
    from automl_plugins.text import TextTask

    tf, keras = env.import_tensorflow()
    members = []
    for index, tokens in enumerate(["words", "characters"]):
        model, _, x, _ = _family_model("bag", {"text/bag/tokens": tokens})
        model.name = f"trial_{index}"
        members.append(model)
    averaged = ensemble.average_model(keras, members, (), "string", "ensemble")
    device = TextTask().device_model(averaged, {}, str(tmp_path))
    content = litert.convert_device_model(device, TextTask(), {}, "none", None, str(tmp_path))
    path = tmp_path / "model.tflite"
    path.write_bytes(content)
    with open(tmp_path / "tokenizer.json") as handle:
        assert [spec["input"] for spec in json.load(handle)["inputs"]] == ["ids_1", "ids_2"]
    texts = [str(text) for text in x[:4]]
    probabilities = litert.LiteRTModel(str(path), TextTask(), {}).probabilities(
        np.asarray(texts, dtype=object))
    np.testing.assert_allclose(probabilities, averaged.predict(tf.constant(texts), verbose=0),
                               atol=1e-5)


def test_an_int8_audio_model_keeps_its_spectrogram_float_and_the_rest_integer(tmp_path):
    task, model, x, _, meta = family_model("mel_cnn")
    device = task.device_model(model, meta, str(tmp_path))
    path = tmp_path / "model_int8.tflite"
    path.write_bytes(litert.convert_device_model(device, task, meta, "int8", list(x),
                                                 str(tmp_path)))
    lite = litert.LiteRTModel(str(path), task, meta)
    described = lite.describe("int8")
    assert [t["dtype"] for t in described["inputs"] + described["outputs"]] == ["int8", "int8"]
    assert "LOG" in described["float_ops"]
    assert "CONV_2D" not in described["float_ops"]
    tensors = litert.interpreter_class()(model_path=str(path)).get_tensor_details()
    assert len([t for t in tensors if t["name"]]) == 2 < len(tensors)  # input, output
    agree = lite.probabilities(x).argmax(1) == model.predict(x, verbose=0).argmax(1)
    assert agree.mean() >= 0.5


def test_a_test_time_model_runs_its_network_once_on_a_batch_of_the_copies(tmp_path):
    import keras_tuner as kt
    from test_image_recipe import fake_dataset

    from automl.runtime import env
    from automl.tuning.hypermodel import TaskHyperModel
    from automl_plugins.image import ImageTask

    _, keras = env.import_tensorflow()
    task, dataset = ImageTask(), fake_dataset(28, 28, 1)
    hp = kt.HyperParameters()
    hp.values.update(task.known_good(dataset)[0])
    model = TaskHyperModel(task, dataset, keras).build(hp)
    wrapped = task.test_time_model(hp, model, dataset.meta)
    device = task.device_model(wrapped, dataset.meta, str(tmp_path))
    images = dataset.test.x[:4].astype("float32")
    expected = wrapped.predict(images, verbose=0)
    np.testing.assert_allclose(np.concatenate([device(images[i:i + 1], training=False)
                                               for i in range(4)]), expected, atol=1e-5)
    path = tmp_path / "model.tflite"
    path.write_bytes(litert.convert_device_model(device, task, dataset.meta, "none", None,
                                                 str(tmp_path)))
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert _op_names(path).count("CONV_2D") == len(convolutions)  # one network, not three
    np.testing.assert_allclose(litert.LiteRTModel(str(path), task, dataset.meta)
                               .probabilities(dataset.test.x[:4]), expected, atol=1e-5)


def _op_names(path):
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    names = {code: name for name, code in vars(schema.BuiltinOperator).items()
             if not name.startswith("_")}
    model = flatbuffer_utils.read_model(str(path))
    return [names[model.operatorCodes[op.opcodeIndex].builtinCode]
            for op in model.subgraphs[0].operators]


def test_int8_weights_are_per_tensor_unless_asked_per_channel(tmp_path):
    task, model, x, _, meta = family_model("mel_cnn")
    device = task.device_model(model, meta, str(tmp_path))
    sizes, scales = {}, {}
    for per_channel in (False, True):
        path = tmp_path / f"model_{per_channel}.tflite"
        path.write_bytes(litert.convert_device_model(device, task, meta, "int8", list(x),
                                                     str(tmp_path), per_channel))
        sizes[per_channel] = path.stat().st_size
        tensors = litert.interpreter_class()(model_path=str(path)).get_tensor_details()
        scales[per_channel] = max(len(t["quantization_parameters"]["scales"]) for t in tensors
                                  if t["dtype"] == np.int8)
    assert scales[False] == 1 < scales[True]
    assert sizes[False] < sizes[True]


@pytest.mark.parametrize("family", ["mel_cnn", "stft_cnn", "wave_cnn"])
def test_each_audio_front_end_runs_on_builtin_ops_and_computes_the_keras_features(family,
                                                                                   tmp_path):
    """The float `.tflite` and the Keras model of every audio family give the same outputs."""
    task, model, x, _, meta = family_model(family)
    device = task.device_model(model, meta, str(tmp_path))
    path = tmp_path / "model.tflite"
    path.write_bytes(litert.convert_device_model(device, task, meta, "none", None, str(tmp_path)))
    lite = litert.LiteRTModel(str(path), task, meta)
    np.testing.assert_allclose(lite.probabilities(x), model.predict(x, verbose=0), atol=1e-4)


def test_a_model_that_needs_tensorflow_ops_is_refused_naming_the_layer(tmp_path):
    import keras

    from automl_plugins.audio import AudioTask

    inputs = keras.Input((16,), batch_size=1, name="inputs")
    hashed = keras.layers.Hashing(8, name="hash_them")(keras.layers.Identity()(inputs))
    device = keras.Model(inputs, keras.layers.Softmax()(keras.ops.cast(hashed, "float32")))
    meta = {"sample_rate": 16000, "samples": 16}
    with pytest.raises(litert.AutomlError, match="built-in ops only: layer 'hash_them'"):
        litert.convert_device_model(device, AudioTask(), meta, "none", None, str(tmp_path))


def test_export_refuses_bad_requests_in_one_line(image_run, tmp_path):
    result = invoke("export", tmp_path / "nothing", "--format", "tflite")
    assert_one_line_error(result, "no exported model")
    result = invoke("export", image_run, "--format", "tflite", "--quantize", "none",
                    "--quantize", "int8", "--out", tmp_path / "x.tflite")
    assert_one_line_error(result, "--out names one file")
    result = invoke("predict", image_run, _a_png(image_run), "--quantize", "int8")
    assert_one_line_error(result, "give --tflite")
    result = invoke("search", "--task", "image", "--data", tmp_path, "--out", tmp_path / "r",
                    "--export", "onnx")
    assert_one_line_error(result, "unknown export format 'onnx'")


def test_out_writes_the_file_and_its_labels_elsewhere(litert_run, tmp_path, monkeypatch):
    """Also run from a folder whose `numpy.py` the converter must not import."""
    image_run = litert_run
    working = tmp_path / "work"
    working.mkdir()
    marker = tmp_path / "poisoned"
    (working / "numpy.py").write_text(f"open({str(marker)!r}, 'w').close()\n"
                                      "raise ImportError('the working folder numpy')\n")
    monkeypatch.chdir(working)
    target = tmp_path / "device" / "letters.tflite"
    result = invoke("export", image_run, "--format", "tflite", "--quantize", "dynamic",
                    "--out", target, "--json")
    assert result.exit_code == 0, result.output
    assert not marker.exists()
    entry = json.loads(result.stdout)["dynamic"]
    assert entry["file"] == str(target) and target.read_bytes()[4:8] == b"TFL3"
    assert (tmp_path / "device" / "labels.txt").is_file()
    assert not [n for n in os.listdir(tmp_path / "device") if n.startswith(".")]
    assert _entries(image_run)["dynamic"]["sha256"] == entry["sha256"]
