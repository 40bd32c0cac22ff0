"""The Python API: search from arrays, strings and DataFrames; load, predict, resume."""

import importlib.util
import json
import os
import signal

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from automl import registry
import automl
from automl.data import in_memory
from conftest import TEST_RUNS, invoke, run_python, synthetic_image

HERE = os.path.dirname(__file__)
EXAMPLES = os.path.join(HERE, os.pardir, "examples")
TINY = {"max_trials": 1, "epochs": 2, "verbose": 0}
CLASSES = ("bottom", "left", "top")


def image_arrays(per_class, seed):
    rng = np.random.RandomState(seed)
    x = np.stack([synthetic_image(label, rng) for label in CLASSES for _ in range(per_class)])
    return x[..., np.newaxis], np.repeat(np.arange(3), per_class)


def texts(per_class, seed):
    words = {"cooking": ["recipe", "oven", "flour"], "football": ["goal", "striker", "league"],
             "weather": ["rain", "forecast", "storm"]}
    rng = np.random.RandomState(seed)
    rows = [(" ".join(rng.choice(words[label] + ["the", "a", "today"], size=5)), label)
            for label in sorted(words) for _ in range(per_class)]
    return pd.DataFrame(rows, columns=["review", "topic"])


@pytest.fixture(scope="module")
def array_search(tmp_path_factory):
    """A search on uint8 image arrays with a test split, quiet, recording trials."""
    records = []
    x_train, y_train = image_arrays(16, 0)
    x_val, y_val = image_arrays(4, 1)
    x_test, y_test = image_arrays(5, 2)
    result = automl.search("image", (x_train, y_train), validation_data=(x_val, y_val),
                           test_data=(x_test, y_test), class_names=CLASSES,
                           callbacks=records.append, tuner="random", **{**TINY, "epochs": 4})
    return result, records, (x_test, y_test)


def test_an_array_search_runs_the_pipeline_into_a_run_of_the_runs_folder(array_search):
    result, records, (x_test, y_test) = array_search
    assert result.run_dir.startswith(os.path.join(TEST_RUNS, "image-"))
    assert result.card["classes"] == list(CLASSES)
    assert result.card["data"]["examples"] == {"train": 48, "val": 12, "test": 15}
    assert result.card["data"]["source"].startswith("memory:")
    assert result.card["metrics"]["test"]["accuracy"] >= 0.6
    assert os.path.isfile(result.report_path)
    splits = json.load(open(os.path.join(result.run_dir, "splits.json")))
    assert sorted(splits["test"]) == list(range(15))  # indices into test_data's array
    assert len(records) == 1
    assert os.path.isdir(os.path.join(result.run_dir, "search", f"trial_{records[0]['trial_id']}"))
    assert records[0]["status"] == "COMPLETED" and records[0]["score"] > 0
    json.dumps(records)
    assert result.model.predict(x_test[:2].astype("float32"), verbose=0).shape == (2, 3)


