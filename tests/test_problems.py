"""Problem types beyond single-label classification: multilabel and regression."""

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import assert_one_line_error, invoke, synthetic_image


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def bars_image(labels, rng):
    """8x8 grayscale noise with a bright band for each of `labels` (top, bottom, left)."""
    image = rng.randint(0, 40, size=(8, 8)).astype("uint8")
    for label in labels:
        image = np.maximum(image, synthetic_image(label, rng))
    return image


def multilabel_manifest(root, count=48, seed=0):
    """A `path,labels` CSV of images with one or two of three bands."""
    rng = np.random.RandomState(seed)
    os.makedirs(os.path.join(root, "files"), exist_ok=True)
    choices = [("top",), ("bottom",), ("left",), ("top", "left"), ("bottom", "left")]
    rows = []
    for i in range(count):
        labels = choices[i % len(choices)]
        name = f"files/{i}.png"
        Image.fromarray(bars_image(labels, rng)).save(os.path.join(root, name))
        rows.append((name, "|".join(labels)))
    return write_csv(os.path.join(root, "labels.csv"), ("path", "labels"), rows)


def regression_manifest(root, count=48, seed=0):
    """A `path,brightness` CSV: the target is the brightness of a flat image."""
    rng = np.random.RandomState(seed)
    os.makedirs(os.path.join(root, "files"), exist_ok=True)
    rows = []
    for i in range(count):
        level = float(rng.uniform(10, 240))
        image = np.clip(level + rng.normal(0, 3, size=(8, 8)), 0, 255).astype("uint8")
        name = f"files/{i}.png"
        Image.fromarray(image).save(os.path.join(root, name))
        rows.append((name, f"{level:.2f}"))
    return write_csv(os.path.join(root, "targets.csv"), ("path", "brightness"), rows)


def card_of(run):
    with open(os.path.join(run, "model", "model_card.json"), encoding="utf-8") as handle:
        return json.load(handle)


def test_the_problem_type_is_inferred_from_the_labels():
    from automl import problems

    assert problems.infer(["a|b", "a"])[0] == "multilabel"
    assert problems.infer(["a;b", "a"], separator=";")[0] == "multilabel"
    assert problems.infer(["1.5", "2", "7.25"])[0] == "regression"
    assert problems.infer([str(i) for i in range(200)])[0] == "regression"
    assert problems.infer([str(i % 9) for i in range(200)])[0] == "classification"
    assert problems.infer([f"{i:03d}" for i in range(200)])[0] == "classification"
    assert problems.infer(["cat", "dog"])[0] == "classification"
    assert problems.resolve("regression", ["1", "2"]) == ("regression", "set")


def _load(task_name, data, tmp_path, **extra):
    """The `Dataset` a search on `data` would use (problem type included), no search."""
    from automl import registry
    from automl.settings import from_mapping

    settings = from_mapping({"task": task_name, "data": str(data), "out": "unused",
                             "cache_dir": str(tmp_path / "cache"), **extra})
    return registry.get_task(task_name).load(settings)


def test_class_folders_named_by_numbers_are_classes(tmp_path):
    rng = np.random.RandomState(0)
    for split in ("train", "val", "test"):
        for label in range(60):
            os.makedirs(tmp_path / "data" / split / str(label))
            Image.fromarray(rng.randint(0, 255, (8, 8)).astype("uint8")).save(
                tmp_path / "data" / split / str(label) / "0.png")
    dataset = _load("image", tmp_path / "data", tmp_path)
    assert dataset.problem == "classification", dataset.problem_reason
    assert dataset.problem_reason == "60 classes from class folders"
    assert len(dataset.classes) == 60 and dataset.train.y.dtype == np.int64


