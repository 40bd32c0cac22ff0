"""An image model rebuilt for LiteRT: one image at the training size, built-in ops only.

Keras' antialiased `Resizing` runs TensorFlow's `ScaleAndTranslate`, which LiteRT
has no kernel for. On a device the input has the training size, so a resize to
that size is left out and any other (to the searched resolution) becomes what it
is for a fixed input size: a linear map along each axis, two matrix products.
"""

import keras
import numpy as np

from automl_plugins import keras_private


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
    """`model` on one `[1, height, width, channels]` image, its resizes fixed or left out.

    A test-time model (`ImageTask.test_time_model`) runs its network once on a
    batch of the image's copies and averages the answers: one copy of the network
    in the file, not one per copy.
    """
    inputs = keras.Input(shape=(height, width, channels), batch_size=1, name="inputs")
    test_time = _test_time_parts(model)
    if test_time is None:
        outputs = _fixed(model, inputs)[0]
    else:
        copies, network = test_time
        batch = keras.layers.Concatenate(axis=0, name="tta_batch")(_fixed(copies, inputs))
        answers = _rebuilt_for(network, batch.shape)(batch)
        outputs = keras.ops.mean(answers, axis=0, keepdims=True)
    return keras.Model(inputs, outputs, name=f"{model.name}_device")


def _test_time_parts(model):
    """`(copies, network)` of a test-time model: the model from its input to the
    image's copies, and the network it averages over them; None for other models."""
    if "tta_average" not in [layer.name for layer in model.layers]:
        return None
    answers = keras_private.call_inputs(model.get_layer("tta_average"))
    calls = [keras_private.call_of(answer) for answer in answers]  # (network, call index, 0)
    network = calls[0][0]
    copies = [keras_private.call_inputs(network, index)[0] for _, index, _ in calls]
    return keras.Model(model.input, copies), network


def _fixed(model, inputs):
    """The outputs of `model(inputs)` with every `Resizing` inside it, nested models
    included, replaced."""

    def swap(layer):
        if isinstance(layer, keras.layers.Resizing):
            return _BuiltForInput(layer, _resize_for)
        if isinstance(layer, keras.Model):
            return _BuiltForInput(layer, _rebuilt_for)
        return layer

    clone = keras.models.clone_model(model, input_tensors=inputs, clone_function=swap)
    return clone.outputs


def _resize_for(resizing, input_shape):
    """Nothing where the input already has the resize's size, else its fixed form."""
    same = (input_shape[1], input_shape[2]) == (resizing.height, resizing.width)
    return keras.layers.Identity() if same else FixedResize(resizing)


def _rebuilt_for(model, input_shape):
    """A nested model (a member, a test-time wrapper) rebuilt on its call's input."""
    inputs = keras.Input(shape=input_shape[1:], batch_size=input_shape[0])
    return keras.Model(inputs, _fixed(model, inputs)[0])


class _BuiltForInput(keras.layers.Layer):
    """Stands in for `layer`; `make(layer, input_shape)` gives what it computes once the
    input's static shape is known."""

    def __init__(self, layer, make):
        super().__init__(name=layer.name)
        self.layer, self.make, self.inner = layer, make, None

    def build(self, input_shape):
        self.inner = self.make(self.layer, input_shape)
        self.inner.build(input_shape)

    def call(self, images, **kwargs):
        return self.inner(images)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)
