"""Keras's private names the built-in plugins use: where a layer was called (for the
on-device test-time model) and a TextVectorization layer's adapted IDF weights.

Supported: keras >=3.12,<4.
"""

from importlib import metadata

SUPPORTED = ">=3.12,<4"


def check():
    """Raise a RuntimeError naming the supported versions if a private name is gone."""
    import keras

    inputs = keras.Input((2,))
    dense = keras.layers.Dense(1)
    outputs = dense(inputs)
    vectorize = keras.layers.TextVectorization(output_mode="tf_idf")
    for owner, name in ((dense, "_inbound_nodes"), (outputs, "_keras_history"),
                        (vectorize, "_lookup_layer")):
        if not hasattr(owner, name):
            raise RuntimeError(
                f"keras {metadata.version('keras')} no longer has {type(owner).__name__}.{name}, "
                f"which the built-in plugins use: install keras{SUPPORTED}")


def call_inputs(layer, index=0):
    """The input tensors of the `index`-th call of `layer` in the functional graph."""
    return layer._inbound_nodes[index].input_tensors


def call_of(tensor):
    """`(layer, call index, output index)` of the call that produced `tensor`."""
    return tensor._keras_history


def idf_weights(vectorize):
    """The adapted IDF weights of a `TextVectorization` layer, special tokens first."""
    return vectorize._lookup_layer.idf_weights_const
