"""Plugin authoring: the scaffold, its installation as an entry point, the public API."""

import importlib
import json
import os
import re
import sys
from importlib.metadata import EntryPoint

import numpy as np

from automl import capabilities, registry
import automl
from conftest import assert_one_line_error, invoke


def test_scaffold_writes_an_installable_plugin(tmp_path, monkeypatch):
    target = tmp_path / "deep" / "barsdemo"
    result = invoke("plugin", "new", "barsdemo", "--path", target)
    assert result.exit_code == 0, result.output
    for path in ("pyproject.toml", "README.md", "automl_barsdemo/__init__.py",
                 "automl_barsdemo/task.py", "tests/test_barsdemo.py"):
        assert (target / path).is_file(), path
    pyproject = (target / "pyproject.toml").read_text()
    assert 'name = "automl-barsdemo"' in pyproject
    assert 'dependencies = ["keras-automl"]' in pyproject
    assert '[project.entry-points."automl.tasks"]' in pyproject
    assert 'barsdemo = "automl_barsdemo.task:BarsdemoTask"' in pyproject
    source = (target / "automl_barsdemo" / "task.py").read_text()
    task_lines = source[source.index("class BarsdemoTask"):].count("\n")
    assert task_lines <= 60, task_lines

    # register the entry point as `pip install -e` would, then use the task
    monkeypatch.syspath_prepend(str(target))
    real = registry._entry_points()
    plugin = EntryPoint("barsdemo", "automl_barsdemo.task:BarsdemoTask", registry.GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda: real + [plugin])
    listed = invoke("tasks")
    assert "barsdemo" in listed.output.split()
    task_class = registry.installed_tasks()["barsdemo"].task_class
    assert task_class.api_version == "4.0"
    # the required part only: no capability mixin, no optional hook by name
    assert task_class.__bases__ == (automl.Task,)
    assert not [name for name in capabilities.HOOKS if hasattr(task_class, name)]

    # the scaffold's own test passes against this installation
    sys.modules.pop("test_barsdemo", None)
    monkeypatch.syspath_prepend(str(target / "tests"))
    scaffold_test = importlib.import_module("test_barsdemo")
    scaffold_test.test_task_is_installed()
    (tmp_path / "scaffold").mkdir()
    scaffold_test.test_search_exports_a_model(tmp_path / "scaffold")
    # its search exported the task's own hyperparameters
    out = tmp_path / "scaffold" / "run"
    card = json.load(open(out / "model" / "model_card.json"))
    assert card["classes"] == ["left", "right"] and card["input"]["shape"] == [None, 3]
    assert {"barsdemo/depth", "barsdemo/width", "barsdemo/dropout"} <= set(card["hyperparameters"])
    assert (out / "model" / "saved_model" / "saved_model.pb").exists()
    (tmp_path / "arrays").mkdir()
    scaffold_test.test_search_from_arrays(tmp_path / "arrays")

    # a task's options are flags of that task only, and recipe keys
    barsdemo_help = invoke("search", "--task", "barsdemo", "--help").output
    assert "--label-column" in barsdemo_help and "--path-column" not in barsdemo_help
    assert "--path-column" in invoke("search", "--task", "image", "--help").output
    assert "--path-column" not in invoke("search", "--task", "text", "--help").output
    (tmp_path / "option").mkdir()
    scaffold_test.test_the_label_column_option(tmp_path / "option")


def test_scaffold_refuses_bad_names_and_occupied_folders(tmp_path):
    assert_one_line_error(invoke("plugin", "new", "Bad-Name", "--path", tmp_path / "x"),
                          "invalid plugin name 'Bad-Name'")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("keep")
    assert_one_line_error(invoke("plugin", "new", "ok", "--path", tmp_path / "taken"),
                          "already exists")
    assert (tmp_path / "taken" / "file").read_text() == "keep"


def test_public_api_names():
    assert automl.API_VERSION == "4.0"
    for name in ("Task", "Augmentation", "TestTimeAugmentation", "OnDevice", "CostEstimate",
                 "KnownGood", "TrialFeedback", "Initialization", "TrainingTwin", "Option", "Dataset", "Split", "LabelledExamples", "AutomlError",
                 "decode_folder", "load_tfds", "search", "resume", "load", "Predictor",
                 "Prediction", "SearchResult", "ImageClassifier", "TextClassifier",
                 "AudioClassifier", "SearchFailed"):
        assert getattr(automl, name).__doc__, name


def test_builtin_plugins_use_only_the_public_api():
    """`automl` and its transfer-learning building blocks, `automl.transfer`."""
    folder = os.path.join(os.path.dirname(__file__), "..", "plugins")
    for name in os.listdir(folder):
        if name.endswith(".py"):
            source = open(os.path.join(folder, name), encoding="utf-8").read()
            imported = re.findall(r"^\s*(?:from|import) (automl\.[\w.]+)", source, re.MULTILINE)
            assert set(imported) <= {"automl.transfer"}, (name, imported)


def test_api_versions_that_load():
    assert registry.compatible("4.0") and registry.compatible(4)
    assert registry.compatible("3.0") and registry.compatible(3) and registry.compatible("3.1")
    assert registry.compatible("2.0") and registry.compatible("2.5")  # classification only
    assert not registry.compatible("1") and not registry.compatible("3.2")
    assert not registry.compatible("4.1") and not registry.compatible("5.0")
    assert not registry.compatible(None)


def test_task_options_are_flags_and_recipe_keys(tmp_path):
    text_help = invoke("search", "--task", "text", "--help").output
    assert "--text-column TEXT" in text_help and "[default: text]" in text_help
    assert "--text-column" not in invoke("search", "--task", "image", "--help").output
    assert "--sample-rate INTEGER" in invoke("search", "--task", "audio", "--help").output
    from automl.settings import from_mapping

    settings = from_mapping({"task": "text", "data": "d", "out": "o", "text_column": "review"})
    assert settings.options == {"text_column": "review", "label_column": "label"}
    assert_one_line_error(invoke("search", "--task", "image", "--data", "d", "--out",
                                 tmp_path / "o", "--text-column", "x"), "No such option")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("task: audio\ndata: d\nout: o\nsample_rate: fast\n")
    assert_one_line_error(invoke("run", recipe), "setting 'sample_rate' must be int")


def test_two_distributions_registering_one_task_name_are_named(monkeypatch, capsys):
    real = registry._entry_points()
    twin = EntryPoint("image", "automl_plugins.text:TextTask", registry.GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda: real + [twin])
    tasks = registry.installed_tasks()
    assert tasks["image"].task_class.__name__ == "ImageTask"
    assert "task 'image' is registered by both" in capsys.readouterr().err


def test_build_sees_the_training_split_only():
    import keras_tuner as kt

    from automl.runtime import env
    from automl.data.sources import Dataset, Split
    from automl.tuning.hypermodel import TaskHyperModel

    _, keras = env.import_tensorflow()
    seen = {}

    class Recording(automl.Task):
        name = "recording"

        def input_spec(self, meta):
            return (2,), "float32"

        def build(self, hp, inputs, dataset):
            seen.update(train=len(dataset.train), val=dataset.val, test=dataset.test)
            return inputs

    x, y = np.zeros((4, 2), "float32"), np.array([0, 1, 0, 1])
    dataset = Dataset(["a", "b"], Split(x, y), Split(x[:2], y[:2]), Split(x[:2], y[:2]),
                      source="memory")
    TaskHyperModel(Recording(), dataset, keras).build(kt.HyperParameters())
    assert seen == {"train": 4, "val": None, "test": None}
