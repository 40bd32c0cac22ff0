"""Image classification: plain, residual and depthwise-separable conv networks."""

import collections
import math

import numpy as np

import automl


SMALL_SIDE = 32       # smaller images are neither jittered nor low-passed: every pixel matters
JITTER_SHARE = 0.5    # share of training batches jittered


def _as_channels_last(array):
    array = np.asarray(array)
    return array[..., None] if array.ndim == 2 else array


class ImageTask(automl.Task):
    """Images (any size, grayscale or RGB) in, class probabilities out.

    Images are cached as uint8 at the most common training size (longest side at
    most `--max-image-size`); the model takes any size and resizes inside it.
    """

    name = "image"
    description = "Image classification: searched conv, residual and separable networks."
    default_epochs = 20
    default_batch_size = 32
    patience = 4
    file_extensions = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
    tfds_feature = "image"
    options = (
        automl.Option("max_image_size", int, 256,
                      "Longest side of the cached images in pixels; larger images are "
                      "scaled down when the data is read.", minimum=8),
    )

    def __init__(self):
        self._statistics = None
        self._max_side = None

    # Data --------------------------------------------------------------------

    def read_source(self, settings):
        self._max_side = settings.options["max_image_size"]
        return super().read_source(settings)

    def builtin_sources(self):
        return {"digits": self._digits}

    def _digits(self, settings):
        """scikit-learn's bundled 8x8 digits, as 0..255 grayscale images."""
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = [np.round(image * (255.0 / 16.0)).astype("uint8")[..., None]
                  for image in digits.images]
        labels = [f"digit{k}" for k in digits.target]
        return {"all": automl.LabelledExamples(images, labels)}

    def decode_file(self, path):
        from PIL import Image

        with Image.open(path) as image:
            image.load()
            image = _capped(image, self._max_side)
            if image.mode in ("L", "LA", "1", "I", "I;16", "F"):
                array = np.asarray(image.convert("L"))
            else:
                array = np.asarray(image.convert("RGB"))
        return _as_channels_last(array)

    def decode_tfds(self, value):
        from PIL import Image

        value = _as_channels_last(value)
        if self._max_side and max(value.shape[:2]) > self._max_side:
            mode = "L" if value.shape[-1] == 1 else "RGB"
            value = _as_channels_last(np.asarray(_capped(
                Image.fromarray(np.squeeze(value.astype("uint8")), mode), self._max_side)))
        return value

    def describe(self, train_examples, settings):
        """The most common channel count and image size (longest side capped)."""
        channels = collections.Counter(int(e.shape[-1]) for e in train_examples)
        sizes = collections.Counter((int(e.shape[0]), int(e.shape[1])) for e in train_examples)
        (height, width), _ = sizes.most_common(1)[0]
        cap = settings.options["max_image_size"]
        if max(height, width) > cap:
            scale = cap / max(height, width)
            height, width = max(1, round(height * scale)), max(1, round(width * scale))
        return {"height": height, "width": width,
                "channels": channels.most_common(1)[0][0]}

    def prepare(self, examples, meta):
        size = (meta["height"], meta["width"])
        stacked = np.empty((len(examples), *size, meta["channels"]), dtype="uint8")
        for i, example in enumerate(examples):
            stacked[i] = self.fit_to_input(example, meta)
        return stacked

    def fit_to_input(self, example, meta):
        """One decoded image at the training size and channel count, as uint8."""
        from PIL import Image

        example = _as_channels_last(example)
        channels = meta["channels"]
        if example.shape[-1] != channels:
            if channels == 1:
                example = example[..., :3].mean(axis=-1, keepdims=True)
            else:
                example = np.repeat(example[..., :1], 3, axis=-1)
        example = np.clip(np.round(example), 0, 255).astype("uint8")
        if example.shape[:2] != (meta["height"], meta["width"]):
            mode = "L" if channels == 1 else "RGB"
            image = Image.fromarray(np.squeeze(example, axis=-1) if channels == 1 else example,
                                    mode)
            example = _as_channels_last(np.asarray(
                image.resize((meta["width"], meta["height"]), Image.BILINEAR)))
        return example

    def input_spec(self, meta):
        """Images of any height and width; the model resizes them to the training size."""
        return (None, None, meta["channels"]), "float32"

    # Search space --------------------------------------------------------------

    def known_good(self, dataset):
        common = {"image/layers_per_stage": 2, "image/kernel_size": 3, "image/pooling": "max",
                  "optimizer/name": "adam", "optimizer/learning_rate": 1e-3,
                  "head/dropout": 0.3}
        return [
            {**common, "image/family": "plain", "image/filters": 32, "image/growth": 2.0,
             "image/augment": "none"},
            {**common, "image/family": "resnet", "image/filters": 32, "image/growth": 2.0,
             "image/augment": "light"},
            {**common, "image/family": "separable", "image/filters": 64, "image/growth": 1.5,
             "image/augment": "none"},
        ]

    def build(self, hp, inputs, dataset):
        from keras import layers

        meta = dataset.meta
        side = min(meta["height"], meta["width"])
        x = layers.Resizing(meta["height"], meta["width"], name="input_resize")(inputs)
        if side >= SMALL_SIDE:
            # A 3x3 mean filter evens out the small blur that resizing adds to images
            # served at another resolution, so labels do not hinge on the finest detail.
            x = layers.AveragePooling2D(3, strides=1, padding="same", name="low_pass")(x)
        if max(meta["height"], meta["width"]) > 96:
            target = hp.Choice("image/resolution", [64, 96, 128], default=96)
            scale = target / max(meta["height"], meta["width"])
            height, width = (max(8, round(meta["height"] * scale)),
                             max(8, round(meta["width"] * scale)))
            x = layers.Resizing(height, width, name="resize")(x)
            side = min(height, width)
        x = layers.Rescaling(1.0 / 255.0, name="rescale")(x)
        if self._statistics is None or self._statistics[0] is not dataset:
            self._statistics = (dataset, *_channel_statistics(dataset.train))
        _, mean, variance = self._statistics
        x = layers.Normalization(mean=mean, variance=variance, name="normalize")(x)
        x = self._augmentation(hp, x)

        family = hp.Choice("image/family", ["plain", "resnet", "separable"], default="plain")
        max_stages = max(1, min(4, int(math.log2(max(side, 2))) - 1))
        stages = hp.Int("image/stages", 1, 4, default=3)
        stages = min(stages, max_stages)
        per_stage = hp.Int("image/layers_per_stage", 1, 3, default=2)
        filters = hp.Choice("image/filters", [16, 32, 64], default=32)
        growth = hp.Choice("image/growth", [1.0, 1.5, 2.0], default=2.0)
        kernel = hp.Choice("image/kernel_size", [3, 5], default=3)
        pooling = hp.Choice("image/pooling", ["max", "avg"], default="max")

        x = _conv_bn_relu(layers, x, filters, kernel, name="stem")
        for stage in range(stages):
            width = int(filters * growth**stage)
            for index in range(per_stage):
                name = f"stage{stage + 1}_block{index + 1}"
                if family == "resnet":
                    x = _residual_block(layers, x, width, kernel, name)
                elif family == "separable":
                    x = _separable_block(layers, x, width, kernel, name)
                else:
                    x = _conv_bn_relu(layers, x, width, kernel, name)
            if stage < stages - 1 and x.shape[1] > 2 and x.shape[2] > 2:
                pool = layers.MaxPooling2D if pooling == "max" else layers.AveragePooling2D
                x = pool(2, name=f"stage{stage + 1}_pool")(x)
        return layers.GlobalAveragePooling2D(name="global_pool")(x)

    def augment(self, hp, x):
        """Resolution jitter on half the training batches (images of 32 pixels or more).

        Such a batch is scaled down by a random factor between 1 and 2 and back up, as
        an image served at another resolution is by the model's own resize, so the
        model answers alike at any size.
        """
        import tensorflow as tf

        size = tf.shape(x)[1:3]

        def jitter():
            factor = tf.random.uniform([], 0.5, 1.0)
            smaller = tf.maximum(tf.cast(tf.cast(size, tf.float32) * factor, tf.int32), 1)
            return tf.image.resize(tf.image.resize(x, smaller, antialias=True), size)

        apply = tf.logical_and(tf.reduce_min(size) >= SMALL_SIDE,
                               tf.random.uniform([]) < JITTER_SHARE)
        return tf.cond(apply, jitter, lambda: x)

    def _augmentation(self, hp, x):
        from keras import layers

        mode = hp.Choice("image/augment", ["none", "light", "flip"], default="none")
        if mode == "none":
            return x
        x = layers.RandomRotation(0.05, fill_mode="constant", name="augment_rotate")(x)
        x = layers.RandomZoom(0.1, fill_mode="constant", name="augment_zoom")(x)
        x = layers.RandomTranslation(0.08, 0.08, fill_mode="constant", name="augment_shift")(x)
        if mode == "flip":
            x = layers.RandomFlip("horizontal", name="augment_flip")(x)
        return x


