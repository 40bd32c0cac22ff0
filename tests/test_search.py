"""The orchestrator: tuners, budget, seeds, tfds sources and recipes."""

import json
import os
import re

from types import SimpleNamespace

import pytest
import tensorflow_datasets as tfds
import yaml

from conftest import assert_rungs_count_what_the_export_saw, invoke
from fake_automl import with_test_tasks

RECIPES = os.path.join(os.path.dirname(__file__), "..", "recipes")


@pytest.fixture
def test_tasks(monkeypatch):
    """`--task pixels` and `--task steady`: tasks that train in a fraction of an image search."""
    from automl import registry

    monkeypatch.syspath_prepend(os.path.dirname(__file__))
    installed = registry._entry_points()
    monkeypatch.setattr(registry, "_entry_points", lambda: with_test_tasks(installed))


def card_of(run):
    return json.load(open(os.path.join(run, "model", "model_card.json")))


def trial_values(run):
    folder = os.path.join(run, "search")
    trials = sorted(d for d in os.listdir(folder) if d.startswith("trial_"))
    return [json.load(open(os.path.join(folder, t, "trial.json"))) for t in trials]


@pytest.mark.parametrize("tuner", ["bayesian", "grid"])
def test_each_tuner_runs_a_search(tuner, test_tasks, image_folder, tmp_path):
    result = invoke("search", "--task", "pixels", "--data", image_folder, "--out", tmp_path / "run",
                    "--tuner", tuner, "--max-trials", 2, "--epochs", 1)
    assert result.exit_code == 0, result.output
    card = card_of(tmp_path / "run")
    assert card["search"]["tuner"] == tuner
    assert card["search"]["completed"] == card["search"]["trials"] == 2


def test_hyperband_runs_its_brackets_and_continues_the_best(test_tasks, image_folder, tmp_path):
    result = invoke("search", "--task", "pixels", "--data", image_folder, "--out", tmp_path / "run",
                    "--tuner", "hyperband", "--epochs", 3)
    assert result.exit_code == 0, result.output
    trials = {t["trial_id"]: t for t in trial_values(tmp_path / "run")}
    values = {i: t["hyperparameters"]["values"] for i, t in trials.items()}
    first = [i for i, v in values.items() if v["tuner/bracket"] == 1 and v["tuner/round"] == 0]
    second = [i for i, v in values.items() if v["tuner/bracket"] == 1 and v["tuner/round"] == 1]
    assert len(first) == 3 and len(second) == 1
    assert all(values[i]["tuner/epochs"] == 1 for i in first)
    promoted = values[second[0]]
    assert promoted["tuner/epochs"] == 3 and promoted["tuner/initial_epoch"] == 1
    assert promoted["tuner/trial_id"] in first
    assert trials[promoted["tuner/trial_id"]]["score"] == max(trials[i]["score"] for i in first)
    assert card_of(tmp_path / "run")["search"]["promoted"] == 1


def test_the_same_seed_gives_the_same_trials_and_scores(test_tasks, tmp_path):
    runs = []
    for name, seed, trials in (("a", 7, 4), ("b", 7, 4), ("c", 8, 2)):
        out = tmp_path / name
        # The default Bayesian tuner: three random points, then a model-based proposal.
        result = invoke("search", "--task", "steady", "--data", "blobs", "--out", out,
                        "--max-trials", trials, "--seed", seed, "--objective", "val_loss",
                        "--epochs", 1)
        assert result.exit_code == 0, result.output
        runs.append([(t["hyperparameters"]["values"], t["score"]) for t in trial_values(out)])
    assert runs[0] == runs[1]
    assert len({json.dumps(v, sort_keys=True) for v, _ in runs[0]}) == 4
    assert [v for v, _ in runs[2]] != [v for v, _ in runs[0][:2]]


