"""Pretrained backbones and word vectors, loaded the way a user's real weights are: tiny
networks with random weights saved to files, searched and exported, all offline."""

import dataclasses
import json
import os
import socket
import urllib.request

import numpy as np
import pytest

from automl.transfer import backbones, weights
from conftest import assert_one_line_error, invoke

SERVE = """
import numpy as np, tensorflow as tf
for folder in FOLDERS:
    served = tf.saved_model.load(folder).signatures["serving_default"]
    out = served(inputs=tf.constant(np.full((2, 8, 8, 1), 200, "float32")))
    print(out["probabilities"].shape[0], float(tf.reduce_sum(out["probabilities"][0])))
"""


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """Empty Keras and KerasHub caches, and any download or connection attempt fails the test."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access: {args[:2]}")

    import keras

    monkeypatch.setattr(keras.utils, "get_file", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def _card(out):
    with open(os.path.join(out, "model", "model_card.json"), encoding="utf-8") as handle:
        return json.load(handle)


def _served(tensorflow_alone, *outs):
    """`(rows, sum of the first row's probabilities)` from each run's SavedModel, served with
    TensorFlow alone."""
    folders = [os.path.join(out, "model", "saved_model") for out in outs]
    done = tensorflow_alone(SERVE.replace("FOLDERS", repr(folders)))
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()[-len(outs):]
    return [(int(rows), float(total)) for rows, total in map(str.split, lines)]


def _search(image_folder, out, *args):
    result = invoke("search", "--task", "image", "--data", image_folder, "--out", out,
                    "--max-trials", 1, "--epochs", 1, *args)
    assert result.exit_code == 0, result.output
    return result


def test_keras_applications_and_keras_hub_backbones_from_files(image_folder, tmp_path, offline,
                                                                monkeypatch, tensorflow_alone):
    """A keras.applications body from a weights file and a KerasHub preset folder; the two
    SavedModels serve with TensorFlow alone."""
    import keras

    keras_hub = pytest.importorskip("keras_hub")
    # The smallest input MobileNetV3 takes keeps the test fast; weights fit any size.
    family = dataclasses.replace(backbones.IMAGE_FAMILIES["mobilenet_v3_small"], input_size=32)
    monkeypatch.setitem(backbones.IMAGE_FAMILIES, family.name, family)
    keras.utils.set_random_seed(7)
    saved = family.build(keras)
    path = str(tmp_path / "mobilenet.weights.h5")
    saved.save_weights(path)
    out = tmp_path / "run"
    _search(image_folder, out, "--backbone", "mobilenet_v3_small",
            "--backbone-weights", path, "--batch-size", 128)
    card = _card(out)
    assert card["hyperparameters"]["image/backbone"] == "mobilenet_v3_small"
    [record] = card["transfer"]["backbones"]
    assert record["source"] == "user path" and record["sha256"] == weights.sha256(path)
    assert "Apache-2.0" in record["licence"]
    # One epoch trains the new head alone: the body is the file's, unchanged.
    exported = keras.saving.load_model(os.path.join(out, "model", "model.keras"))
    body = exported.get_layer("backbone").get_weights()
    assert len(body) == len(saved.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(body, saved.get_weights()))

    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64],
        stackwise_num_blocks=[1], stackwise_num_strides=[1], block_type="basic_block",
        image_shape=(None, None, 3))
    folder = str(tmp_path / "tiny_resnet")
    backbone.save_to_preset(folder)
    keras_hub.layers.ResNetImageConverter(image_size=(32, 32), scale=1 / 255.0).save_to_preset(
        folder)
    hub_out = tmp_path / "hub_run"
    _search(image_folder, hub_out, "--backbone", "hub:tiny_resnet",
            "--backbone-weights", f"hub:tiny_resnet={folder}")
    card = _card(hub_out)
    assert card["hyperparameters"]["image/backbone"] == "hub:tiny_resnet"
    [record] = card["transfer"]["backbones"]
    assert record["source"] == "user path" and record["path"] == folder
    assert record["sha256"] == weights.sha256(os.path.join(folder, "model.weights.h5"))
    for rows, total in _served(tensorflow_alone, out, hub_out):
        assert rows == 2 and abs(total - 1.0) < 1e-4
    assert not offline


def test_missing_weights_skip_the_backbone_in_one_line_and_nothing_downloads(
        image_folder, tmp_path, offline):
    out = tmp_path / "run"
    missing = str(tmp_path / "nowhere.weights.h5")
    result = _search(image_folder, out, "--backbone", "mobilenet_v3_small",
                     "--backbone", "efficientnet_v2_b0",
                     "--backbone-weights", f"mobilenet_v3_small={missing}")
    lines = [line for line in result.output.splitlines() if "skipped" in line]
    assert len(lines) == 2, result.output
    assert f"backbone mobilenet_v3_small skipped: its weights {missing} do not exist" in lines[0]
    assert "put efficientnetv2-b0_notop.h5 in " + str(tmp_path / "keras_home" / "models") \
        in lines[1] and "--allow-download" in lines[1]
    card = _card(out)
    assert card["hyperparameters"].get("image/backbone", "none") == "none"
    assert card["transfer"] == {"backbones": [], "skipped": [line.removeprefix("note: ")
                                                             for line in lines]}
    assert not offline


def test_a_backbone_in_the_keras_cache_is_found_under_its_keras_applications_name(
        tmp_path, offline):
    family = backbones.IMAGE_FAMILIES["mobilenet_v3_small"]
    cached = tmp_path / "keras_home" / "models" / family.cache_file
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"weights")
    found, line = weights.resolve("mobilenet_v3_small")
    assert line is None and found.source == "Keras cache" and found.path == str(cached)
    assert family.cache_file == "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"


def test_word_vectors_start_the_text_embedding(tmp_path):
    import keras
    import keras_tuner as kt

    from automl import registry
    from automl.settings import Settings
    from automl.tuning.hypermodel import TaskHyperModel

    vectors = {"good": [1, 2, 3, 4], "bad": [-1, -2, -3, -4], "film": [0.5, 0, 0, 0.5],
               "plot": [0, 1, 0, 1], "the": [0.1, 0.1, 0.1, 0.1]}
    path = tmp_path / "vectors.txt"
    path.write_text("".join(f"{word} {' '.join(map(str, v))}\n" for word, v in vectors.items()))
    data = tmp_path / "reviews.csv"
    rows = [("a good film", "pos"), ("the good plot", "pos"), ("a bad film", "neg"),
            ("the bad plot", "neg")] * 6
    data.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in rows))
    task = registry.get_task("text")
    settings = Settings(task="text", data=str(data), out=str(tmp_path / "run"),
                        word_vectors=str(path),
                        options={"text_column": "text", "label_column": "label"})
    dataset = task.load(settings)
    hp = kt.HyperParameters()
    hp.values.update({"text/family": "embedding", "text/embedding_dim": 64})
    model = TaskHyperModel(task, dataset, keras).build(hp)
    vocabulary = model.get_layer("vectorize").get_vocabulary()
    table = model.get_layer("embedding").get_weights()[0]
    assert table.shape[1] == 4
    for word, vector in vectors.items():
        np.testing.assert_allclose(table[vocabulary.index(word)], vector)
    np.testing.assert_allclose(table[0], 0.0)
    record = __import__("automl.transfer", fromlist=["card_record"]).card_record(settings, "text")
    assert record["transfer"]["word_vectors"]["sha256"] == weights.sha256(str(path))
    # Characters keep their own embedding width and start at random.
    hp = kt.HyperParameters()
    hp.values.update({"text/family": "cnn", "text/sequence_tokens": "characters",
                      "text/embedding_dim": 64})
    characters = TaskHyperModel(task, dataset, keras).build(hp)
    assert characters.get_layer("embedding").get_weights()[0].shape[1] == 64


def test_an_unknown_backbone_is_refused_in_one_line(tmp_path):
    result = invoke("search", "--task", "image", "--data", "digits", "--out", tmp_path / "run",
                    "--backbone", "mobilenet_v9")
    assert_one_line_error(result, "unknown backbone 'mobilenet_v9'", "mobilenet_v3_small",
                          "hub:PRESET")


def test_fine_tuning_freezes_the_body_for_an_epoch_then_scales_its_updates():
    import keras

    from automl.transfer import fine_tuning

    def network():
        keras.utils.set_random_seed(1)
        inputs = keras.Input((4,))
        body_inputs = keras.Input((4,))
        body = keras.Model(body_inputs, keras.layers.Dense(3)(body_inputs), name="body")
        return keras.Model(inputs, keras.layers.Dense(2, activation="softmax",
                                                      name="probabilities")(body(inputs)))

    x = np.random.RandomState(0).rand(8, 4).astype("float32")
    y = np.array([0, 1] * 4)
    moved = {}
    for rate in (1.0, 0.25):
        model = network()
        start = model.get_layer("body").get_weights()
        twin = fine_tuning.training_twin(keras, model, "body", rate)
        twin.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
        twin.fit(x, y, batch_size=8, epochs=1, verbose=0)
        frozen = model.get_layer("body").get_weights()
        assert all(np.array_equal(a, b) for a, b in zip(start, frozen))
        twin.fit(x, y, batch_size=8, epochs=2, initial_epoch=1, verbose=0)
        moved[rate] = [b - a for a, b in zip(frozen, model.get_layer("body").get_weights())]
    assert np.abs(moved[1.0][0]).max() > 1e-4
    for full, quarter in zip(moved[1.0], moved[0.25]):
        np.testing.assert_allclose(quarter, 0.25 * full, rtol=1e-4, atol=1e-7)
