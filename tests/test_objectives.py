"""Objectives beyond accuracy, and class weights for imbalanced data."""

import csv
import json
import os

import numpy as np
import pytest

from conftest import assert_one_line_error, invoke


def test_balanced_accuracy_and_auc_count_the_whole_set_not_batch_means():
    import keras
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    from automl.problems.keras_metrics import BalancedAccuracy, PositiveClassAUC

    rng = np.random.RandomState(0)
    labels = np.array([0] * 30 + [1] * 5 + [2] * 5)
    probabilities = rng.dirichlet(np.ones(3), size=len(labels)).astype("float32")
    probabilities[:25, 0] += 2  # most of the large class right
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    metric = BalancedAccuracy(3)
    for start in (0, 17):  # two batches of different class mixes
        end = 17 if start == 0 else len(labels)
        metric.update_state(keras.ops.one_hot(labels[start:end], 3), probabilities[start:end])
    expected = balanced_accuracy_score(labels, probabilities.argmax(axis=1))
    assert float(metric.result()) == pytest.approx(expected, abs=1e-6)

    binary = (labels > 0).astype("int64")
    scores = np.stack([probabilities[:, 0], 1 - probabilities[:, 0]], axis=1)
    auc = PositiveClassAUC(num_thresholds=2000)
    for part in (slice(0, 17), slice(17, None)):
        auc.update_state(keras.ops.one_hot(binary[part], 2), scores[part])
    assert float(auc.result()) == pytest.approx(roc_auc_score(binary, scores[:, 1]), abs=2e-3)


def test_objective_scores_and_directions():
    from automl.problems import objectives
    from automl import problems

    classification = problems.get("classification")
    labels = np.array([0, 0, 0, 1])
    probabilities = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7]])
    assert classification.score("val_accuracy", probabilities, labels) == 0.75
    assert classification.score("val_balanced_accuracy", probabilities, labels) == pytest.approx(5 / 6)
    assert classification.score("val_auc", probabilities, labels) == 1.0
    assert objectives.direction("val_mae") == "min" and objectives.direction("val_auc") == "max"
    assert classification.default_objective("balanced") == "val_balanced_accuracy"


def test_balanced_classes_resolve_and_give_the_loss_the_prior_of_the_split_trained_on():
    import tensorflow as tf

    from automl.problems import class_weights
    from automl.data.sources import Dataset, Split
    from automl.data.feeds import Feeds

    labels = np.array([0] * 12 + [1] * 3)
    assert class_weights.resolve(None, labels, 2)[0] == "balanced"  # 4:1
    assert class_weights.resolve(None, np.array([0] * 5 + [1] * 3), 2)[0] == "none"
    assert class_weights.resolve("none", labels, 2)[0] == "none"

    class Task:
        def input_spec(self, meta):
            return (2,), "float32"

    x = np.zeros((15, 2), "float32")
    dataset = Dataset(["a", "b"], Split(x, labels), Split(x[:2], labels[:2]),
                      Split(x[:2], labels[:2]), "memory")
    feeds = Feeds(Task(), dataset, 0, tf, "balanced")
    assert feeds.prior_of("train") == pytest.approx([0.8, 0.2])
    assert feeds.prior_of("train+val") == pytest.approx([14 / 17, 3 / 17])  # a retrain's
    assert Feeds(Task(), dataset, 0, tf, "none").prior_of("train") is None


def test_the_logit_adjusted_loss_asks_a_rare_class_for_a_wider_margin():
    import keras

    from automl.problems.keras_metrics import LogitAdjustedCrossentropy

    prior = [0.9, 0.1]
    loss = LogitAdjustedCrossentropy(prior)
    plain = keras.losses.CategoricalCrossentropy()
    even = np.array([[0.5, 0.5]], "float32")
    rare, common = np.array([[0.0, 1.0]], "float32"), np.array([[1.0, 0.0]], "float32")
    # at even odds the rare class's loss is -log 0.1, the common class's -log 0.9
    assert float(loss(rare, even)) == pytest.approx(-np.log(0.1), rel=1e-5)
    assert float(loss(common, even)) == pytest.approx(-np.log(0.9), rel=1e-5)
    # at odds matching the prior's inverse both classes lose what plain CE does at even odds
    inverse = np.array([[0.1, 0.9]], "float32")
    assert float(loss(rare, inverse)) == pytest.approx(float(plain(rare, even)), rel=1e-5)
    # with an even prior it is the plain cross-entropy, smoothing included
    probabilities = np.array([[0.7, 0.3], [0.2, 0.8]], "float32")
    targets = np.array([[1.0, 0.0], [0.3, 0.7]], "float32")
    assert float(LogitAdjustedCrossentropy([0.5, 0.5], label_smoothing=0.1)(
        targets, probabilities)) == pytest.approx(float(keras.losses.CategoricalCrossentropy(
            label_smoothing=0.1)(targets, probabilities)), rel=1e-5)
    assert LogitAdjustedCrossentropy.from_config(loss.get_config()).prior == prior


def test_an_imbalanced_search_weighs_classes_and_selects_by_balanced_accuracy(imbalanced_run):
    out = imbalanced_run.run  # 12 left against 3 top training images
    assert "class weights balanced (automatic: largest to smallest class 4.0:1" \
        in imbalanced_run.output
    card = json.load(open(os.path.join(out, "model", "model_card.json")))
    assert card["class_weight"]["mode"] == "balanced"
    assert card["class_weight"]["prior"] == {"left": 0.8, "top": 0.2}
    assert card["class_weight"]["method"] == "logit-adjusted cross-entropy"
    assert card["search"]["objective"] == "val_balanced_accuracy"
    assert "balanced_accuracy" in card["metrics"]["test"]
    assert "objective: val_balanced_accuracy" in open(os.path.join(out, "recipe.yaml")).read()


def test_a_search_selects_by_macro_f1(image_folder, tmp_path):
    out = tmp_path / "run"
    result = invoke("search", "--task", "image", "--data", image_folder, "--out", out,
                    "--max-trials", 3, "--epochs", 1, "--tuner", "random",
                    "--objective", "val_macro_f1", "--scheduler", "full")
    assert result.exit_code == 0, result.output
    card = json.load(open(out / "model" / "model_card.json"))
    rows = list(csv.DictReader(open(out / "report" / "trials.csv")))
    scores = {r["trial_id"]: float(r["val_macro_f1"]) for r in rows if r["val_macro_f1"]}
    assert len(scores) == 3
    assert scores[card["search"]["best_trial"]] == max(scores.values())
    assert card["search"]["objective"] == "val_macro_f1"


@pytest.mark.parametrize("objective, fragment", [
    ("val_mae", "objective 'val_mae' does not fit a classification search"),
    ("val_auc", "objective 'val_auc' needs two classes, the data has 3"),
    ("val_f2", "unknown objective 'val_f2'"),
])
def test_an_objective_the_problem_cannot_have_is_refused(objective, fragment, image_folder,
                                                         tmp_path):
    result = invoke("search", "--task", "image", "--data", image_folder, "--out",
                    tmp_path / "run", "--objective", objective, "--max-trials", 1)
    assert_one_line_error(result, fragment)
    assert not os.path.exists(tmp_path / "run")


def test_an_unknown_class_weight_is_refused(image_folder, tmp_path):
    result = invoke("search", "--task", "image", "--data", image_folder, "--out",
                    tmp_path / "run", "--class-weight", "inverse")
    assert_one_line_error(result, "unknown class weight 'inverse'")
