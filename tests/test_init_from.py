"""Transfer from an earlier run (`--init-from RUN`): a new head on the run's body."""

import hashlib
import json
import os
import shutil
import types

import numpy as np
import pytest

from conftest import assert_one_line_error, invoke, write_image_folder


@pytest.fixture(scope="module")
def other_labels(tmp_path_factory):
    """Two classes the source run never saw (named apart from its three)."""
    root = write_image_folder(tmp_path_factory.mktemp("other"), per_class=(12, 4, 4),
                              classes=("bottom", "top"), seed=1)
    for split in ("train", "val", "test"):
        os.rename(os.path.join(root, split, "bottom"), os.path.join(root, split, "lower"))
        os.rename(os.path.join(root, split, "top"), os.path.join(root, split, "upper"))
    return root


@pytest.fixture(scope="module")
def transfer_run(image_run, other_labels, tmp_path_factory):
    out = tmp_path_factory.mktemp("transfer") / "run"
    result = invoke("search", "--task", "image", "--data", other_labels, "--out", out,
                    "--init-from", image_run, "--max-trials", 1, "--epochs", 3,
                    "--tuner", "random", "--export", "tflite")
    assert result.exit_code == 0, result.output
    return str(out)


def read_card(run):
    with open(os.path.join(run, "model", "model_card.json"), encoding="utf-8") as handle:
        return json.load(handle)


def test_the_card_names_the_source_run(image_run, transfer_run):
    source, card = read_card(image_run), read_card(transfer_run)
    with open(os.path.join(image_run, "model", "model.keras"), "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    record = card["init_from"]
    assert record["run"] == os.path.abspath(image_run)
    assert record["task"] == "image" and record["classes"] == source["classes"]
    assert record["test"] == source["metrics"]["test"]
    assert record["model_sha256"] == digest
    assert record["used"] and card["hyperparameters"]["init_from"] == "on"
    # The source is tried first: a new head at 1e-2, the body at the rate its own search chose.
    source_rate = source["hyperparameters"]["optimizer/learning_rate"]
    assert card["hyperparameters"]["optimizer/learning_rate"] == 1e-2
    assert card["hyperparameters"]["init_from/body_rate"] == pytest.approx(
        min(max(source_rate / 1e-2, 0.01), 1.0))
    assert card["classes"] == ["lower", "upper"]


def test_the_export_serves_raw_images_with_keras_and_tensorflow_alone(transfer_run,
                                                                     tensorflow_alone):
    import tensorflow as tf

    model_dir = os.path.join(transfer_run, "model")
    images = np.random.RandomState(0).randint(0, 255, size=(3, 8, 8, 1)).astype("float32")
    loaded = tensorflow_alone(
        "import json, sys, keras, numpy as np\n"
        f"model = keras.saving.load_model({os.path.join(model_dir, 'model.keras')!r})\n"
        f"images = np.array({images.tolist()}, dtype='float32')\n"
        "print(json.dumps({'layers': [layer.name for layer in model.layers],\n"
        "                  'probabilities': model.predict(images, verbose=0).tolist()}))\n"
        "assert 'automl' not in sys.modules")
    assert loaded.returncode == 0, loaded.stderr
    answer = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert "source_body" in answer["layers"]
    served = tf.saved_model.load(os.path.join(model_dir, "saved_model"))
    outputs = served.signatures["serving_default"](inputs=tf.constant(images))
    assert outputs["probabilities"].shape == (3, 2)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), answer["probabilities"],
                               atol=1e-5)


def test_the_litert_export_converts_and_agrees(transfer_run):
    card = read_card(transfer_run)
    assert "litert_error" not in card
    assert card["litert"]["none"]["agreement_with_saved_model"] == 1.0


