"""Plugin API 4.0: the required part of a task alone searches and exports; optional
hooks are mixins the core calls through `automl.capabilities`; 3.x plugins still load."""

import inspect
import json
import os
import re
from importlib.metadata import EntryPoint

import numpy as np
import pytest

import automl
from automl import capabilities, registry
from automl.export import litert
from conftest import assert_one_line_error, invoke

HERE = os.path.dirname(__file__)


@pytest.fixture
def register(monkeypatch):
    """`register(name, "fake_tasks:Class")` installs a task as an entry point would."""
    monkeypatch.syspath_prepend(HERE)
    monkeypatch.setattr(registry, "_deprecation_noted", set())
    extra = []
    monkeypatch.setattr(registry, "_entry_points", lambda: list(extra))

    def add(name, value):
        extra.append(EntryPoint(name, value, registry.GROUP))

    return add


def convert_in_this_process(converter, *arguments):
    """`litert.Converter.convert` without its child process, which would not see the
    tests' tasks."""
    outcome, value = litert._convert_here(*arguments)
    if outcome == "error":
        raise automl.AutomlError(value)
    return value


def test_a_task_of_the_required_part_alone_searches_and_exports(register, image_folder,
                                                                tmp_path, monkeypatch):
    from fake_tasks import PixelTask

    assert PixelTask.__bases__ == (automl.Task,)
    assert not [name for name in capabilities.HOOKS if hasattr(PixelTask, name)]
    register("pixels", "fake_tasks:PixelTask")
    out = tmp_path / "run"
    result = invoke("search", "--task", "pixels", "--data", image_folder, "--out", out,
                    "--max-trials", 1, "--epochs", 1)
    assert result.exit_code == 0, result.output
    assert "plugin API" not in result.stderr  # no deprecation note for an API 4.0 task
    card = json.load(open(out / "model" / "model_card.json"))
    assert card["task"] == "pixels" and card["classes"] == ["bottom", "left", "top"]
    assert card["input"]["shape"] == [None, 8, 8, 1]
    assert (out / "model" / "saved_model" / "saved_model.pb").exists()
    predicted = invoke("predict", out, os.path.join(image_folder, "test"), "--json")
    assert predicted.exit_code == 0, predicted.output
    # the default on-device export of a task that did not opt into `automl.OnDevice`
    monkeypatch.setattr(litert.Converter, "convert", convert_in_this_process)
    exported = invoke("export", out, "--format", "tflite")
    assert exported.exit_code == 0, exported.output
    assert [name for name in os.listdir(out / "model") if name.endswith(".tflite")]
    on_device = invoke("predict", out, os.path.join(image_folder, "test", "top"), "--tflite")
    assert on_device.exit_code == 0, on_device.output
    assert on_device.stdout.count("\n") == 4


def test_the_documented_example_is_the_tested_one():
    from fake_tasks import PixelTask

    page = open(os.path.join(HERE, "..", "docs", "plugins.md"), encoding="utf-8").read()
    example = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    namespace = {}
    exec(compile(example, "docs/plugins.md", "exec"), namespace)
    documented = namespace["PixelTask"]
    methods = [name for name, value in vars(documented).items() if callable(value)]
    assert methods == ["decode_file", "describe", "input_spec", "build"]
    hooks = example[example.index("    def decode_file"):]
    assert hooks in inspect.getsource(PixelTask)


def test_a_3x_task_loads_with_one_deprecation_line_and_its_hooks_are_called(register,
                                                                             tmp_path):
    from fake_tasks import LegacyVectorTask

    register("legacy", "fake_tasks:LegacyVectorTask")
    LegacyVectorTask.calls.clear()
    out = tmp_path / "run"
    result = invoke("search", "--task", "legacy", "--data", "blobs", "--out", out,
                    "--max-trials", 1, "--tuner", "random", "--json")
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if "plugin API 3.1" in line]
    assert notes == ["warning: task plugin 'legacy' is written for plugin API 3.1; it loads, "
                     "API 4.0 moves optional hooks into mixins: see docs/plugins.md"]
    json.loads(result.stdout)  # the note stays off the JSON on stdout
    assert {"known_good", "augment"} <= set(LegacyVectorTask.calls)
    card = json.load(open(out / "model" / "model_card.json"))
    assert card["hyperparameters"]["vectors/width"] == 5  # its known-good configuration
    registry.get_task("legacy")
    assert "plugin API" not in invoke("tasks").stderr  # once per process


def test_a_2x_task_is_noted_as_classification_only(register, capsys):
    register("old", "fake_tasks:ClassificationOnlyVectorTask")
    assert registry.get_task("old").supported_problems() == ("classification",)
    assert "plugin API 2.5; it loads for classification only" in capsys.readouterr().err


def test_an_optional_hook_without_its_mixin_is_refused(register, tmp_path):
    register("stray", "fake_tasks:StrayHookTask")
    result = invoke("search", "--task", "stray", "--data", "blobs", "--out", tmp_path / "run")
    assert_one_line_error(result, "task plugin 'stray' defines optional hooks without their "
                                  "capability mixin: augment (Augmentation)")


def test_the_core_calls_a_mixin_or_its_default():
    class Plain(automl.Task):
        name = "plain"

    class Mixing(automl.Task, automl.Augmentation, automl.OnDevice):
        name = "mixing"
        device_input_type = "uint8"

        def mix(self, hp, x, y):
            return x + 1, y

    x, y = np.zeros(2), np.ones(2)
    assert capabilities.mix(Plain(), None, x, y) == (x, y)
    assert capabilities.mix(Mixing(), None, x, y)[0].tolist() == [1, 1]
    assert capabilities.augment(Mixing(), None, x) is x
    assert capabilities.device_input_type(Plain()) == "int8"
    assert capabilities.device_input_type(Mixing()) == "uint8"
    assert capabilities.known_good(Plain(), None) == []
    assert capabilities.test_time_model(Plain(), None, None, {}) is None
    assert capabilities.example_cost(Plain(), None, None, lambda: _FakeNetwork()) == 0
    assert set(capabilities.HOOKS) == {
        "augment", "mix", "test_time_model", "test_time_description", "device_model",
        "device_inputs", "device_input_type", "device_float_layers", "example_cost",
        "known_good", "trial_facts", "skip_reason", "initialize", "training_model"}
    assert not [name for name in capabilities.HOOKS if hasattr(automl.Task, name)]


class _FakeNetwork:
    layers = ()
