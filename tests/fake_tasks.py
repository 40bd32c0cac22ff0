"""Task doubles for tests: a tiny vector task that fails on chosen trials, one written
for plugin API 3.1 (its optional hooks plain methods), and an image task written from
the required part of the plugin API alone."""

import numpy as np
from PIL import Image

import automl


class VectorTask(automl.Task, automl.KnownGood):
    """Rows of four numbers in; `vectors/behaviour` makes a trial raise or diverge."""

    name = "vectors"
    description = "Test double: four-number rows."
    default_epochs = 2
    default_batch_size = 8

    def builtin_sources(self):
        return {"blobs": self._blobs}

    def _blobs(self, settings):
        rng = np.random.RandomState(0)
        rows = [rng.randn(4).astype("float32") + (3 if i % 2 else -3) for i in range(60)]
        return {"all": automl.LabelledExamples(rows, ["a" if i % 2 else "b" for i in range(60)])}

    def input_spec(self, meta):
        return (4,), "float32"

    def known_good(self, dataset):
        return [{"vectors/behaviour": b} for b in self.behaviours]

    behaviours = ("raise", "nan", "ok")

    def build(self, hp, inputs, dataset):
        from keras import layers

        behaviour = hp.Choice("vectors/behaviour", ["ok", "raise", "nan"], default="ok")
        hp.Int("vectors/width", 2, 64, default=8)
        if behaviour == "raise":
            raise RuntimeError("boom on purpose")
        x = layers.Dense(hp.get("vectors/width"), activation="relu")(inputs)
        if behaviour == "nan":
            x = layers.Rescaling(float("nan"))(x)
        return x


class AlwaysFailingTask(VectorTask):
    """Every trial diverges."""

    behaviours = ()

    def build(self, hp, inputs, dataset):
        from keras import layers

        x = layers.Dense(hp.Int("vectors/width", 2, 64, default=8), activation="relu")(inputs)
        return layers.Rescaling(float("nan"))(x)


class FutureTask(VectorTask):
    api_version = 99


class SteadyVectorTask(VectorTask):
    """Never fails: a searchable width and depth, for fast determinism checks."""

    behaviours = ()

    def build(self, hp, inputs, dataset):
        from keras import layers

        x = inputs
        for index in range(hp.Int("vectors/depth", 1, 3, default=1)):
            x = layers.Dense(hp.Int("vectors/width", 2, 64, default=8), activation="relu")(x)
        return x


class LegacyVectorTask(automl.Task):
    """Written for plugin API 3.1: `augment` and `known_good` by name, without mixins."""

    name = "legacy"
    api_version = "3.1"
    default_epochs = 1
    default_batch_size = 8
    calls = []  # the optional hooks the core called, by name

    builtin_sources = VectorTask.builtin_sources
    _blobs = VectorTask._blobs
    input_spec = VectorTask.input_spec

    def known_good(self, dataset):
        self.calls.append("known_good")
        return [{"vectors/width": 5}]

    def augment(self, hp, x):
        self.calls.append("augment")
        return x

    def build(self, hp, inputs, dataset):
        from keras import layers

        return layers.Dense(hp.Int("vectors/width", 2, 64, default=8), activation="relu")(inputs)


class ClassificationOnlyVectorTask(LegacyVectorTask):
    """Written for plugin API 2.5: loads for classification only."""

    api_version = "2.5"


class StrayHookTask(SteadyVectorTask):
    """Written for API 4.0, with an optional hook by name but not its mixin."""

    def augment(self, hp, x):
        return x


class PixelTask(automl.Task):
    """The complete example at the top of docs/plugins.md: the required part alone."""

    name = "pixels"                         # --task pixels
    description = "Grayscale images of one size: a small searched CNN."
    file_extensions = (".png",)
    default_epochs = 1                      # for the tests

    def decode_file(self, path):            # one raw example; raise for a corrupt file
        with Image.open(path) as image:
            return np.asarray(image.convert("L"), dtype="uint8")[..., None]

    def describe(self, train_examples, settings):   # facts that fix the input
        height, width, _ = train_examples[0].shape
        return {"height": int(height), "width": int(width)}

    def input_spec(self, meta):             # one raw example: shape and dtype
        return (meta["height"], meta["width"], 1), "float32"

    def build(self, hp, inputs, dataset):   # the searchable body: raw inputs -> features
        from keras import layers

        x = layers.Rescaling(1 / 255)(inputs)
        for _ in range(hp.Int("pixels/depth", 1, 3, default=2)):
            x = layers.Conv2D(hp.Choice("pixels/filters", [16, 32], default=16), 3,
                              padding="same", activation="relu")(x)
            x = layers.MaxPooling2D()(x)
        return layers.GlobalAveragePooling2D()(x)