def test_the_time_budget_ends_the_search_and_every_second_is_accounted(image_folder, tmp_path,
                                                                       monkeypatch):
    """Also the rungs it records, its first configuration and what its export has seen:
    where a retrain from scratch is never worth it, the export continues until the
    budget's end."""
    import time

    from automl.tuning import planner
    from automl_plugins.image import ImageTask

    monkeypatch.setattr(planner, "RETRAIN_SHARE", 0.0)
    started = time.time()
    result = invoke("search", "--task", "image", "--data", image_folder, "--out", tmp_path / "run",
                    "--tuner", "random", "--time-budget", 30)
    wall = time.time() - started
    assert result.exit_code == 0, result.output
    search = card_of(tmp_path / "run")["search"]
    assert search["stop_reason"] == "time_budget" and search["max_trials"] is None
    assert wall <= 30 * 1.1  # the budget bounds the whole command
    seconds = search["seconds"]
    assert set(seconds) == {"startup", "data", "proposals", "trials", "retrain", "evaluate",
                            "export"}
    assert abs(sum(seconds.values()) - search["wall_seconds"]) <= 0.02 * search["wall_seconds"]
    assert seconds["trials"] > 0 and seconds["export"] > 0
    card = card_of(tmp_path / "run")
    assert_rungs_count_what_the_export_saw(card)
    rungs, seen = search["scheduler"]["rungs"], search["examples_seen"]
    exported = search["exported_trial"]
    assert search["retrain_mode"][exported] == "continued", search["retrain_note"]
    assert "until the budget's end" in result.output
    # Continued on train+val until the budget's end: at least the top rung's examples.
    assert seen[exported] >= rungs[-1]["examples"]
    trials = trial_values(tmp_path / "run")
    assert trials[0]["hyperparameters"]["values"]["tuner/fraction"] == 1.0  # the whole split
    # The image task's known-good configurations come first.
    first = ImageTask().known_good(SimpleNamespace(meta={"height": 8, "width": 8},
                                                   train=[None] * 72))[0]
    assert {k: trials[0]["hyperparameters"]["values"][k] for k in first} == first


def test_time_a_search_leaves_trains_its_export_from_scratch_until_the_budgets_end(
        image_folder, tmp_path, monkeypatch):
    """One trial still improving at its last epoch: its retrain fills the budget."""
    import time

    from automl.tuning import planner

    monkeypatch.setattr(planner.Planner, "passed_its_best", lambda self, trial: False)
    monkeypatch.setattr(planner, "RETRAIN_SHARE", 1.0)  # from scratch, however slow the machine
    started = time.time()
    result = invoke("search", "--task", "image", "--data", image_folder, "--out", tmp_path / "run",
                    "--max-trials", 1, "--time-budget", 20)
    wall = time.time() - started
    assert result.exit_code == 0, result.output
    assert "retraining trial 0 on train+val until the budget's end" in result.output, result.output
    search, examples = card_of(tmp_path / "run")["search"], card_of(tmp_path / "run")["data"][
        "examples"]
    assert search["retrain_mode"]["0"] == "fresh", search["retrain_note"]
    assert search["retrain_epochs"] > search["best_trial_epochs"]
    assert search["examples_seen"]["0"] > search["best_trial_epochs"] * (
        examples["train"] + examples["val"])
    assert 0.8 * 20 <= wall <= 1.1 * 20


def test_without_a_budget_the_export_retrains_from_scratch_for_its_trials_best_epochs(
        image_run):
    card = card_of(image_run)
    search, examples = card["search"], card["data"]["examples"]
    exported = search["exported_trial"]
    assert search["retrain_mode"][exported] == "fresh", search["retrain_note"]
    assert search["retrain_epochs"] >= 1
    assert search["examples_seen"][exported] == search["retrain_epochs"] * (
        examples["train"] + examples["val"])


def test_a_budget_too_short_for_one_trial_is_refused_before_anything_is_written(
        image_folder, tmp_path):
    from conftest import assert_one_line_error

    result = invoke("search", "--task", "image", "--data", image_folder, "--out", tmp_path / "run",
                    "--time-budget", 1)
    assert_one_line_error(result, "time budget 1s is too short: one trial needs about")
    assert re.search(r"needs about \d+s here", result.output)
    assert not (tmp_path / "run").exists()


