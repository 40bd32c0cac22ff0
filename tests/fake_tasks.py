"""Task doubles for tests: a tiny vector task that fails on chosen trials."""

import numpy as np

import automl


class VectorTask(automl.Task):
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
