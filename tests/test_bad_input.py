"""Bad input: one-line errors with exit code 2, and nothing written or lost."""

import os

import pytest

from conftest import assert_one_line_error, invoke, write_image_folder


def search(image_folder, out, *extra):
    return invoke("search", "--task", "image", "--data", image_folder, "--out", out,
                  "--max-trials", 1, "--epochs", 1, *extra)


@pytest.mark.parametrize("extra, fragment", [
    (("--tuner", "annealing"), "unknown tuner 'annealing'"),
    (("--time-budget", "-5"), "time budget must be positive"),
    (("--time-budget", "ten minutes"), "malformed time budget"),
    (("--max-trials", "0"), "max_trials must be at least 1"),
    (("--max-trials", "many"), "setting 'max_trials' must be int"),
    (("--epochs", "1.5"), "setting 'epochs' must be int"),
    (("--objective", "val_top5"), "unknown objective 'val_top5' (choose one of: val_accuracy, "
                                  "val_loss, val_balanced_accuracy"),
    (("--objective", "val_auc"), "objective 'val_auc' needs two classes, the data has 3"),
])
def test_bad_settings(extra, fragment, image_folder, tmp_path):
    result = search(image_folder, tmp_path / "run", *extra)
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "run").exists()


def test_unknown_task(image_folder, tmp_path):
    result = invoke("search", "--task", "video", "--data", image_folder, "--out", tmp_path / "run")
    assert_one_line_error(result, "unknown task 'video'", "image")
    assert not (tmp_path / "run").exists()


def test_a_misspelled_task_offers_the_closest_one_before_its_options_are_read(image_folder,
                                                                                tmp_path):
    result = invoke("search", "--task", "txt", "--text-column", "review", "--data", image_folder,
                    "--out", tmp_path / "run")
    assert_one_line_error(result, "unknown task 'txt' (did you mean 'text'? installed tasks: "
                                  "audio, image, text)")
    assert not (tmp_path / "run").exists()


def test_an_unknown_command_points_to_the_top_level_help():
    assert_one_line_error(invoke("nosuch"), "No such command 'nosuch'", "(see `automl --help`)")
    assert_one_line_error(invoke("cache", "nosuch"), "(see `automl cache --help`)")


def test_missing_data_path(tmp_path):
    result = search(str(tmp_path / "nowhere"), tmp_path / "run")
    assert_one_line_error(result, "data not found", "nowhere")
    assert not (tmp_path / "run").exists()


def test_a_single_class(tmp_path):
    folder = write_image_folder(tmp_path / "data", classes=("top",))
    result = search(folder, tmp_path / "run")
    assert_one_line_error(result, "at least two classes", "top")
    assert not (tmp_path / "run").exists()


