"""The image task's training recipe: cost formula, mixing, test-time mirror, batch size."""

import random

import numpy as np
import pytest


@pytest.fixture(scope="module")
def keras():
    from automl.runtime import env

    return env.import_tensorflow()[1]


def fake_dataset(height, width, channels, classes=3, count=16):
    from automl.data.sources import Dataset, Split

    rng = np.random.RandomState(0)
    split = Split(rng.randint(0, 255, (count, height, width, channels)).astype("uint8"),
                  np.arange(count) % classes)
    return Dataset([str(c) for c in range(classes)], split, split, split, "fake",
                   {"height": height, "width": width, "channels": channels})


@pytest.mark.parametrize("size", [(8, 8, 1), (28, 28, 1), (32, 32, 3), (120, 90, 3)])
def test_the_cost_formula_counts_what_the_built_network_holds(keras, size):
    import keras_tuner as kt

    from automl.cost import example_cost
    from automl.tuning.hypermodel import TaskHyperModel
    from automl_plugins.image import ImageTask

    task = ImageTask()
    dataset = fake_dataset(*size)
    hypermodel = TaskHyperModel(task, dataset, keras)
    rng = random.Random(sum(size))
    configurations = task.known_good(dataset.training_only()) + [
        {"image/family": rng.choice(["plain", "resnet", "separable"]),
         "image/filters": rng.choice([16, 24, 32, 48, 64]), "image/growth": rng.choice([1.5, 2.0]),
         "image/stages": rng.randint(1, 4), "image/layers_per_stage": rng.randint(1, 3),
         "image/kernel_size": rng.choice([3, 5]), "image/stem_stride": rng.choice([1, 2]),
         "image/translate": rng.choice([0.0, 0.1]), "image/flip": rng.random() < 0.5,
         "image/resolution": rng.choice([64, 96, 128]), "head/dropout": rng.choice([0.0, 0.2])}
        for _ in range(4)]
    for values in configurations:
        hp = kt.HyperParameters()
        hp.values.update(values)
        network = hypermodel.network(hp)
        assert task.example_cost(hp, dataset.training_only(), None) == pytest.approx(
            example_cost(network))
        # A 3x3 mean filter would blur away the strokes of small images.
        low_pass = "low_pass" in [layer.name for layer in network.layers]
        assert low_pass == (min(size[:2]) >= 64)


def test_the_first_known_good_network_costs_about_the_keras_example_convnet(keras):
    import keras_tuner as kt

    from automl.cost import example_cost
    from automl_plugins.image import ImageTask

    task = ImageTask()
    dataset = fake_dataset(28, 28, 1, classes=10)
    first, *rest = task.known_good(dataset)
    hp = kt.HyperParameters()
    hp.values.update(first)
    ours = task.example_cost(hp, dataset, None)
    layers = keras.layers
    example = keras.Sequential([
        keras.Input((28, 28, 1)), layers.Rescaling(1 / 255),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dropout(0.5), layers.Dense(10, activation="softmax")])
    # Three stages on 28 pixels (the last sees the whole image) cost a fifth more
    # than the example's two valid convolutions, and no more than that.
    assert ours <= 1.25 * example_cost(example)
    assert first["image/stages"] >= 3
    assert first["image/translate"] == 0.1  # augmentation is on at 28 pixels
    costs = []
    for values in rest:
        hp = kt.HyperParameters()
        hp.values.update(values)
        costs.append(task.example_cost(hp, dataset, None))
    assert min(costs) >= ours  # heavier ones come after it


def test_only_images_of_64_pixels_or_more_are_jittered(keras):
    import keras_tuner as kt
    import tensorflow as tf

    from automl_plugins.image import JITTER_SIDE, ImageTask

    task, hp = ImageTask(), kt.HyperParameters()
    rng = np.random.RandomState(0)
    changed = {}
    for side in (32, JITTER_SIDE):
        x = tf.constant(rng.rand(4, side, side, 3).astype("float32"))
        tf.random.set_seed(0)
        outputs = [task.augment(hp, x).numpy() for _ in range(20)]
        assert all(out.shape == x.shape for out in outputs)
        changed[side] = sum(not np.allclose(out, x.numpy()) for out in outputs)
    assert changed[32] == 0            # small images keep every pixel
    assert 3 <= changed[JITTER_SIDE] <= 17  # about half the batches are scaled down and up