def test_successive_halving_promotes_the_best_and_continues_its_weights(
        test_tasks, image_folder, tmp_path):
    run = tmp_path / "run"
    result = invoke("search", "--task", "pixels", "--data", image_folder, "--out", run,
                    "--tuner", "random", "--scheduler", "asha", "--max-trials", 4, "--epochs", 6)
    assert result.exit_code == 0, result.output
    trials = trial_values(run)
    first_rung = trials[:3]
    assert all(t["hyperparameters"]["values"]["tuner/epochs"] == 2 for t in first_rung)
    best = max(first_rung, key=lambda t: t["score"])
    promoted = trials[3]["hyperparameters"]["values"]
    assert promoted["tuner/trial_id"] == best["trial_id"]
    # The promotion continues the weights its parent kept: those of its best epoch.
    kept = best["metrics"]["metrics"]["best_epoch"]["observations"][0]["value"][0]
    assert (promoted["tuner/initial_epoch"], promoted["tuner/epochs"]) == (kept, 6)
    metrics = trials[3]["metrics"]["metrics"]
    assert metrics["epochs_run"]["observations"][0]["value"] == [6 - kept]
    assert kept < metrics["best_epoch"]["observations"][0]["value"][0] <= 6
    search = card_of(run)["search"]
    assert search["scheduler"] == {"name": "asha", "first_rung": 0, "rungs": [
        {"epochs": 2, "fraction": 1.0, "examples": 144},
        {"epochs": 6, "fraction": 1.0, "examples": 432}]}
    assert search["promoted"] == 1 and search["stop_reason"] == "max_trials"