def test_an_unreadable_image_is_named(tmp_path):
    folder = write_image_folder(tmp_path / "data")
    with open(os.path.join(folder, "train", "top", "broken.png"), "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    result = search(folder, tmp_path / "run")
    assert_one_line_error(result, "broken.png")
    assert not (tmp_path / "run").exists()


def test_mixed_channels_take_the_most_common(tmp_path):
    from automl.settings import from_mapping
    from automl_plugins.image import ImageTask

    folder = write_image_folder(tmp_path / "data")
    write_image_folder(tmp_path / "data", per_class=(3, 0, 0), classes=("left",), seed=5, channels=3)
    # the RGB files overwrite some grayscale ones: both kinds are now present
    dataset = ImageTask().load(from_mapping({"task": "image", "data": folder, "out": "unused"}))
    assert dataset.meta["channels"] == 1
    assert dataset.train.head(100).shape[1:] == (8, 8, 1)


def test_empty_folder(tmp_path):
    (tmp_path / "data").mkdir()
    result = search(str(tmp_path / "data"), tmp_path / "run")
    assert_one_line_error(result, "no data files")


def test_labels_in_test_that_train_lacks(tmp_path):
    folder = write_image_folder(tmp_path / "data")
    write_image_folder(tmp_path / "extra", per_class=(0, 0, 2), classes=("top",))
    os.rename(os.path.join(tmp_path, "extra", "test", "top"), os.path.join(folder, "test", "zigzag"))
    result = search(folder, tmp_path / "run")
    assert_one_line_error(result, "test split", "zigzag")


def test_an_output_path_that_is_a_file(image_folder, tmp_path):
    target = tmp_path / "run"
    target.write_text("keep me")
    result = search(image_folder, target)
    assert_one_line_error(result, "output path is a file")
    assert target.read_text() == "keep me"


def test_bad_input_leaves_an_earlier_run_intact(image_run, tmp_path):
    before = sorted(os.listdir(image_run))
    card = open(os.path.join(image_run, "model", "model_card.json")).read()
    result = invoke("search", "--task", "image", "--data", str(tmp_path / "nowhere"),
                    "--out", image_run, "--overwrite")
    assert_one_line_error(result, "data not found")
    assert sorted(os.listdir(image_run)) == before
    assert open(os.path.join(image_run, "model", "model_card.json")).read() == card


def test_search_into_an_existing_run_points_to_resume(image_run, image_folder):
    result = search(image_folder, image_run)
    assert_one_line_error(result, "already holds a search", "automl resume")


@pytest.mark.parametrize("text, fragment", [
    ("task: image\ndata: digits\nout: x\nmax_trails: 3\n",
     "key 'max_trails' (did you mean 'max_trials'? known keys: task, data, out"),
    ("task: imgae\ndata: digits\nout: x\n", "unknown task 'imgae' (did you mean 'image'?"),
    ("task: image\ndata: digits\nout: x\nmax_trials: [1]\n", "setting 'max_trials' must be int"),
    ("task: image\ndata: digits\n", "missing the required key 'out'"),
    ("task: image\n  data: [digits\n", "not valid YAML"),
    ("- just\n- a list\n", "must be a mapping"),
])
def test_malformed_recipes(text, fragment, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text)
    result = invoke("run", recipe)
    assert_one_line_error(result, fragment)


def test_malformed_set_override(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("task: image\ndata: digits\nout: x\n")
    assert_one_line_error(invoke("run", recipe, "--set", "novalue"), "malformed --set")


def test_predict_without_an_export(tmp_path):
    assert_one_line_error(invoke("predict", tmp_path, "x.png"), "no exported model")


def test_every_undecodable_file_is_counted_and_ten_are_named(tmp_path):
    folder = write_image_folder(tmp_path / "data")
    for index in range(12):
        with open(os.path.join(folder, "train", "left", f"broken{index:02d}.png"), "wb") as handle:
            handle.write(b"not an image")
    result = search(folder, tmp_path / "run")
    assert_one_line_error(result, "12 files cannot be decoded", "broken00.png", "broken09.png",
                          "and 2 more")
    assert "broken10.png" not in result.output
    assert not (tmp_path / "run").exists()


def test_predict_on_paths_without_files_of_the_task(image_run, tmp_path):
    (tmp_path / "notes.txt").write_text("nothing to see")
    assert_one_line_error(invoke("predict", image_run, tmp_path), "no image files in", ".png")


def test_predict_skip_bad_goes_on_and_lists_the_bad_files(image_run, image_folder, tmp_path):
    import json
    import shutil

    good = os.path.join(image_folder, "test", "top")
    shutil.copytree(good, tmp_path / "batch")
    (tmp_path / "batch" / "broken.png").write_bytes(b"not an image")
    assert_one_line_error(invoke("predict", image_run, tmp_path / "batch"), "broken.png")
    result = invoke("predict", image_run, tmp_path / "batch", "--skip-bad", "--json")
    assert result.exit_code == 0, result.output
    predicted = json.loads(result.stdout)
    assert len(predicted) == len(os.listdir(good))
    assert "skipped:" in result.stderr and "broken.png" in result.stderr