def test_a_tfds_class_label_without_names_is_classes():
    import tensorflow_datasets as tfds

    from automl.data import sources
    from automl import problems

    with tfds.testing.mock_data(num_examples=300):
        decoded = sources.load_tfds("emnist/byclass", "image")  # 62 classes named "0".."61"
    train = decoded["train"]
    assert problems.infer(train.labels)[0] == "regression"  # as a CSV column would be read
    assert problems.resolve(None, train.labels, "|", train.classes_from)[0] == "classification"


def test_sixty_integer_labels_in_a_csv_are_a_regression_unless_set(tmp_path):
    rows = [(f"text {i} of {label}", str(label)) for label in range(60) for i in range(3)]
    csv_path = write_csv(tmp_path / "data.csv", ("text", "label"), rows)
    inferred = _load("text", csv_path, tmp_path)
    assert inferred.problem == "regression"
    assert inferred.problem_reason == "inferred: numeric labels with 60 distinct values"
    classified = _load("text", csv_path, tmp_path, problem="classification")
    assert classified.problem == "classification" and len(classified.classes) == 60


def test_an_image_classifier_keeps_a_hundred_integer_classes(tmp_path):
    import automl

    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(100), 3)
    x = rng.randint(0, 255, (len(y), 8, 8, 1)).astype("uint8")
    model = automl.ImageClassifier(out=tmp_path / "run", max_trials=1, epochs=1,
                                   verbose=0).fit(x, y)
    assert model.card["problem"]["type"] == "classification"
    assert sorted(model.card["classes"], key=int) == [str(i) for i in range(100)]
    predicted = model.predict(x[:4])
    assert predicted.dtype == np.int64 and set(predicted) <= set(range(100))
    with pytest.raises(automl.AutomlError, match="ImageClassifier classifies"):
        automl.ImageClassifier(problem="regression").fit(x, y)


def test_an_empty_multilabel_text_cell_is_no_labels(tmp_path):
    rows = [(f"a {word} b", cell) for word, cell in
            [("sun", "warm"), ("rain", "wet"), ("storm", "wet|windy"), ("fog", "")] * 6]
    dataset = _load("text", write_csv(tmp_path / "data.csv", ("text", "label"), rows), tmp_path,
                    problem="multilabel")
    assert dataset.classes == ["warm", "wet", "windy"]
    assert (dataset.train.y.sum(axis=1) == 0).any()


def test_regression_splits_span_the_target_range():
    from automl import problems
    from automl.data.sources import LabelledExamples, assign_splits

    labels = [f"{v:.3f}" for v in np.linspace(0, 100, 200)]
    decoded = {"all": LabelledExamples(list(range(200)), labels)}
    splits = assign_splits(decoded, 0, strata=problems.get("regression").split_strata)
    for name in ("val", "test"):
        values = [float(v) for v in splits[name].labels]
        assert 20 <= len(values) <= 40
        assert min(values) < 15 and max(values) > 85  # every decile, not one end


def test_multilabel_f1_and_the_standardised_loss_are_exact():
    import keras
    from sklearn.metrics import f1_score

    from automl.problems.keras_metrics import StandardisedError

    rng = np.random.RandomState(0)
    truth = (rng.uniform(size=(40, 4)) > 0.6).astype("float32")
    scores = np.clip(truth * 0.6 + rng.uniform(0, 0.5, size=truth.shape), 0, 1).astype("float32")
    for average in ("micro", "macro"):
        metric = keras.metrics.F1Score(average=average, threshold=0.5)
        for part in (slice(0, 13), slice(13, None)):
            metric.update_state(truth[part], scores[part])
        expected = f1_score(truth > 0.5, scores >= 0.5, average=average, zero_division=0)
        assert float(metric.result()) == pytest.approx(expected, abs=1e-6)

    y = np.array([[100.0], [300.0]], dtype="float32")
    p = np.array([[110.0], [300.0]], dtype="float32")
    mse = StandardisedError("mse", mean=200.0, std=100.0)
    assert float(keras.ops.convert_to_numpy(mse(y, p))) == pytest.approx(0.01 / 2)
    huber = StandardisedError("huber", mean=200.0, std=100.0)
    far = np.array([[400.0], [300.0]], dtype="float32")  # 3 standard deviations off
    assert float(keras.ops.convert_to_numpy(huber(y, far))) == pytest.approx(2.5 / 2)