def test_load_predicts_as_automl_predict_and_the_plain_saved_model(array_search, tmp_path):
    import tensorflow as tf

    result, _, (x_test, y_test) = array_search
    predictor = automl.load(result.run_dir)
    labels, probabilities = predictor.predict(x_test)
    served = tf.saved_model.load(os.path.join(result.run_dir, "model", "saved_model"))
    plain = served.signatures["serving_default"](tf.constant(x_test, tf.float32))
    np.testing.assert_allclose(probabilities, plain["probabilities"].numpy(), atol=1e-5)
    assert list(labels) == [CLASSES[i] for i in plain["probabilities"].numpy().argmax(-1)]
    scores = predictor.evaluate((x_test, y_test), class_names=CLASSES)
    assert scores["accuracy"] == pytest.approx(result.card["metrics"]["test"]["accuracy"])

    for i, image in enumerate(x_test[:4]):
        Image.fromarray(image[..., 0]).save(tmp_path / f"{i}.png")
    cli = invoke("predict", result.run_dir, tmp_path, "--json")
    assert cli.exit_code == 0, cli.output
    from_cli = {os.path.basename(r["input"]): r["predictions"][0] for r in json.loads(cli.output)}
    files = predictor.files(tmp_path)
    by_file = predictor.predict([str(f) for f in files])
    for path, label, row in zip(files, by_file.labels, by_file.probabilities):
        assert from_cli[os.path.basename(path)]["label"] == label
        assert from_cli[os.path.basename(path)]["probability"] == pytest.approx(row.max(), abs=1e-6)
    np.testing.assert_allclose(by_file.probabilities, probabilities[:4], atol=1e-6)
    frame = pd.DataFrame({"path": [str(f) for f in files],
                          "label": [CLASSES[y_test[int(os.path.basename(f)[0])]] for f in files]})
    expected = predictor.evaluate((x_test[:4], y_test[:4]), class_names=CLASSES)
    assert predictor.evaluate(frame)["accuracy"] == expected["accuracy"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(automl.AutomlError, match="no image files in"):
        predictor.predict([str(tmp_path / "empty")])


def test_a_search_on_arrays_exports_a_litert_file_checked_on_its_test_split(array_search):
    result, _, (x_test, y_test) = array_search
    entries = result.export_tflite("int8")
    entry = entries["int8"]
    assert os.path.isfile(os.path.join(result.run_dir, "model", "model_int8.tflite"))
    assert entry["test_examples"] == len(y_test) and entry["inputs"][0]["dtype"] == "uint8"
    assert result.card["litert"]["int8"]["sha256"] == entry["sha256"]


def test_a_predictor_needs_no_plugin_for_arrays(array_search, monkeypatch):
    result, _, (x_test, _) = array_search
    expected = automl.load(result.run_dir).predict_proba(x_test)
    monkeypatch.setattr(registry, "installed_tasks", lambda warn=True: {})
    bare = automl.load(result.run_dir)
    np.testing.assert_allclose(bare.predict_proba(x_test[..., 0]), expected, atol=1e-6)
    with pytest.raises(automl.AutomlError, match="needs the 'image' task plugin"):
        bare.predict([__file__])


def test_without_a_usable_runs_folder_runs_go_to_a_private_temp_folder(tmp_path, monkeypatch):
    import tempfile

    from automl import api

    monkeypatch.delenv("AUTOML_RUNS_DIR")
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "not-a-folder"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    private = tmp_path / f"keras-automl-runs-{os.getuid()}"
    assert os.path.dirname(api.default_run_dir("image")) == str(private)
    assert os.stat(private).st_mode & 0o777 == 0o700
    private.chmod(0o777)
    api.default_run_dir("image")
    assert os.stat(private).st_mode & 0o777 == 0o700
    private.rmdir()
    private.symlink_to(tmp_path / "elsewhere")  # made in advance by someone else
    with pytest.raises(automl.AutomlError, match="is not a folder of this user's"):
        api.default_run_dir("image")
    if os.getuid() == 0:
        private.unlink()
        private.mkdir()
        os.chown(private, 65534, 65534)
        with pytest.raises(automl.AutomlError, match="is not a folder of this user's"):
            api.default_run_dir("image")
    monkeypatch.setenv("AUTOML_RUNS_DIR", str(tmp_path / "not-a-folder" / "runs"))
    with pytest.raises(automl.AutomlError, match="cannot write runs in .AUTOML_RUNS_DIR"):
        api.default_run_dir("image")


def test_float_images_in_0_1_read_as_their_0_255_values():
    task = registry.get_task("image")
    options = {"max_image_size": 256}
    x, _ = image_arrays(2, 0)
    as_uint8, _ = in_memory.task_examples(task, x, options)
    as_float, _ = in_memory.task_examples(task, x.astype("float32") / 255.0, options)
    np.testing.assert_allclose(np.stack(as_float), np.stack(as_uint8), atol=1e-3)
    sizes, _ = in_memory.task_examples(task, [np.zeros((8, 6, 3), "uint8"),
                                              np.zeros((300, 150), "uint8")], options)
    assert [s.shape for s in sizes] == [(8, 6, 3), (256, 128, 1)]
    with pytest.raises(automl.AutomlError, match="with 1, 3 or 4 channels"):
        in_memory.task_examples(task, np.zeros((2, 8, 8, 2), "uint8"), options)


def test_the_source_name_follows_the_content_and_the_labels():
    task = registry.get_task("image")
    options = {"max_image_size": 256}
    x, y = image_arrays(2, 0)
    first = in_memory.register(task, options, (x, y))
    assert in_memory.register(task, options, (x.copy(), list(y))) == first
    changed = x.copy()
    changed[0, 0, 0, 0] += 1
    assert in_memory.register(task, options, (changed, y)) != first
    assert in_memory.register(task, options, (x, y), class_names=CLASSES) != first
    assert in_memory.read(first, task)["all"].ids == list(range(6))
    in_memory.release(first)
    with pytest.raises(automl.AutomlError, match="pass it again"):
        in_memory.read(first, task)


def test_data_in_memory_is_read_back_from_the_data_cache_once_forgotten(tmp_path):
    from automl import settings as settings_lib

    task = registry.get_task("image")
    x, y = image_arrays(6, 0)
    source = in_memory.register(task, {"max_image_size": 256}, (x, y), class_names=CLASSES)
    settings = settings_lib.from_mapping({"task": "image", "data": source, "out": str(tmp_path),
                                          "cache_dir": str(tmp_path / "cache")})
    first = task.load(settings)
    in_memory.release(source)  # as in a new process
    again = registry.get_task("image").load(settings)
    assert again.classes == first.classes == list(CLASSES)
    np.testing.assert_array_equal(again.train.head(4), first.train.head(4))
    import shutil

    shutil.rmtree(tmp_path / "cache")
    with pytest.raises(automl.AutomlError, match=r"pass it again \(automl.resume"):
        registry.get_task("image").load(settings)


def test_a_dataframe_of_file_paths_reads_the_files(tmp_path):
    from automl import settings as settings_lib

    task = registry.get_task("image")
    x, y = image_arrays(2, 0)
    paths = []
    for i, image in enumerate(x):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(image[..., 0]).save(paths[-1])
    frame = pd.DataFrame({"file": paths, "kind": [CLASSES[i] for i in y]})
    name = in_memory.register(task, {"max_image_size": 256}, frame, columns=("file", "kind"))
    split = in_memory.read(name, task)["all"]
    assert split.ids == paths and split.labels == [CLASSES[i] for i in y]
    np.testing.assert_array_equal(np.stack(list(split.examples)), x)
    Image.fromarray(np.zeros((16, 12), "uint8")).save(tmp_path / "large.png")
    large = in_memory.register(task, {"max_image_size": 256},
                               ([str(tmp_path / "large.png")] + paths[1:], y))
    capped = registry.get_task("image").read_source(settings_lib.from_mapping(
        {"task": "image", "data": large, "out": str(tmp_path), "max_image_size": 8}))
    assert capped["all"].examples[0].shape == (8, 6, 1)
    with pytest.raises(automl.AutomlError, match="has no column 'path'"):
        in_memory.register(task, {"max_image_size": 256}, frame, columns=("path", "kind"))


@pytest.mark.parametrize("call, message", [
    (lambda: automl.search("image", "no/such/folder"), "data not found: no/such/folder"),
    (lambda: automl.search("images", "x"), "unknown task 'images'"),
    (lambda: automl.search("image", (np.zeros((4, 8, 8, 1)), [0, 0, 0, 0])), "need at least two classes"),
    (lambda: automl.search("image", (np.zeros((4, 8, 8, 1)), [0, 1, 0])),
     "4 examples but 3 labels"),
    (lambda: automl.search("image", (np.zeros((4, 8, 8, 1)), [np.nan, 1, 0, 1])), "missing or infinite label"),
    (lambda: automl.search("audio", (np.zeros((4, 800)), [0, 1, 0, 1])), "need sample_rate="),
    (lambda: automl.search("text", (["a", "b"], [0, 1]), max_trials=0), "max_trials"),
    (lambda: automl.search("image", "x", validation_data=(np.zeros((1, 8, 8)), [0])),
     "go with data in memory"),
    (lambda: automl.search("image", (np.zeros((3, 8, 8)), [-1, 0, 1]), class_names=["a", "b"]),
     "label -1 has no class name"),
    (lambda: automl.search("image", "x", callbacks=object()), "callbacks are functions"),
    (lambda: automl.search("image", image_arrays(6, 0), group_by=r"(\d)"),
     "--group-by needs data read from files"),
    (lambda: automl.search("image", image_arrays(6, 0), label_column="kind"),
     "label_column names a DataFrame column"),
])
def test_bad_input_raises_the_command_lines_one_line_error(call, message, tmp_path):
    with pytest.raises(automl.AutomlError) as raised:
        call()
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_the_cli_and_the_api_name_a_missing_folder_alike(tmp_path):
    result = invoke("search", "--task", "image", "--data", "no/such/folder", "--out", tmp_path / "r")
    assert result.exit_code == 2 and "Error: data not found: no/such/folder" in result.output


def test_text_estimator_on_a_series_with_integer_labels(tmp_path, capsys, monkeypatch):
    """Fitted without `out`, its run goes to the runs folder, which cleaning the cache keeps."""
    monkeypatch.delenv("AUTOML_RUNS_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("AUTOML_CACHE_DIR", str(tmp_path / "cache"))
    frame = texts(12, 0)
    codes = frame.topic.map({"cooking": 0, "football": 1, "weather": 2})
    model = automl.TextClassifier(batch_size=8, **TINY).fit(frame.review, codes)
    result = model.result
    assert result.run_dir.startswith(str(tmp_path / "data" / "keras-automl" / "runs" / "text-"))
    (tmp_path / "cache" / "runs" / "text-old").mkdir(parents=True)  # where runs were once
    cleaned = invoke("cache", "clean", "--all")
    assert cleaned.exit_code == 0 and "removed 1 folder" in cleaned.output  # the data set
    assert os.listdir(tmp_path / "cache") == ["runs"]
    assert list(automl.load(result.run_dir).predict(["rain storm"]).labels) == \
        list(result.predict(["rain storm"]).labels)
    predicted = model.predict(["oven flour recipe", "striker goal league"])
    assert predicted.dtype.kind == "i" and set(predicted) <= {0, 1, 2}
    assert model.predict_proba(pd.Series(["rain storm"])).shape == (1, 3)
    assert model.evaluate(frame.review, codes)["examples"] == 36
    exported = model.export(tmp_path / "exported")
    assert os.path.isfile(os.path.join(exported, "saved_model", "saved_model.pb"))
    np.testing.assert_allclose(automl.load(exported).predict_proba(["rain storm"]),
                               model.predict_proba(["rain storm"]), atol=1e-6)
    with pytest.raises(automl.AutomlError, match="export path exists"):
        model.export(tmp_path / "exported")
    named = automl.TextClassifier(class_names=["cooking", "football", "weather"], batch_size=8,
                                  **TINY).fit(frame.review, codes)
    assert set(named.predict(["oven flour recipe"])) <= {"cooking", "football", "weather"}
    assert named.evaluate(frame.review, codes)["examples"] == 36
    printed = capsys.readouterr()
    assert printed.out == "" and "trial" not in printed.err  # verbose=0


def test_the_live_display_shows_the_budget_spent_and_the_best_score():
    import time
    import types

    from rich.console import Console

    from automl.tuning.budget import Budget
    from automl.report.progress import Progress

    progress = Progress(types.SimpleNamespace(objective="val_accuracy"),
                        Budget(100, time.time() - 50), live=False)
    progress.trial_count, progress.best = 3, 0.9123
    console = Console(record=True, width=120, color_system=None)
    console.print(progress)
    shown = console.export_text()
    assert "search" in shown and "trial 3/?" in shown and "best val_accuracy 0.9123" in shown
    assert "━" in shown and "eta 0:4" in shown  # the bar, half spent; about 50 s left


def test_import_automl_imports_no_tensorflow():
    process = run_python("import automl, sys; automl.search; automl.ImageClassifier; "
                         "automl.load; assert 'tensorflow' not in sys.modules, 'imported'")
    assert process.returncode == 0, process.stderr


def _example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TINY_EXAMPLE = {"max_trials": 1, "epochs": 1, "time_budget": None}


def test_the_arrays_example_and_predicting_files(tmp_path, capsys):
    result = _example("digits_from_arrays").main(limit=150, out=tmp_path / "digits", verbose=0,
                                                 **TINY_EXAMPLE)
    assert "test accuracy (predict)" in capsys.readouterr().out
    assert result.card["classes"] == [str(d) for d in range(10)]
    Image.fromarray(np.zeros((8, 8), "uint8")).save(tmp_path / "blank.png")
    labels, _ = _example("predict_files").main(result.run_dir, str(tmp_path))
    assert len(labels) == 1 and "blank.png" in capsys.readouterr().out


def test_the_dataframe_example_names_its_columns(capsys):
    model, result = _example("reviews_from_dataframe").main(batch_size=8, verbose=0,
                                                            **TINY_EXAMPLE)
    assert model.card["classes"] == result.card["classes"] == ["fresh", "rotten"]
    assert result.card["options"]["text_column"] == "review"
    assert result.card["options"]["label_column"] == "verdict"
    assert "classes:" in capsys.readouterr().out


def test_the_audio_example_reads_arrays_at_their_sample_rate(tmp_path):
    example = _example("tones_from_arrays")
    model = example.main(per_class=6, export_to=tmp_path / "tones", verbose=0, **TINY_EXAMPLE)
    assert model.card["data"]["sample_rate"] == example.RATE
    assert os.path.isdir(tmp_path / "tones" / "saved_model")
    x, _ = example.tones(1)
    assert model.predict(x).dtype == object
    twice = np.repeat(x, 2, axis=1)  # the same clips at twice the rate
    np.testing.assert_allclose(model.predict_proba(twice, sample_rate=example.RATE * 2),
                               model.predict_proba(x), atol=0.05)


def test_the_resume_example_stops_on_ctrl_c_and_continues(tmp_path, capsys):
    example = _example("resume_after_interrupt")
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own, as in a script
    result = example.main(out=tmp_path / "run", verbose=0, max_trials=2, epochs=1)
    printed = capsys.readouterr().out
    assert f"stopped: search interrupted; its state is saved: continue it with " \
           f"automl.resume('{tmp_path / 'run'}')" in printed
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert result.card["search"]["completed"] == 2
    x, y = example.stripes()
    with pytest.raises(automl.AutomlError, match="differs from the data"):
        automl.resume(result.run_dir, data=(x[:-1], y[:-1]))
    assert automl.resume(result.run_dir, data=(x, y), verbose=0).card == result.card
