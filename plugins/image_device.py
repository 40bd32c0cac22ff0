"""An image model rebuilt for LiteRT: one image at the training size, built-in ops only.

Keras' antialiased `Resizing` runs TensorFlow's `ScaleAndTranslate`, which LiteRT
has no kernel for. On a device the input has the training size, so a resize to
that size is left out and any other (to the searched resolution) becomes what it
is for a fixed input size: a linear map along each axis, two matrix products.
"""

import keras
import numpy as np


class FixedResize(keras.layers.Layer):
    """`Resizing` for one input size: `rows @ image @ columns.T`, matrices taken from it."""

    def __init__(self, resizing, **kwargs):
        super().__init__(**kwargs)
        self.resizing = resizing

    def build(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        self.rows = self._matrix(height, self.resizing.height)
        self.columns = self._matrix(width, self.resizing.width)

    def _matrix(self, source, target):
        """`[target, source]`: the resize of each unit vector along one axis."""
        import tensorflow as tf

        basis = np.eye(source, dtype="float32")[None, :, :, None]
        config = self.resizing.get_config()
        resized = tf.image.resize(basis, (target, source), method=config["interpolation"],
                                  antialias=config["antialias"])
        matrix = self.add_weight(shape=(target, source), initializer="zeros", trainable=False,
                                 name=f"resize_{source}_to_{target}")
        matrix.assign(np.asarray(resized)[0, :, :, 0])
        return matrix

    def call(self, images):
        ops = keras.ops
        x = ops.transpose(images, (0, 3, 1, 2))                    # N, C, H, W
        x = ops.matmul(x, ops.transpose(self.columns))             # N, C, H, w
        x = ops.matmul(ops.transpose(x, (0, 1, 3, 2)), ops.transpose(self.rows))  # N, C, w, h
        return ops.transpose(x, (0, 3, 2, 1))                      # N, h, w, C

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.resizing.height, self.resizing.width, input_shape[3])


def device_model(model, height, width, channels):
    """`model` on one `[1, height, width, channels]` image, its resizes fixed or left out."""
    inputs = keras.Input(shape=(height, width, channels), batch_size=1, name="inputs")
    outputs = _fixed(model, inputs)
    return keras.Model(inputs, outputs, name=f"{model.name}_device")


def _fixed(model, inputs):
    """`model(inputs)` with every `Resizing` inside it, nested models included, replaced."""

    def swap(layer):
        if isinstance(layer, keras.layers.Resizing):
            return _ResizeFor(layer)
        if isinstance(layer, keras.Model):
            return _NestedModel(layer)
        return layer

    clone = keras.models.clone_model(model, input_tensors=inputs, clone_function=swap)
    return clone.outputs[0]


class _ResizeFor(keras.layers.Layer):
    """Chooses, once the input size is known, between leaving a resize out and fixing it."""

    def __init__(self, resizing):
        super().__init__(name=resizing.name)
        self.resizing = resizing
        self.inner = None

    def build(self, input_shape):
        same = (input_shape[1], input_shape[2]) == (self.resizing.height, self.resizing.width)
        self.inner = keras.layers.Identity() if same else FixedResize(self.resizing)
        self.inner.build(input_shape)

    def call(self, images, **kwargs):
        return self.inner(images)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.resizing.height, self.resizing.width, input_shape[3])


class _NestedModel(keras.layers.Layer):
    """A model nested in another (a member, a test-time wrapper), rebuilt on its call's input."""

    def __init__(self, model):
        super().__init__(name=model.name)
        self.model = model
        self.rebuilt = None

    def build(self, input_shape):
        inputs = keras.Input(shape=input_shape[1:], batch_size=input_shape[0])
        self.rebuilt = keras.Model(inputs, _fixed(self.model, inputs))

    def call(self, images, **kwargs):
        return self.rebuilt(images)

    def compute_output_shape(self, input_shape):
        return self.model.compute_output_shape(input_shape)