@pytest.mark.parametrize("mode", ["mixup", "cutmix"])
def test_mixing_blends_images_and_their_labels_alike(keras, mode):
    import keras_tuner as kt
    import tensorflow as tf

    from automl_plugins.image import ImageTask

    hp = kt.HyperParameters()
    hp.values["image/mix"] = mode
    tf.random.set_seed(1)
    # Image k is all k: a mixed image's mean tells how much of each it holds.
    x = tf.constant(np.arange(8, dtype="float32")[:, None, None, None] * np.ones((8, 6, 6, 1),
                                                                              "float32"))
    y = tf.one_hot(tf.range(8), 8)
    mixed_x, mixed_y = ImageTask().mix(hp, x, y)
    mixed_x, mixed_y = mixed_x.numpy(), mixed_y.numpy()
    np.testing.assert_allclose(mixed_y.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(mixed_x.mean(axis=(1, 2, 3)), mixed_y @ np.arange(8), atol=1e-4)
    assert (mixed_y.max(axis=1) < 1).any()  # something was mixed
    hp.values["image/mix"] = "none"
    same_x, same_y = ImageTask().mix(hp, x, y)
    assert same_x is x and same_y is y


def test_test_time_augmentation_averages_shifted_and_mirrored_copies(keras):
    import keras_tuner as kt

    from automl_plugins.image import ImageTask

    inputs = keras.Input((None, None, 1))
    resized = keras.layers.Resizing(4, 6)(inputs)
    # A "model" that answers with its input's pixels: the average shows the copies.
    model = keras.Model(inputs, keras.layers.Flatten()(resized))
    meta = {"height": 4, "width": 6, "channels": 1}
    image = np.arange(24, dtype="float32").reshape(1, 4, 6, 1)
    right, down = np.roll(image, 1, axis=2), np.roll(image, 1, axis=1)
    hp = kt.HyperParameters()
    hp.values["image/flip"] = False
    wrapped = ImageTask().test_time_model(hp, model, meta)
    expected = (image + right + down) / 3
    np.testing.assert_allclose(np.asarray(wrapped(image)), expected.reshape(1, -1), atol=1e-4)
    hp.values["image/flip"] = True
    wrapped = ImageTask().test_time_model(hp, model, meta)
    expected = (image + right + down + image[:, :, ::-1]) / 4
    np.testing.assert_allclose(np.asarray(wrapped(image)), expected.reshape(1, -1), atol=1e-4)
    # Any input size: the copies are made at the training size.
    assert np.asarray(wrapped(np.zeros((2, 9, 7, 1), "float32"))).shape == (2, 24)


def test_batches_grow_with_the_training_split():
    from automl_plugins.image import ImageTask

    task = ImageTask()
    sizes = {}
    for train in (100, 1300, 5000, 17000, 60000):
        task._train_size = train
        sizes[train] = task.batch_size(None)
    assert sizes == {100: 32, 1300: 32, 5000: 64, 17000: 128, 60000: 128}


class AnswersByBrighterHalf:
    """A "model" that tells classes apart by which half of the image is brighter:
    left/right (`axis=2`: mirroring swaps the answers) or top/bottom (`axis=1`)."""

    def __init__(self, axis):
        self.axis = axis

    def predict(self, batches, verbose=0):
        answers = []
        for x, _ in batches:
            first, second = np.split(x.numpy(), 2, axis=self.axis)
            right = second.mean(axis=(1, 2, 3)) > first.mean(axis=(1, 2, 3))
            answers.append(np.eye(2)[right.astype(int)])
        return np.concatenate(answers)


def halves_batches(axis):
    import tensorflow as tf

    x = np.zeros((40, 8, 8, 1), "float32")
    labels = np.arange(40) % 2
    for i, label in enumerate(labels):
        index = [slice(None)] * 3
        index[axis - 1] = slice(4 * label, 4 * label + 4)
        x[i][tuple(index)] = 200.0
    return tf.data.Dataset.from_tensor_slices((x, labels)).batch(16), labels


@pytest.mark.parametrize("axis, kept", [(2, -1.0), (1, 1.0)])
def test_a_trained_model_judges_whether_mirroring_keeps_the_classes(keras, axis, kept):
    import keras_tuner as kt

    from automl_plugins.image import ImageTask

    task = ImageTask()
    hp = kt.HyperParameters()
    hp.values["image/flip"] = False
    batches, labels = halves_batches(axis)
    facts = task.trial_facts(hp, AnswersByBrighterHalf(axis), batches, labels)
    assert facts["mirror_kept"] == pytest.approx(kept)  # left/right swap, top/bottom stay
    assert facts["mirror_judge"] == 1.0
    hp.values["image/flip"] = True  # a model trained with flips judges nothing
    assert task.trial_facts(hp, AnswersByBrighterHalf(axis), batches, labels) == {}


def test_a_model_near_chance_does_not_judge_mirroring(keras):
    import keras_tuner as kt

    from automl_plugins.image import ImageTask

    hp = kt.HyperParameters()
    batches, labels = halves_batches(2)
    # Judged by top and bottom, left and right classes look random: accuracy 0.5.
    assert ImageTask().trial_facts(hp, AnswersByBrighterHalf(1), batches, labels) == {}


def test_flips_train_only_where_mirrored_images_kept_the_best_judges_skill():
    from automl_plugins.image import ImageTask

    task = ImageTask()
    flip, plain = {"image/flip": True}, {"image/flip": False}
    assert task.skip_reason(plain, []) is None
    assert "wait" in task.skip_reason(flip, [(plain, {})])  # no judge yet
    letters = [(plain, {"mirror_kept": 0.95, "mirror_judge": 0.4}),
               (plain, {"mirror_kept": 0.3, "mirror_judge": 0.8}), (flip, {})]
    reason = task.skip_reason(flip, letters)
    assert "30%" in reason and "left and right" in reason
    photos = [(plain, {"mirror_kept": 0.5, "mirror_judge": 0.4}),
              (plain, {"mirror_kept": 0.9, "mirror_judge": 0.8})]
    assert task.skip_reason(flip, photos) is None
