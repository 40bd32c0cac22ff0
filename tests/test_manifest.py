"""CSV manifests: file paths and labels in a table instead of class folders."""

import csv
import json
import os

import numpy as np
import pytest
from PIL import Image

from conftest import assert_one_line_error, invoke, synthetic_image


def write_manifest(root, rows, header=("path", "label", "split"), name="labels.csv"):
    path = os.path.join(root, name)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def image_files(root, per_class=(16, 4, 4), seed=0):
    """Images in one flat folder `root/files`; `[(relative path, label, split)]`."""
    rng = np.random.RandomState(seed)
    os.makedirs(os.path.join(root, "files"), exist_ok=True)
    rows = []
    for split, count in zip(("train", "val", "test"), per_class):
        for label in ("bottom", "left", "top"):
            for i in range(count):
                name = f"files/{split}_{label}_{i}.png"
                Image.fromarray(synthetic_image(label, rng)).save(os.path.join(root, name))
                rows.append((name, label, split))
    return rows


def read(task_name, path, **options):
    from automl import registry
    from automl.settings import from_mapping

    settings = from_mapping({"task": task_name, "data": str(path), "out": "unused", **options})
    return registry.get_task(task_name).read_source(settings)


def test_an_image_manifest_searches_like_a_folder(tmp_path):
    manifest = write_manifest(tmp_path, image_files(tmp_path))
    out = tmp_path / "run"
    result = invoke("search", "--task", "image", "--data", manifest, "--out", out,
                    "--max-trials", 1, "--epochs", 2, "--tuner", "random")
    assert result.exit_code == 0, result.output
    card = json.load(open(out / "model" / "model_card.json"))
    assert card["classes"] == ["bottom", "left", "top"]
    assert card["metrics"]["test"]["examples"] == 12
    splits = json.load(open(out / "splits.json"))
    assert sorted(splits["test"]) == sorted(f"files/test_{c}_{i}.png"
                                           for c in ("bottom", "left", "top") for i in range(4))
    fingerprint = json.load(open(out / "fingerprint.json"))
    assert "labels.csv" in fingerprint["files"] and "files/train_top_0.png" in fingerprint["files"]
    # A listed file that changes makes the data a different one: resume refuses.
    (tmp_path / "files" / "train_top_0.png").write_bytes(
        open(tmp_path / "files" / "train_top_1.png", "rb").read() + b"\0")
    from automl.data import fingerprint as fingerprint_lib
    from automl import registry
    from automl.settings import load_recipe

    settings = load_recipe(str(out / "recipe.yaml"), [f"out={out}"])
    current = fingerprint_lib.of_source(settings, registry.get_task("image"))
    assert "files/train_top_0.png" in fingerprint_lib.describe_change(fingerprint, current)


def test_columns_are_detected_or_named(tmp_path):
    rows = image_files(tmp_path, per_class=(2, 1, 1))
    usual = write_manifest(tmp_path, [(p, label) for p, label, _ in rows],
                           header=("filename", "category"), name="usual.csv")
    decoded = read("image", usual)
    assert list(decoded) == ["all"] and len(decoded["all"]) == 12
    assert decoded["all"].ids[0] == rows[0][0] and decoded["all"].labels[0] == rows[0][1]
    # No usual names: the column naming image files holds the paths, the one left the labels.
    unusual = write_manifest(tmp_path, [(label, p) for p, label, _ in rows],
                             header=("tag", "picture"), name="unusual.csv")
    assert read("image", unusual)["all"].labels == [label for _, label, _ in rows]
    named = write_manifest(tmp_path, [(p, label, "x") for p, label, _ in rows],
                           header=("where", "what", "note"), name="named.csv")
    decoded = read("image", named, path_column="where", label_column="what")
    assert decoded["all"].labels == [label for _, label, _ in rows]
    image = decoded["all"].examples[0]
    assert image.shape == (8, 8, 1)


def test_a_split_column_gives_the_splits(tmp_path):
    decoded = read("image", write_manifest(tmp_path, image_files(tmp_path, per_class=(2, 1, 1))))
    assert {name: len(part) for name, part in decoded.items()} == {"train": 6, "val": 3, "test": 3}