def test_thresholds_are_chosen_per_label_on_validation():
    from automl import problems

    y = np.array([[1, 0], [1, 0], [0, 1], [0, 0]], dtype="float32")
    p = np.array([[0.3, 0.1], [0.35, 0.2], [0.1, 0.9], [0.05, 0.6]])
    first, second = problems.get("multilabel").thresholds(p, y)
    assert 0.1 < first <= 0.3      # label 0 is right only below 0.5
    assert 0.6 < second <= 0.9     # label 1 needs more than 0.6 to leave out example 3


def test_multilabel_search_exports_sigmoids_and_thresholds(multilabel_run):
    import tensorflow as tf

    manifest, out = multilabel_run.data, Path(multilabel_run.run)
    assert "problem multilabel (inferred" in multilabel_run.output
    assert "test micro F1" in multilabel_run.output
    card = card_of(out)
    assert card["problem"]["type"] == "multilabel" and card["classes"] == ["bottom", "left", "top"]
    assert set(card["problem"]["thresholds"]) == {"bottom", "left", "top"}
    assert card["search"]["objective"] == "val_micro_f1"
    test = card["metrics"]["test"]
    assert {"micro_f1", "macro_f1", "subset_accuracy", "per_label", "baseline_micro_f1"} <= set(test)
    assert card["outputs"] == {"probabilities": [None, 3], "labels": [None, 3]}

    serve = tf.saved_model.load(str(out / "model" / "saved_model")).signatures["serving_default"]
    pixels = np.stack([bars_image(("top", "left"), np.random.RandomState(5))])[..., None]
    outputs = serve(inputs=tf.constant(pixels, card["input"]["dtype"]))
    probabilities = outputs["probabilities"].numpy()
    assert probabilities.shape == (1, 3) and np.all((probabilities >= 0) & (probabilities <= 1))
    cut = np.array([card["problem"]["thresholds"][c] for c in card["classes"]])
    assert outputs["labels"].numpy().tolist() == (probabilities >= cut).tolist()

    image = Path(manifest).parent / "files" / "0.png"
    predicted = invoke("predict", out, image, "--json")
    assert predicted.exit_code == 0, predicted.output
    row = json.loads(predicted.output)[0]
    assert [p["label"] for p in row["predictions"] if p["probability"] >= p["threshold"]] \
        == row["labels"]
    shown = invoke("predict", out, image)
    assert shown.output.split("\t")[0] == str(image)
    evaluated = invoke("evaluate", out, manifest)
    assert evaluated.exit_code == 0 and evaluated.output.startswith("micro F1 ")


def test_regression_search_exports_values_in_target_units(regression_run):
    import tensorflow as tf

    manifest, out = regression_run.data, Path(regression_run.run)
    files = Path(manifest).parent / "files"
    assert "problem regression (inferred: numeric labels" in regression_run.output
    card = card_of(out)
    assert card["problem"]["type"] == "regression" and card["classes"] == []
    target = card["problem"]["target"]
    assert 10 <= target["min"] < target["mean"] < target["max"] <= 240
    assert card["search"]["objective"] == "val_mae"
    assert card["hyperparameters"]["head/loss"] in ("huber", "mse")
    test = card["metrics"]["test"]
    assert {"mae", "rmse", "r2", "baseline_mae", "residuals"} <= set(test)
    assert card["outputs"] == {"value": [None]}

    serve = tf.saved_model.load(str(out / "model" / "saved_model")).signatures["serving_default"]
    pixels = np.full((2, 8, 8, 1), 120, dtype="uint8")
    values = serve(inputs=tf.constant(pixels, card["input"]["dtype"]))["value"].numpy()
    assert values.shape == (2,)
    # In the target's units: an untrained-looking head would sit near 0, not near the mean.
    assert abs(values[0] - target["mean"]) < 3 * target["std"]

    predicted = invoke("predict", out, files / "0.png", "--json")
    assert isinstance(json.loads(predicted.output)[0]["value"], float)
    evaluated = json.loads(invoke("evaluate", out, manifest, "--json").output)
    every = json.loads(invoke("predict", out, files, "--json").output)
    with open(manifest, encoding="utf-8") as handle:
        targets = {os.path.join(files.parent, row["path"]): float(row["brightness"])
                   for row in csv.DictReader(handle)}
    errors = [abs(row["value"] - targets[row["input"]]) for row in every]
    assert evaluated["examples"] == len(targets) == len(errors)
    assert evaluated["mae"] == pytest.approx(np.mean(errors), rel=1e-4)  # scored in the same units
    with open(out / "report" / "index.html", encoding="utf-8") as handle:
        page = handle.read()
    assert "Predicted against true" in page and "Residuals" in page