def test_a_new_network_starts_with_the_source_body_and_a_new_head(image_run, tmp_path):
    import keras
    import keras_tuner as kt

    from automl import registry
    from automl.transfer import init_from
    from automl.tuning.hypermodel import TaskHyperModel

    card = read_card(image_run)
    source = init_from.Source.open(image_run, "image", str(tmp_path / "new"))
    data = types.SimpleNamespace(problem="classification", classes=["lower", "upper"],
                                 meta=card["data"], train=types.SimpleNamespace(y=[0, 1]))
    data.training_only = lambda: data
    hp = kt.HyperParameters()
    model = TaskHyperModel(registry.get_task("image"), data, keras, source=source).network(hp)
    assert hp.values["init_from"] == "on"
    body = model.get_layer("source_body")
    exported = keras.saving.load_model(os.path.join(image_run, "model", "model.keras"))
    trained = {w.path: w.numpy() for w in exported.weights}
    start = {w.path: w.numpy() for w in body.weights}
    assert start and all(np.array_equal(trained[name], value) for name, value in start.items())
    assert model.get_layer("probabilities").units == 2
    assert not any(layer.trainable for layer in body.layers
                   if isinstance(layer, keras.layers.BatchNormalization))


def test_a_missing_run_is_refused_in_one_line(image_folder, tmp_path):
    result = invoke("search", "--task", "image", "--data", image_folder, "--out",
                    tmp_path / "out", "--init-from", tmp_path / "nowhere")
    assert_one_line_error(result, "--init-from run not found", "nowhere")


def test_a_run_without_an_export_is_refused_in_one_line(image_folder, tmp_path):
    (tmp_path / "empty").mkdir()
    result = invoke("search", "--task", "image", "--data", image_folder, "--out",
                    tmp_path / "out", "--init-from", tmp_path / "empty")
    assert_one_line_error(result, "has no exported model")


def test_a_run_of_another_task_is_refused_in_one_line(image_run, image_folder, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(os.path.join(image_run, "model"), copy / "model")
    card_path = copy / "model" / "model_card.json"
    card = json.loads(card_path.read_text())
    card_path.write_text(json.dumps({**card, "task": "audio"}))
    result = invoke("search", "--task", "image", "--data", image_folder, "--out",
                    tmp_path / "out", "--init-from", copy)
    assert_one_line_error(result, "is of task 'audio', not 'image'")


def test_a_text_run_starts_a_search_on_other_labels(keyword_text_run, tmp_path):
    import tensorflow as tf

    from test_text import synthetic_texts, write_csv

    target = tmp_path / "target"
    target.mkdir()
    for name, seed, count in (("train", 0, 30), ("val", 1, 9), ("test", 2, 9)):
        write_csv(target / f"{name}.csv",
                  [(text, "food" if label == "cooking" else "other")
                   for text, label in synthetic_texts(count, seed)])
    result = invoke("search", "--task", "text", "--max-trials", 1, "--epochs", 2,
                    "--batch-size", 8, "--data", target, "--out", tmp_path / "second",
                    "--init-from", keyword_text_run, "--export", "tflite")
    assert result.exit_code == 0, result.output
    card = read_card(str(tmp_path / "second"))
    assert card["init_from"]["used"] and card["init_from"]["classes"] == [
        "cooking", "football", "weather"]
    # The vectorizer inside the source's body leaves the LiteRT model for the tokenizer.
    assert "litert_error" not in card
    assert card["litert"]["none"]["agreement_with_saved_model"] == 1.0
    served = tf.saved_model.load(str(tmp_path / "second" / "model" / "saved_model"))
    outputs = served.signatures["serving_default"](inputs=tf.constant(["oven flour", "goal"]))
    assert outputs["probabilities"].shape == (2, 2)


def test_the_python_api_takes_init_from_and_refuses_the_search_own_run(image_folder, tmp_path):
    import automl

    out = tmp_path / "run"
    with pytest.raises(automl.AutomlError, match="is the search's own --out"):
        automl.search("image", image_folder, out, init_from=out, verbose=0)