@pytest.mark.parametrize("recipe", ["mnist.yaml", "cifar10.yaml"])
def test_tfds_recipes_run_offline_under_mock_data(recipe, tmp_path):
    """The recipes' `tfds:` sources read their splits and label names without a download."""
    with tfds.testing.mock_data(num_examples=10):
        result = invoke("run", os.path.join(RECIPES, recipe), "--set", f"out={tmp_path / 'run'}",
                        "--set", "max_trials=1", "--set", "epochs=1", "--set", "time_budget=")
    assert result.exit_code == 0, result.output
    card = card_of(tmp_path / "run")
    channels = 3 if recipe.startswith("cifar") else 1
    assert card["input"]["shape"][-1] == channels
    resolved = yaml.safe_load(open(tmp_path / "run" / "recipe.yaml"))
    assert resolved["max_trials"] == 1 and resolved["tuner"] == "bayesian"
    weighted = resolved["class_weight"] == "balanced"
    assert resolved["objective"] == ("val_balanced_accuracy" if weighted else "val_accuracy")
    assert card["classes"] == sorted(card["classes"])
    assert set(card["classes"]) <= {str(d) for d in range(10)} | {
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
    assert len(card["classes"]) >= 2
    assert card["input"]["shape"] == [None, None, None, channels]
    size = 32 if recipe.startswith("cifar") else 28
    assert (card["data"]["height"], card["data"]["width"]) == (size, size)
    assert card["data"]["source"] == resolved["data"] == f"tfds:{recipe.split('.')[0]}"


def test_quickstart_recipe_is_valid():
    from automl.settings import load_recipe

    settings = load_recipe(os.path.join(RECIPES, "quickstart.yaml"))
    assert settings.data == "digits" and settings.task == "image"
    assert settings.time_budget == 150


def test_ensemble_selection_adds_trials_only_while_val_log_loss_falls():
    import numpy as np

    from automl.tuning.ensemble import select

    labels = np.array([0, 1, 0, 1])
    probabilities = {
        "first": np.array([[0.9, 0.1], [0.4, 0.6], [0.4, 0.6], [0.1, 0.9]]),
        "complement": np.array([[0.6, 0.4], [0.3, 0.7], [0.9, 0.1], [0.3, 0.7]]),
        "wrong": np.array([[0.1, 0.9], [0.9, 0.1], [0.2, 0.8], [0.8, 0.2]]),
    }
    candidates = ["first", "wrong", "complement"]
    assert select("first", candidates, probabilities, labels, 3) == ["first", "complement"]
    assert select("first", candidates, probabilities, labels, 1) == ["first"]


def test_an_ensemble_export_averages_its_members(tmp_path):
    import keras
    import numpy as np
    import tensorflow as tf

    from conftest import synthetic_image, write_image_folder

    # Three training images per class: the models differ in how sure they are on val,
    # so averaging lowers the validation log loss.
    data = write_image_folder(tmp_path / "data", per_class=(3, 6, 4))
    run = tmp_path / "run"
    result = invoke("search", "--task", "image", "--data", data, "--out", run,
                    "--tuner", "random", "--max-trials", 3, "--epochs", 4, "--ensemble", 3,
                    "--keep-trials")
    assert result.exit_code == 0, result.output
    card = card_of(run)
    assert card["search"]["weights_kept"] == ["0", "1", "2"]
    assert len(list(run.glob("search/trial_*/best.weights.h5"))) == 3
    members = card["search"]["ensemble"]
    assert members[0] == card["search"]["exported_trial"] and len(members) >= 2
    assert card["search"]["retrain_epochs"] == 0 and "ensemble_accuracy" in card["metrics"]["val"]
    # Without a budget every member is retrained on train+val, unless the retrained model
    # scores below its search model on val; the note then names the member kept.
    retrained = card["search"]["retrained_on_train_val"]
    assert retrained >= 1
    kept = [trial for trial, mode in card["search"]["retrain_mode"].items() if mode is None]
    assert len(kept) == len(members) - retrained
    noted = re.findall(r"kept the search model of trial (\w+)", card["search"]["retrain_note"] or "")
    assert sorted(noted) == sorted(kept)
    saved = sorted(run.glob("search/**/val_probabilities.npy"))
    assert len(saved) == card["search"]["completed"]
    assert {np.load(path).shape for path in saved} == {(card["data"]["examples"]["val"], 3)}
    model = keras.saving.load_model(os.path.join(run, "model", "model.keras"))
    assert [layer.name for layer in model.layers if layer.name.startswith("trial_")] == [
        f"trial_{m}" for m in members]
    rng = np.random.RandomState(1)
    images = np.stack([synthetic_image(label, rng) for label in ("top", "left", "bottom")])
    images = images[..., None].astype("float32")
    serve = tf.saved_model.load(os.path.join(run, "model", "saved_model")).signatures["serving_default"]
    served = serve(inputs=tf.constant(images, tf.float32))["probabilities"].numpy()
    averaged = np.mean([np.asarray(layer(images, training=False)) for layer in model.layers
                        if layer.name.startswith("trial_")], axis=0)
    np.testing.assert_allclose(served, averaged, atol=1e-5)


def test_a_trial_record_holds_the_epochs_the_trial_ran():
    from keras_tuner.engine.hyperparameters import HyperParameters
    from keras_tuner.engine.trial import Trial

    from automl.report.progress import trial_record

    hp = HyperParameters()
    hp.Fixed("image/family", "simple")
    hp.Fixed("tuner/epochs", 3)
    trial = Trial(hp, trial_id="0002", status="COMPLETED")
    for name, value in {"val_accuracy": 0.75, "epochs_run": 3, "best_epoch": 2,
                        "examples_seen": 120}.items():
        trial.metrics.register(name)
        trial.metrics.update(name, value)
    trial.score = 0.75
    record = trial_record(trial, 1.234, "val_accuracy")
    assert record["epochs"] == 3 and record["best_epoch"] == 2 and record["examples_seen"] == 120
    assert record["hyperparameters"] == {"image/family": "simple"}
    assert record["fidelity"] == {"epochs": 3}
    json.dumps(record)


def test_a_signal_recorded_during_a_call_does_not_stop_the_next_one():
    import signal

    from automl.runtime import interrupt

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with interrupt.recording():
            os.kill(os.getpid(), signal.SIGINT)
            interrupt.check()
    assert signal.getsignal(signal.SIGINT) is before
    interrupt.check()  # an API call after the interrupted search goes on


def test_a_search_gives_back_the_dtype_policy_it_set():
    import keras

    from automl.runtime import devices

    assert keras.mixed_precision.global_policy().name == "float32"
    with pytest.raises(RuntimeError):
        with devices.policy_restored():
            devices.set_policy(keras, "mixed_float16")
            assert keras.mixed_precision.global_policy().name == "mixed_float16"
            raise RuntimeError("the search failed")
    assert keras.mixed_precision.global_policy().name == "float32"
