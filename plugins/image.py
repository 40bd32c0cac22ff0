"""Image classification: plain, residual and depthwise-separable conv networks."""

import collections
import math

import numpy as np

import automl
from automl.transfer import backbones, fine_tuning, found_backbones
from automl_plugins import portfolio


BACKBONE_LAYER = "backbone"  # the pretrained body inside a model (`automl.transfer`)
JITTER_SIDE = 64      # smaller images are not jittered: every pixel matters
LOW_PASS_SIDE = 64    # smaller images are not low-passed: a 3x3 mean blurs their strokes away
JITTER_SHARE = 0.5    # share of training batches jittered
AUGMENT_SIDE = 28     # images this large are randomly translated by default
STRIDE_SIDE = 24      # images this large may start with a strided convolution
MIXUP_ALPHA = 0.2     # mixup's Beta(alpha, alpha) mixing weights
SHIFT_SIDE = 28       # test-time shifts move an image this many pixels wide by one pixel
MIRROR_KEPT = 0.8     # mirrored images keeping less of a model's skill than this: no flips
MIRROR_SKILL = 0.25   # share of the way from chance to perfect a model must be to judge that


def _as_channels_last(array):
    array = np.asarray(array)
    return array[..., None] if array.ndim == 2 else array


def _capped_array(value, max_side):
    """An `[H, W, C]` array scaled down so that its longest side is at most `max_side`."""
    from PIL import Image

    value = _as_channels_last(value)
    if max_side and max(value.shape[:2]) > max_side:
        mode = "L" if value.shape[-1] == 1 else "RGB"
        value = _as_channels_last(np.asarray(_capped(
            Image.fromarray(np.squeeze(value.astype("uint8")), mode), max_side)))
    return value