def _channel_statistics(split):
    """Per-channel mean and variance of a split's images after rescaling to 0..1."""
    count, total, squares = 0, 0.0, 0.0
    for batch in split.batches(1024):
        scaled = batch.astype("float64") / 255.0
        count += scaled.shape[0] * scaled.shape[1] * scaled.shape[2]
        total = total + scaled.sum(axis=(0, 1, 2))
        squares = squares + (scaled**2).sum(axis=(0, 1, 2))
    mean = total / count
    return mean.astype("float32"), np.maximum(squares / count - mean**2, 0.0).astype("float32")


def _capped(image, max_side):
    """A PIL image scaled down so that its longest side is at most `max_side`."""
    from PIL import Image

    if not max_side or max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB" if image.mode not in ("LA", "1", "I", "I;16", "F") else "L")
    return image.resize(size, Image.BILINEAR)


def _conv_bn_relu(layers, x, filters, kernel, name):
    x = layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _residual_block(layers, x, filters, kernel, name):
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(momentum=0.9, name=f"{name}_proj_bn")(shortcut)
    y = _conv_bn_relu(layers, x, filters, kernel, f"{name}_a")
    y = layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=f"{name}_b_conv")(y)
    y = layers.BatchNormalization(momentum=0.9, name=f"{name}_b_bn")(y)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.ReLU(name=f"{name}_out")(y)


def _separable_block(layers, x, filters, kernel, name):
    x = layers.DepthwiseConv2D(kernel, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_dw_bn")(x)
    x = layers.ReLU(name=f"{name}_dw_relu")(x)
    return _conv_bn_relu(layers, x, filters, 1, f"{name}_pw")
