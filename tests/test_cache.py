"""The data cache: decoded once, streamed, reused, capped, and split by group."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from automl.data.cache import MARKER
from automl.runtime.permissions import umask
from conftest import assert_one_line_error, invoke, write_image_folder


def _settings(data, tmp_path, **extra):
    from automl.settings import from_mapping

    return from_mapping({"task": "image", "data": str(data), "out": str(tmp_path / "unused"),
                         "cache_dir": str(tmp_path / "cache"), **extra})


def _counting_task(monkeypatch):
    from automl_plugins.image import ImageTask

    task = ImageTask()
    calls = []
    decode = task.decode_file
    monkeypatch.setattr(task, "decode_file", lambda path: calls.append(path) or decode(path))
    return task, calls


def test_a_folder_is_decoded_once_then_streamed_from_the_cache(tmp_path, monkeypatch):
    from automl.data.cache import CachedExamples

    data = write_image_folder(tmp_path / "data")
    task, calls = _counting_task(monkeypatch)
    first = task.load(_settings(data, tmp_path))
    assert isinstance(first.train.x, CachedExamples)  # nothing held in memory
    files = sum(len(files) for _, _, files in os.walk(data))
    assert len(calls) >= files  # every file decoded (and a sample twice, for `describe`)
    calls.clear()
    again = task.load(_settings(data, tmp_path))
    assert calls == []  # reused, not decoded again
    assert again.train.ids == first.train.ids
    np.testing.assert_array_equal(again.train.head(100), first.train.head(100))
    assert first.train.head(100).dtype == np.uint8
    cached = [name for name in os.listdir(tmp_path / "cache")]
    assert len(cached) == 1 and os.path.isfile(tmp_path / "cache" / cached[0] / "index.json")
    mode = os.stat(tmp_path / "cache" / cached[0]).st_mode & 0o777
    assert mode == 0o777 & ~umask()  # as mkdir makes it, not tempfile's 0700

    os.utime(os.path.join(data, "train", "top", "top_0.png"), ns=(1, 1))
    task.load(_settings(data, tmp_path))
    assert calls  # a changed file makes a new cache
    assert len(os.listdir(tmp_path / "cache")) == 2


def test_the_cache_matches_the_decoded_files_in_order(tmp_path):
    from automl_plugins.image import ImageTask

    data = write_image_folder(tmp_path / "data")
    dataset = ImageTask().load(_settings(data, tmp_path))
    images = np.concatenate(list(dataset.test.batches(5)))
    for image, example_id in zip(images, dataset.test.ids):
        pixels = np.asarray(Image.open(os.path.join(data, example_id)))
        np.testing.assert_array_equal(image[..., 0], pixels)
    labels = [dataset.classes[i] for i in dataset.test.y]
    assert labels == [example_id.split(os.sep)[1] for example_id in dataset.test.ids]


def test_an_undecodable_file_leaves_no_cache_behind(tmp_path):
    from automl.errors import AutomlError
    from automl_plugins.image import ImageTask

    data = write_image_folder(tmp_path / "data")
    with open(os.path.join(data, "test", "top", "broken.png"), "wb") as handle:
        handle.write(b"not a png")
    with pytest.raises(AutomlError, match="broken.png"):
        ImageTask().load(_settings(data, tmp_path))
    assert os.listdir(tmp_path / "cache") == []


def test_large_images_are_capped_and_served_at_any_size(tmp_path):
    from automl_plugins.image import ImageTask

    data = tmp_path / "data"
    rng = np.random.RandomState(0)
    for label, row in (("a", slice(0, 20)), ("b", slice(20, 40))):
        os.makedirs(data / label)
        for i in range(8):
            pixels = rng.randint(0, 40, size=(40, 60, 3)).astype("uint8")
            pixels[row] = 230
            Image.fromarray(pixels).save(data / label / f"{i}.png")
    small = write_image_folder(tmp_path / "small")
    task = ImageTask()
    dataset = task.load(_settings(data, tmp_path, max_image_size=24))
    assert (dataset.meta["height"], dataset.meta["width"]) == (16, 24)
    assert dataset.train.head(2).shape[1:] == (16, 24, 3)
    untouched = task.load(_settings(small, tmp_path, max_image_size=24))
    assert (untouched.meta["height"], untouched.meta["width"]) == (8, 8)
    assert task.input_spec(dataset.meta) == ((None, None, 3), "float32")


def test_feeds_stream_with_a_bounded_shuffle_buffer(tmp_path):
    import tensorflow as tf

    from automl.data import feeds as feeds_lib
    from automl_plugins.image import ImageTask

    data = write_image_folder(tmp_path / "data")
    task = ImageTask()
    dataset = task.load(_settings(data, tmp_path))
    feeds = feeds_lib.Feeds(task, dataset, 0, tf)
    batches = list(feeds.pipeline("train+val", None, 4, training=False))
    x = np.concatenate([b[0].numpy() for b in batches])
    assert x.dtype == np.float32 and len(x) == len(dataset.train) + len(dataset.val)
    np.testing.assert_array_equal(x[:len(dataset.train)], np.concatenate(
        list(dataset.train.batches(64))).astype("float32"))
    assert feeds.count("train", 0.5) == len(list(feeds.source("train", 0.5)[0]))
    big = 1 << 20  # a megabyte per example: the buffer holds at most SHUFFLE_BYTES of them
    dataset.train.x.shape = (big,)
    assert feeds.shuffle_buffer("train", 100_000) == feeds_lib.SHUFFLE_BYTES // big == 64
    dataset.train.x.shape = (256, 256, 3)  # 192 KiB photos: 341 fit in 64 MiB
    assert feeds.shuffle_buffer("train", 2_000) == 341
    dataset.train.x.shape = (10,)
    assert feeds.shuffle_buffer("train", 500) == 500


def test_pipelines_run_without_the_autotuning_thread(tmp_path):
    """Destroying an autotuned iterator waits for its tuning thread (epochs stalled)."""
    import keras_tuner as kt
    import tensorflow as tf

    from automl.data import feeds as feeds_lib
    from automl_plugins.image import ImageTask

    data = write_image_folder(tmp_path / "data")
    task = ImageTask()
    dataset = task.load(_settings(data, tmp_path))
    feeds = feeds_lib.Feeds(task, dataset, 0, tf)
    assert dataset.train.stream().options().autotune.enabled is False
    for training in (True, False):
        pipeline = feeds.pipeline("train", kt.HyperParameters(), 4, training=training)
        assert pipeline.options().autotune.enabled is False


def test_group_by_keeps_each_group_in_one_split(tmp_path):
    data = tmp_path / "data"
    rng = np.random.RandomState(0)
    for label in ("left", "top"):
        os.makedirs(data / label)
        for speaker in range(12):
            for take in range(3):
                pixels = rng.randint(0, 40, size=(8, 8)).astype("uint8")
                pixels[:, :4] = 230 if label == "left" else pixels[:, :4]
                pixels[:4] = 230 if label == "top" else pixels[:4]
                Image.fromarray(pixels).save(data / label / f"spk{speaker}_{label}_{take}.png")
    from automl_plugins.image import ImageTask

    dataset = ImageTask().load(_settings(data, tmp_path, group_by="^[^_]+"))
    speakers = {name: {os.path.basename(i).split("_")[0] for i in dataset.split(name).ids}
                for name in ("train", "val", "test")}
    assert speakers["train"] and speakers["val"] and speakers["test"]
    assert not speakers["train"] & speakers["val"]
    assert not speakers["train"] & speakers["test"]
    assert not speakers["val"] & speakers["test"]

    result = invoke("search", "--task", "image", "--data", data, "--out", tmp_path / "run",
                    "--group-by", "^zzz", "--max-trials", 1, "--epochs", 1)
    assert_one_line_error(result, "--group-by '^zzz' does not match the file name")
    result = invoke("search", "--task", "image", "--data", data, "--out", tmp_path / "run",
                    "--group-by", "(", "--max-trials", 1, "--epochs", 1)
    assert_one_line_error(result, "malformed --group-by")
    assert not (tmp_path / "run").exists()


def test_tfds_sets_stream_into_the_cache(tmp_path):
    import tensorflow_datasets as tfds

    from automl.data.cache import CachedExamples
    from automl_plugins.image import ImageTask

    with tfds.testing.mock_data(num_examples=20):
        dataset = ImageTask().load(_settings("tfds:mnist", tmp_path))
    assert isinstance(dataset.train.x, CachedExamples)
    total = len(dataset.train) + len(dataset.val) + len(dataset.test)
    assert total == 40  # mock train and test, val carved from train
    index = json.load(open(next((tmp_path / "cache").glob("*/index.json"))))
    assert index["splits"]["val"]["ids"][0].startswith("train:")


def test_cache_list_and_clean_see_and_reclaim_the_cache(tmp_path):
    import time

    from automl_plugins.image import ImageTask

    data = write_image_folder(tmp_path / "data")
    ImageTask().load(_settings(data, tmp_path))
    cache = tmp_path / "cache"
    (cache / "leftover.abc").mkdir()  # an interrupted write
    (cache / "leftover.abc" / MARKER).write_text("")
    (cache / "leftover.abc" / "shard").write_bytes(b"x" * 10)
    for foreign in ("runs/image-1/model", "notes"):  # not written by the cache
        (cache / foreign).mkdir(parents=True)
        (cache / foreign / "index.json").write_text("{}")
    month_ago = time.time() - 40 * 86400
    os.utime(cache / "notes", (month_ago, month_ago))
    result = invoke("cache", "list", "--cache-dir", cache, "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    complete = [e for e in listed if e["task"] == "image"]
    assert len(listed) == 2 and len(complete) == 1
    assert complete[0]["source"] == str(data) and complete[0]["size_bytes"] > 1000
    assert "incomplete write" in invoke("cache", "list", "--cache-dir", cache).output
    os.utime(cache / "leftover.abc", (month_ago, month_ago))
    assert_one_line_error(invoke("cache", "clean", "--cache-dir", cache), "--older-than", "--all")
    result = invoke("cache", "clean", "--cache-dir", cache, "--older-than", "30d")
    assert result.exit_code == 0 and "removed 1 folder" in result.output
    assert [e["task"] for e in json.loads(invoke("cache", "list", "--cache-dir", cache,
                                                 "--json").stdout)] == ["image"]
    result = invoke("cache", "clean", "--cache-dir", cache, "--all")
    assert result.exit_code == 0 and "removed 1 folder" in result.output
    assert sorted(os.listdir(cache)) == ["notes", "runs"]
    assert os.path.isdir(cache / "runs" / "image-1" / "model")


def test_the_umask_is_read_without_changing_it(tmp_path, monkeypatch):
    from automl.runtime import permissions

    expected = umask()
    monkeypatch.setattr(permissions, "PROC_STATUS", str(tmp_path / "no-such-file"))
    monkeypatch.setattr(os, "umask", lambda mask: pytest.fail("the umask was changed"))
    assert permissions.umask() == expected