def test_regression_from_arrays_predicts_values(tmp_path):
    import automl

    rng = np.random.RandomState(0)
    levels = rng.uniform(10, 240, size=60)
    x = np.clip(levels[:, None, None] + rng.normal(0, 3, size=(60, 8, 8)), 0, 255).astype("uint8")
    result = automl.search("image", (x, levels), tmp_path / "run", max_trials=1, epochs=1,
                           verbose=0)
    assert result.card["problem"]["type"] == "regression"
    prediction = result.predict(x[:3])
    assert prediction.values.shape == (3,) and prediction.probabilities is None
    assert "mae" in result.evaluate((x, levels))


@pytest.mark.parametrize("extra, fragment", [
    (("--objective", "val_mae"), "objective 'val_mae' does not fit a classification search "
                                 "(choose one of: val_accuracy"),
    (("--problem", "ranking"), "unknown problem 'ranking' (choose one of: classification, "
                               "multilabel, regression)"),
])
def test_wrong_problem_settings_are_refused(extra, fragment, image_folder, tmp_path):
    result = invoke("search", "--task", "image", "--data", image_folder, "--out", tmp_path / "run",
                    "--max-trials", 1, "--epochs", 1, *extra)
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "run").exists()


def test_regression_refuses_class_weights_and_non_numbers(tmp_path):
    manifest = regression_manifest(tmp_path, count=24)
    result = invoke("search", "--task", "image", "--data", manifest, "--out", tmp_path / "run",
                    "--max-trials", 1, "--class-weight", "balanced")
    assert_one_line_error(result, "--class-weight balanced is for classification; this is a "
                                  "regression search")
    with open(manifest, encoding="utf-8") as handle:
        text = handle.read()
    Image.fromarray(np.zeros((8, 8), "uint8")).save(tmp_path / "files" / "extra.png")
    write_csv(tmp_path / "bad.csv", ("path", "brightness"),
              [row.split(",") for row in text.splitlines()[1:]] + [["files/extra.png", "bright"]])
    result = invoke("search", "--task", "image", "--data", tmp_path / "bad.csv", "--out",
                    tmp_path / "run", "--problem", "regression", "--max-trials", 1)
    assert_one_line_error(result, "a regression target must be a number", "'bright'")
    assert not (tmp_path / "run").exists()


def test_plugins_of_api_2_load_for_classification_only():
    from automl import Task
    from automl import registry

    class OldTask(Task):
        name = "old"
        api_version = "2.5"
        problem_types = ("classification", "regression")

    class NewTask(Task):
        name = "new"
        problem_types = ("classification", "regression")

    assert registry.compatible("2.5") and registry.compatible("3.0")
    assert not registry.compatible("3.9") and not registry.compatible("1.0")
    assert OldTask().supported_problems() == ("classification",)
    assert NewTask().supported_problems() == ("classification", "regression")
    assert Task().supported_problems() == ("classification",)