def test_an_audio_manifest(tmp_path):
    import soundfile

    rows = []
    for i, frequency in enumerate((300, 300, 900, 900)):
        name = f"clip_{i}.wav"
        tone = np.sin(2 * np.pi * frequency * np.arange(4000) / 8000).astype("float32")
        soundfile.write(tmp_path / name, tone, 8000)
        rows.append((name, "low" if frequency == 300 else "high"))
    decoded = read("audio", write_manifest(tmp_path, rows, header=("audio", "label")))
    assert decoded["all"].labels == ["low", "low", "high", "high"]
    waveform, rate = decoded["all"].examples[2]
    assert rate == 8000 and len(waveform) == 4000


@pytest.mark.parametrize("rows, header, fragment", [
    ([("files/a.png", "x"), ("files/b.png", "y")], ("path", "label"), "2 files listed in"),
    ([("one.png", "x", "holdout")], ("path", "label", "split"), "unknown split 'holdout'"),
    ([("one.png", "")], ("path", "label"), "one.png has no label"),
    ([("one.png", "x", "y")], ("a", "b", "c"), "which column"),
])
def test_bad_manifests_are_one_line_errors(rows, header, fragment, tmp_path):
    Image.fromarray(np.zeros((8, 8), "uint8")).save(tmp_path / "one.png")
    manifest = write_manifest(tmp_path, rows, header=header)
    result = invoke("search", "--task", "image", "--data", manifest, "--out", tmp_path / "run")
    assert_one_line_error(result, fragment)
    assert not os.path.exists(tmp_path / "run" / "model")


@pytest.mark.parametrize("listed", ["../../etc/passwd", "/etc/passwd", "files/../../one.png"])
def test_a_path_outside_the_manifest_folder_is_refused_naming_its_row(listed, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(np.zeros((8, 8), "uint8")).save(tmp_path / "one.png")
    rows = [(p, label) for p, label, _ in image_files(data, per_class=(2, 1, 1))]
    manifest = write_manifest(data, rows[:2] + [(listed, "top")] + rows[2:], header=("path", "label"))
    result = invoke("search", "--task", "image", "--data", manifest, "--out", tmp_path / "run")
    assert_one_line_error(result, f"labels.csv line 4: {listed} is outside the manifest's folder",
                          "--allow-outside-paths")
    assert not (tmp_path / "run").exists()


def test_allow_outside_paths_reads_files_elsewhere(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(np.full((8, 8), 7, "uint8")).save(tmp_path / "one.png")
    Image.fromarray(np.full((8, 8), 9, "uint8")).save(tmp_path / "two.png")
    rows = [("../one.png", "top"), (str(tmp_path / "two.png"), "left")]
    manifest = write_manifest(data, rows, header=("path", "label"))
    decoded = read("image", manifest, allow_outside_paths=True)
    assert decoded["all"].ids == [name for name, _ in rows]
    assert [image.max() for image in decoded["all"].examples] == [7, 9]
    result = invoke("search", "--task", "image", "--help")
    assert "--allow-outside-paths" in result.output


def test_a_file_listed_twice_is_refused_naming_it_and_its_rows(tmp_path):
    rows = image_files(tmp_path, per_class=(2, 1, 1))
    twice = rows + [("./" + rows[0][0], rows[0][1], "test")]  # the same file, in test too
    result = invoke("search", "--task", "image", "--data", write_manifest(tmp_path, twice),
                    "--out", tmp_path / "run")
    assert_one_line_error(result, f"lists ./{rows[0][0]} twice (lines 2 and {len(rows) + 2})")


def test_an_empty_multilabel_cell_is_an_example_with_no_labels(tmp_path):
    from automl import registry
    from automl.settings import from_mapping

    rows = image_files(tmp_path, per_class=(4, 2, 2))
    cells = [(path, "" if i % 4 == 0 else f"{label}|{'top' if label != 'top' else 'left'}", split)
             for i, (path, label, split) in enumerate(rows)]
    manifest = write_manifest(tmp_path, cells)
    settings = from_mapping({"task": "image", "data": manifest, "out": "unused",
                             "cache_dir": str(tmp_path / "cache")})
    dataset = registry.get_task("image").load(settings)
    assert dataset.problem == "multilabel" and dataset.classes == ["bottom", "left", "top"]
    empty = [i for i, (_, cell, split) in enumerate(cells) if split == "train" and not cell]
    assert empty and (dataset.train.y.sum(axis=1) == 0).sum() == len(empty)