class ImageTask(automl.Task, automl.KnownGood, automl.TrialFeedback, automl.CostEstimate,
                automl.Augmentation, automl.TestTimeAugmentation, automl.OnDevice,
                automl.TrainingTwin):
    """Images (any size, grayscale or RGB) in, class probabilities out.

    Images are cached as uint8 at the most common training size (longest side at
    most `--max-image-size`); the model takes any size and resizes inside it.
    """

    name = "image"
    description = "Image classification: searched conv, residual and separable networks."
    default_epochs = 7
    default_batch_size = 32
    patience = 4
    file_extensions = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
    problem_types = ("classification", "multilabel", "regression")
    tfds_feature = "image"
    test_time_description = ("the image and its copies shifted right and down by about a "
                             "28th of its size (and its mirror image where flips trained), "
                             "averaged")
    options = (
        automl.Option("max_image_size", int, 256,
                      "Longest side of the cached images in pixels; larger images are "
                      "scaled down when the data is read.", minimum=8),
    ) + automl.MANIFEST_OPTIONS

    def __init__(self):
        self._statistics = None
        self._max_side = None
        self._train_size = 0
        self._backbones = {}

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
        return _capped_array(value, self._max_side)

    def decode_arrays(self, values, options):
        """Images from an `[N, H, W]` or `[N, H, W, C]` array or a list of `[H, W(, C)]` arrays.

        Values 0-255 are taken as they are; floats that all lie in [0, 1] are scaled
        to 0-255. Larger images are scaled down as `max_image_size` says.
        """
        images = [_as_channels_last(value) for value in values]
        for image in images:
            if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
                raise automl.AutomlError(
                    f"images must be [H, W] or [H, W, C] with 1, 3 or 4 channels, got "
                    f"shape {tuple(image.shape)}")
        if all(image.dtype.kind == "f" for image in images) and \
                max(float(np.max(image)) for image in images) <= 1.0:
            images = [image.astype("float32") * 255.0 for image in images]
        return [_capped_array(image[..., :3], options["max_image_size"]) for image in images]

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

    def load(self, settings):
        dataset = super().load(settings)
        self._train_size = len(dataset.train)
        self._backbones = {w.backbone: w for w in found_backbones(settings, "image")}
        return dataset

    def batch_size(self, hp):
        """Batches that keep two cores busy: larger on larger training splits (32 to 128)."""
        size = max(self._train_size, 1)
        return int(min(128, max(32, 2 ** math.floor(math.log2(max(size / 40, 1))))))

    def known_good(self, dataset):
        """The portfolio's configurations for this many images (`automl_plugins.portfolio`).

        Heavier configurations are tried only where the planner says the budget
        affords them, with flips where the first model showed that mirroring keeps
        the classes (`skip_reason`).
        """
        side = min(dataset.meta["height"], dataset.meta["width"]) if dataset else AUGMENT_SIDE
        train = len(dataset.train) if dataset else 0
        return self._backbone_configurations() + [
            {"image/translate": _default_translate(side), **values}
            for values in portfolio.configurations("image", train)]

    def trial_facts(self, hp, model, batches, labels):
        """How much of its skill a model trained without flips keeps on mirrored val images.

        `mirror_kept` is its accuracy on the mirrored images over its accuracy on
        the images, both above chance (always answering the commonest class).
        Mirroring keeps photographs of objects what they were: the model loses
        little. It turns most letters and digits into no letter or another one: the
        model loses most of what it got right. Nothing is recorded for a model
        trained with flips, or one less than `MIRROR_SKILL` of the way from chance
        to perfect (too weak to tell).
        """
        import tensorflow as tf

        if hp.values.get("image/flip"):
            return {}
        labels = np.asarray(labels)
        chance = np.bincount(labels).max() / len(labels)
        accuracy = np.mean(model.predict(batches, verbose=0).argmax(-1) == labels)
        if accuracy - chance < MIRROR_SKILL * (1 - chance):
            return {}
        mirrored = batches.map(lambda x, y: (tf.reverse(x, axis=[2]), y))
        kept = np.mean(model.predict(mirrored, verbose=0).argmax(-1) == labels)
        return {"mirror_kept": (kept - chance) / (accuracy - chance), "mirror_judge": accuracy}

    def skip_reason(self, values, trials):
        """Flips train only where mirrored images kept a trained model's skill.

        The judge is the most accurate model trained without flips so far (see
        `trial_facts`); until there is one, configurations with flips wait.
        """
        if not values.get("image/flip"):
            return None
        judged = [facts for _, facts in trials if "mirror_kept" in facts]
        if not judged:
            return ("flips wait for a model trained without them to show that mirrored "
                    "images keep their classes")
        kept = max(judged, key=lambda facts: facts["mirror_judge"])["mirror_kept"]
        if kept >= MIRROR_KEPT:
            return None
        return (f"mirrored validation images keep only {max(kept, 0):.0%} of what a model "
                f"trained without flips gets right above chance: left and right tell the "
                f"classes apart")

    def build(self, hp, inputs, dataset):
        from keras import layers

        meta = dataset.meta
        if self._backbones:
            name = hp.Choice("image/backbone", ["none", *self._backbones], default="none")
            if name != "none":
                with hp.conditional_scope("image/backbone", list(self._backbones)):
                    hp.Choice("image/backbone_rate", [0.1, 0.01], default=0.1)
                return self._backbone_body(hp, inputs, meta, name)
        side = min(meta["height"], meta["width"])
        x = layers.Resizing(meta["height"], meta["width"], antialias=True,
                            name="input_resize")(inputs)
        if side >= LOW_PASS_SIDE:
            # A 3x3 mean filter evens out the small blur that resizing adds to images
            # served at another resolution, so labels do not hinge on the finest detail.
            x = layers.AveragePooling2D(3, strides=1, padding="same", name="low_pass")(x)
        if max(meta["height"], meta["width"]) > 96:
            target = hp.Choice("image/resolution", [64, 96, 128], default=96)
            scale = target / max(meta["height"], meta["width"])
            height, width = (max(8, round(meta["height"] * scale)),
                             max(8, round(meta["width"] * scale)))
            x = layers.Resizing(height, width, antialias=True, name="resize")(x)
            side = min(height, width)
        x = layers.Rescaling(1.0 / 255.0, name="rescale")(x)
        if self._statistics is None or self._statistics[0] is not dataset:
            self._statistics = (dataset, *_channel_statistics(dataset.train))
        _, mean, variance = self._statistics
        x = layers.Normalization(mean=mean, variance=variance, name="normalize")(x)
        x = self._augmentation(hp, x, side)

        family = hp.Choice("image/family", ["plain", "resnet", "separable"], default="plain")
        filters = hp.Choice("image/filters", [16, 24, 32, 48, 64], default=32)
        growth = hp.Choice("image/growth", [1.5, 2.0], default=2.0)
        kernel = hp.Choice("image/kernel_size", [3, 5], default=3)
        stride = hp.Choice("image/stem_stride", [1, 2], default=1) if side >= STRIDE_SIDE else 1
        side //= stride
        max_stages = max(1, min(4, int(math.log2(max(side, 2))) - 1))
        stages = min(hp.Int("image/stages", 1, 4, default=2), max_stages)
        per_stage = hp.Int("image/layers_per_stage", 1, 3, default=2)
        pooling = hp.Choice("image/pooling", ["max", "avg"], default="max")

        x = _conv_bn_relu(layers, x, filters, kernel, name="stem", strides=stride)
        pool = layers.MaxPooling2D if pooling == "max" else layers.AveragePooling2D
        for stage in range(stages):
            if x.shape[1] > 2 and x.shape[2] > 2:
                x = pool(2, name=f"stage{stage + 1}_pool")(x)
            width = int(filters * growth ** (stage + 1))
            for index in range(per_stage):
                name = f"stage{stage + 1}_block{index + 1}"
                if family == "resnet":
                    x = _residual_block(layers, x, width, kernel, name)
                elif family == "separable":
                    x = _separable_block(layers, x, width, kernel, name)
                else:
                    x = _conv_bn_relu(layers, x, width, kernel, name)
        # Average pooling alone dilutes a feature that fires in one place (a corner, a
        # stroke end) over the whole map; the max keeps it, the average keeps texture.
        return layers.Concatenate(name="global_pool")([
            layers.GlobalAveragePooling2D(name="global_average")(x),
            layers.GlobalMaxPooling2D(name="global_max")(x)])

    def example_cost(self, hp, dataset, network):
        """The multiply-adds `automl.cost` counts on the network `build` makes, without building it."""
        element = automl.ELEMENT_COST
        values, meta = hp.values, dataset.meta
        name = values.get("image/backbone", "none")
        if backbones.is_hub(name):
            return super().example_cost(hp, dataset, network)
        if name != "none":
            family = backbones.IMAGE_FAMILIES[name]
            side = family.input_size
            augmentations = 1 + bool(values.get("image/translate")) + bool(values.get("image/flip"))
            return family.cost + augmentations * element * side * side * 3
        height, width, channels = meta["height"], meta["width"], meta["channels"]
        cost = element * height * width * channels  # the input resize
        if min(height, width) >= LOW_PASS_SIDE:
            cost += element * height * width * channels
        if max(height, width) > 96:
            scale = values.get("image/resolution", 96) / max(height, width)
            height, width = max(8, round(height * scale)), max(8, round(width * scale))
            cost += element * height * width * channels
        side = min(height, width)
        augmentations = 2 + bool(values.get("image/translate")) + bool(values.get("image/flip"))
        cost += augmentations * element * height * width * channels
        family = values.get("image/family", "plain")
        filters = values.get("image/filters", 32)
        kernel = values.get("image/kernel_size", 3) ** 2
        stride = values.get("image/stem_stride", 1) if side >= STRIDE_SIDE else 1
        side //= stride
        height, width = -(-height // stride), -(-width // stride)
        stages = min(values.get("image/stages", 2), max(1, min(4, int(math.log2(max(side, 2))) - 1)))
        area = height * width
        cost += area * filters * (kernel * channels + 2 * element)
        depth = filters
        for stage in range(stages):
            if height > 2 and width > 2:
                height, width = height // 2, width // 2
                area = height * width
                cost += element * area * depth
            out = int(filters * values.get("image/growth", 2.0) ** (stage + 1))
            for _ in range(values.get("image/layers_per_stage", 2)):
                if family == "resnet":
                    if depth != out:
                        cost += area * out * (depth + element)
                    cost += area * out * (kernel * depth + kernel * out + 5 * element)
                elif family == "separable":
                    cost += area * depth * (kernel + 2 * element)
                    cost += area * out * (depth + 2 * element)
                else:
                    cost += area * out * (kernel * depth + 2 * element)
                depth = out
        dropout = 1 if values.get("head/dropout", 0.2) else 0
        # Average and max pooling (depth each), their concatenation and its dropout
        # (twice depth each), then the head on twice depth features.
        features = 2 * depth
        return (cost + element * (features + features * (1 + dropout))
                + features * max(len(dataset.classes), 1) * 1.0)

    def training_model(self, hp, model, dataset):
        """A pretrained backbone trains frozen for an epoch under its new head, then at the
        searched share of the learning rate (`automl.transfer.fine_tuning`)."""
        if hp.values.get("image/backbone", "none") == "none":
            return None
        import keras

        return fine_tuning.training_twin(keras, model, BACKBONE_LAYER,
                                         hp.values.get("image/backbone_rate", 0.1))

    def _backbone_configurations(self):
        """Each pretrained backbone found, tried first: fine-tuned at a moderate rate."""
        return [{"image/backbone": name, "image/backbone_rate": 0.1, "image/translate": 0.1,
                 "image/flip": False, "image/mix": "none", "head/dropout": 0.2,
                 "optimizer/name": "adamw", "optimizer/learning_rate": 1e-3,
                 "optimizer/weight_decay": 1e-4, "optimizer/label_smoothing": 0.1,
                 "optimizer/schedule": "cosine"} for name in self._backbones]

    def _backbone_body(self, hp, inputs, meta, name):
        """A pretrained body on the raw images, resized to its size inside the model.

        keras.applications families scale pixels themselves (`include_preprocessing`);
        a KerasHub preset's image converter (scale, offset) becomes a Rescaling layer.
        The body runs in inference mode, so batch normalisation keeps its statistics.
        """
        import keras
        from keras import layers

        weights = self._backbones[name]
        if backbones.is_hub(name):
            body, converter = backbones.hub_backbone(weights.path)
            size = converter["image_size"] or (224, 224)
            height, width = (size, size) if isinstance(size, int) else size
        else:
            body = backbones.IMAGE_FAMILIES[name].build(keras, weights.path)
            height = width = backbones.IMAGE_FAMILIES[name].input_size
        body.name = BACKBONE_LAYER
        x = layers.Resizing(height, width, antialias=True, name="backbone_resize")(inputs)
        if meta["channels"] == 1:
            x = layers.Concatenate(name="backbone_rgb")([x, x, x])
        x = self._augmentation(hp, x, min(height, width))
        if backbones.is_hub(name):
            x = layers.Rescaling(converter["scale"], converter["offset"],
                                 name="backbone_scale")(x)
        x = body(x, training=False)
        pool = layers.GlobalAveragePooling2D if len(x.shape) == 4 else \
            layers.GlobalAveragePooling1D
        return pool(name="global_pool")(x)

    def augment(self, hp, x):
        """Resolution jitter on half the training batches (images of 64 pixels or more).

        Such a batch is scaled down by a random factor between 1 and 2 and back up, as
        an image served at another resolution is by the model's own resize, so the
        model answers alike at any size. Smaller images keep every pixel: on 32-pixel
        colour letters, jitter cost 2.4 points of validation accuracy.
        """
        import tensorflow as tf

        size = tf.shape(x)[1:3]

        def jitter():
            factor = tf.random.uniform([], 0.5, 1.0)
            smaller = tf.maximum(tf.cast(tf.cast(size, tf.float32) * factor, tf.int32), 1)
            return tf.image.resize(tf.image.resize(x, smaller, antialias=True), size)

        apply = tf.logical_and(tf.reduce_min(size) >= JITTER_SIDE,
                               tf.random.uniform([]) < JITTER_SHARE)
        return tf.cond(apply, jitter, lambda: x)

    def mix(self, hp, x, y):
        """Mixup or CutMix of training batches and their labels, where `image/mix` asks.

        Mixup (Zhang et al., 2018) blends each image with another of the batch;
        CutMix (Yun et al., 2019) pastes a box of another; labels mix in proportion.
        """
        import tensorflow as tf

        mode = hp.values.get("image/mix", "none")
        if mode == "none":
            return x, y
        partner = tf.random.shuffle(tf.range(tf.shape(x)[0]))
        other_x, other_y = tf.gather(x, partner), tf.gather(y, partner)
        if mode == "mixup":
            a = tf.random.gamma([], MIXUP_ALPHA)
            b = tf.random.gamma([], MIXUP_ALPHA)
            keep = tf.maximum(a / (a + b), b / (a + b))
            return keep * x + (1 - keep) * other_x, keep * y + (1 - keep) * other_y
        size = tf.shape(x)[1:3]
        share = tf.sqrt(tf.random.uniform([]))  # the box's side, as a share of the image's
        box = tf.cast(tf.cast(size, tf.float32) * share, tf.int32)
        top = tf.random.uniform([], 0, size[0] - box[0] + 1, dtype=tf.int32)
        left = tf.random.uniform([], 0, size[1] - box[1] + 1, dtype=tf.int32)
        rows = tf.logical_and(tf.range(size[0]) >= top, tf.range(size[0]) < top + box[0])
        columns = tf.logical_and(tf.range(size[1]) >= left, tf.range(size[1]) < left + box[1])
        inside = tf.cast(tf.logical_and(rows[:, None], columns[None, :]), x.dtype)[None, :, :, None]
        pasted = tf.reduce_mean(inside)
        return x * (1 - inside) + other_x * inside, (1 - pasted) * y + pasted * other_y

    device_input_type = "uint8"

    def device_model(self, model, meta, folder):
        """`model` on one image at the training size (`automl_plugins.image_device`)."""
        from automl_plugins.image_device import device_model

        return device_model(model, meta["height"], meta["width"], meta["channels"])

    def test_time_model(self, hp, model, meta):
        """`model` averaged over its input shifted by a pixel or two, and mirrored where flips trained.

        Built-in layers only: the shifts are circular (the column or row that leaves
        one side enters the other), the mirror a fixed anti-diagonal matrix on the
        width axis.
        """
        import keras
        from keras import layers

        height, width, channels = meta["height"], meta["width"], meta["channels"]
        step = max(1, round(min(height, width) / SHIFT_SIDE))
        inputs = keras.Input(shape=(None, None, channels), name="inputs")
        x = layers.Resizing(height, width, antialias=True, name="tta_resize")(inputs)
        variants = [x, _circular_shift(layers, x, step, axis=2, name="tta_right"),
                    _circular_shift(layers, x, step, axis=1, name="tta_down")]
        if hp.values.get("image/flip"):
            mirror = layers.Dense(width, use_bias=False, trainable=False, name="tta_mirror")
            flipped = mirror(layers.Permute((1, 3, 2), name="tta_width_last")(x))
            mirror.set_weights([np.eye(width, dtype="float32")[::-1]])
            variants.append(layers.Permute((1, 3, 2), name="tta_width_back")(flipped))
        outputs = layers.Average(name="tta_average")([model(v) for v in variants])
        return keras.Model(inputs, outputs, name=f"{model.name}_tta")

    def _augmentation(self, hp, x, side):
        from keras import layers

        shift = hp.Choice("image/translate", [0.0, 0.05, 0.1, 0.15],
                          default=_default_translate(side))
        flip = hp.Boolean("image/flip", default=False)
        hp.Choice("image/mix", ["none", "mixup", "cutmix"], default="none")
        if shift:
            x = layers.RandomTranslation(shift, shift, fill_mode="constant",
                                         name="augment_shift")(x)
        if flip:
            x = layers.RandomFlip("horizontal", name="augment_flip")(x)
        return x


def _circular_shift(layers, x, step, axis, name):
    """`x` shifted by `step` pixels along `axis` (1: down, 2: right), wrapping around."""
    size = x.shape[axis]
    if axis == 1:
        last, rest = ((size - step, 0), (0, 0)), ((0, step), (0, 0))
    else:
        last, rest = ((0, 0), (size - step, 0)), ((0, 0), (0, step))
    return layers.Concatenate(axis=axis, name=name)([
        layers.Cropping2D(last, name=f"{name}_wrap")(x),
        layers.Cropping2D(rest, name=f"{name}_rest")(x)])


def _default_translate(side):
    """Random translation is on by default for images of `AUGMENT_SIDE` pixels and more."""
    return 0.1 if side >= AUGMENT_SIDE else 0.0


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


def _conv_bn_relu(layers, x, filters, kernel, name, strides=1):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                      name=f"{name}_conv")(x)
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
