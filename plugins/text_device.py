"""A text model rebuilt for LiteRT: token ids in, the model's probabilities out.

String processing has no LiteRT built-in ops, so each `TextVectorization` layer
leaves the model and becomes an id input, described in `tokenizer.json` for the
pure-Python tokenizer (`automl_plugins.text_tokenizer`). Sequence networks take
the layer's padded ids as they are. A bag of n-grams becomes a lookup: the first
dense layer after the bag multiplies a vector that is zero but for the text's
n-grams, so its output is the sum of the kernel rows (scaled by the bag's weights)
of the ids present, which LiteRT computes with a gather and a sum.
"""

import hashlib
import json
import os
import shutil

import keras
import numpy as np

import automl
from automl_plugins import keras_private, text_tokenizer

BETWEEN_BAG_AND_DENSE = (keras.layers.Rescaling, keras.layers.Dropout)


class BagLookup(keras.layers.Layer):
    """`Dense(bag)` from the ids in the bag: the sum of their rows of `table`, plus `bias`."""

    def __init__(self, table, bias, activation, **kwargs):
        super().__init__(**kwargs)
        self.table = self.add_weight(shape=table.shape, initializer="zeros", trainable=False,
                                     name="table")
        self.table.assign(table)
        self.bias = self.add_weight(shape=bias.shape, initializer="zeros", trainable=False,
                                    name="bias")
        self.bias.assign(bias)
        self.activation = keras.activations.get(activation)

    def call(self, ids):
        rows = keras.ops.take(self.table, ids, axis=0)
        return self.activation(keras.ops.sum(rows, axis=1) + self.bias)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.table.shape[1])


def vectorizer_spec(layer):
    """What `text_tokenizer.Vectorizer` needs to reproduce `layer` (a TextVectorization)."""
    config = layer.get_config()
    ngrams = config["ngrams"]
    if isinstance(ngrams, int):
        ngrams = list(range(1, ngrams + 1))
    vocabulary = layer.get_vocabulary(include_special_tokens=True)
    sequence = config["output_mode"] == "int"
    if config["output_mode"] not in ("int", "multi_hot", "tf_idf"):
        raise automl.AutomlError(f"layer '{layer.name}': output mode {config['output_mode']} has no "
                          "LiteRT form")
    for key in ("standardize", "split"):
        if config[key] is not None and not isinstance(config[key], str):
            raise automl.AutomlError(f"layer '{layer.name}' uses a custom {key} function, which the "
                              "LiteRT tokenizer cannot reproduce")
    return {"standardize": config["standardize"], "split": config["split"],
            "ngrams": list(ngrams) if ngrams else None, "output_mode": config["output_mode"],
            "sequence_length": config["output_sequence_length"] if sequence else None,
            "oov_id": 1 if sequence else 0, "pad_id": 0 if sequence else len(vocabulary),
            "vocabulary": vocabulary}


class Passthrough(keras.layers.Layer):
    """The identity, for a layer that was called with `training` (a dropout inside a body)."""

    def call(self, inputs, training=None):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


def device_model(model, folder):
    """The id-input twin of `model` (one model, or an average of members), and its tokenizer.

    Writes `tokenizer.json` and `tokenizer.py` into `folder`.
    """
    members = _members(model)
    specs, inputs, outputs = {}, {}, []
    for member in members:
        path, vectorize = _vectorizer(member)
        spec = vectorizer_spec(vectorize)
        key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
        if key not in specs:
            name = "ids" if len(members) == 1 else f"ids_{len(specs) + 1}"
            specs[key] = {"input": name, **spec}
            length = spec["sequence_length"]
            inputs[key] = keras.Input(shape=(length,), batch_size=1, dtype="int32", name=name)
        output = _id_member(path, vectorize, specs[key], inputs[key])
        if len(members) > 1:  # each member its own model, so layer names stay its own
            output = keras.Model(inputs[key], output, name=member.name)(inputs[key])
        outputs.append(output)
    output = outputs[0] if len(outputs) == 1 else keras.layers.Average(name="average")(outputs)
    ordered = list(inputs.values())
    device = keras.Model(ordered[0] if len(ordered) == 1 else ordered, output,
                         name=f"{model.name}_ids")
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as handle:
        json.dump({"inputs": list(specs.values())}, handle, ensure_ascii=False)
    shutil.copyfile(text_tokenizer.__file__, os.path.join(folder, "tokenizer.py"))
    return device


def _members(model):
    """The models that hold a vectorizer: `model` itself, or the members it averages."""
    if _vectorizer(model) is not None:
        return [model]
    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if not members or any(_vectorizer(member) is None for member in members):
        raise automl.AutomlError(f"model '{model.name}' has no vectorize layer to replace by token ids")
    return members


def _vectorizer(model):
    """`(the models from `model` down to the one that holds it, the vectorize layer)` for
    the one vectorizer of `model`, found in it or in the single nested model that takes
    its input (the body of a run started `--init-from` another run); None where none."""
    names = [layer.name for layer in model.layers]
    if "vectorize" in names:
        return [model], model.get_layer("vectorize")
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    found = _vectorizer(nested[0]) if len(nested) == 1 else None
    return None if found is None else ([model, *found[0]], found[1])


def _id_member(path, vectorize, spec, ids):
    """The member (`path[0]`) called on token ids: its vectorizer (in `path[-1]`)
    replaced, a bag's first dense a lookup."""
    replaced = {id(vectorize): keras.layers.Identity(name="token_ids")}
    if spec["output_mode"] != "int":
        replaced.update(_bag_replacements(path, vectorize))

    def swap(layer):
        return replaced.get(id(layer), layer)

    for nested in reversed(path[1:]):  # innermost first: each takes the ids as its input
        inputs = keras.Input(shape=ids.shape[1:], batch_size=ids.shape[0], dtype=ids.dtype)
        replaced[id(nested)] = keras.models.clone_model(nested, input_tensors=inputs,
                                                        clone_function=swap)
    clone = keras.models.clone_model(path[0], input_tensors=ids, clone_function=swap)
    return clone.outputs[0] if hasattr(clone, "outputs") else clone


def _bag_replacements(path, vectorize):
    """Replacements for the layers from the bag to its first dense layer, which may lie
    past the end of the nested model that holds the vectorizer (`path[-1]`)."""
    following, inner = [], vectorize
    for model in reversed(path):
        following += model.layers[model.layers.index(inner) + 1:]
        inner = model
    replaced = {}
    for layer in following:
        if isinstance(layer, keras.layers.Dense):
            kernel, bias = (np.asarray(w) for w in (layer.kernel, layer.bias))
            weights = np.ones(len(kernel), "float32")
            if vectorize.get_config()["output_mode"] == "tf_idf":
                # Keras keeps the weights (the out-of-vocabulary token's first) only here.
                weights = np.asarray(keras_private.idf_weights(vectorize), "float32")
            table = np.concatenate([kernel * weights[:, None],
                                    np.zeros((1, kernel.shape[1]), "float32")])
            replaced[id(layer)] = BagLookup(table, bias, layer.activation, name=layer.name)
            return replaced
        if not isinstance(layer, BETWEEN_BAG_AND_DENSE):
            raise automl.AutomlError(f"layer '{layer.name}' ({type(layer).__name__}) follows a bag of "
                              "n-grams before its dense layer: no LiteRT form")
        replaced[id(layer)] = Passthrough(name=layer.name)
    raise automl.AutomlError(f"model '{path[0].name}': a bag of n-grams with no dense layer after it")
