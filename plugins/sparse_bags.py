"""Training twins of bag-of-n-gram models: the same weights, fed sparse bags.

A bag model's `TextVectorization` layer turns each text into a dense vector as wide
as the vocabulary, so a batch of 128 texts over 50,000 n-grams is 6.4 million
numbers to build, drop out and multiply, nearly all of them zero. The twin
vectorises into a `tf.SparseTensor` instead (a few dozen entries per text) and
calls the model's own layers on it, so training touches only the n-grams present.
The exported model keeps its dense, built-in layers; only training uses the twin.
"""

import keras
import numpy as np

from automl_plugins import keras_private


class SparseBagInput(keras.layers.Layer):
    """Sparse counts or presences to float values, weighted per token, with input dropout.

    Computes what `TextVectorization` (multi_hot or tf_idf) followed by `Dropout`
    computes, on the non-zero entries only.
    """

    def __init__(self, token_weights, rate, **kwargs):
        super().__init__(**kwargs)
        self.token_weights = None if token_weights is None else np.asarray(
            token_weights, "float32")
        self.rate = rate

    def call(self, bags, training=False):
        import tensorflow as tf

        values = tf.cast(bags.values, "float32")
        if self.token_weights is not None:
            values *= tf.gather(self.token_weights, bags.indices[:, 1])
        bags = tf.SparseTensor(bags.indices, values, bags.dense_shape)
        if not training or not self.rate:
            return bags
        kept = tf.random.uniform(tf.shape(values), seed=None) >= self.rate
        bags = tf.SparseTensor(bags.indices, values / (1.0 - self.rate), bags.dense_shape)
        return tf.sparse.retain(bags, kept)

    def compute_output_spec(self, bags, training=False):
        return keras.KerasTensor(bags.shape, "float32", sparse=True)


def training_twin(model, last_bag_layer, vectorize_name="vectorize", dropout_name=None):
    """A model that trains `model`'s weights on sparse bags.

    `model` is a chain: its `vectorize_name` layer (multi_hot or tf_idf), a cast and
    an optional input dropout (`dropout_name`) up to `last_bag_layer`, then the
    network. The twin replaces the first part with sparse bags (with the input
    dropout and any dropout that follows it folded in) and calls every later layer
    of `model` in order, so it shares all of `model`'s weights.
    """
    vectorize = model.get_layer(vectorize_name)
    config = vectorize.get_config()
    weighted = config["output_mode"] == "tf_idf"
    config.update(output_mode="count" if weighted else "multi_hot", sparse=True,
                  vocabulary=None, idf_weights=None, name="sparse_vectorize")
    sparse_vectorize = keras.layers.TextVectorization(**config)
    sparse_vectorize.set_vocabulary(vectorize.get_vocabulary(include_special_tokens=False))
    # Keras keeps the weights (the out-of-vocabulary token's first) only in this attribute.
    weights = np.asarray(keras_private.idf_weights(vectorize)) if weighted else None
    names = [layer.name for layer in model.layers]
    network = model.layers[names.index(last_bag_layer) + 1:]
    # Dropouts straight after the bag (a linear model's head dropout) act on it too.
    kept = 1.0 - (model.get_layer(dropout_name).rate if dropout_name else 0.0)
    while network and isinstance(network[0], keras.layers.Dropout):
        kept *= 1.0 - network.pop(0).rate
    inputs = keras.Input(shape=model.input.shape[1:], dtype=model.input.dtype, name="inputs")
    x = SparseBagInput(weights, 1.0 - kept, name="sparse_bag")(sparse_vectorize(inputs))
    for layer in network:
        x = layer(x)
    return keras.Model(inputs, x, name=f"{model.name}_sparse_twin")
