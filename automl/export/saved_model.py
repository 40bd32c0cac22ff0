"""Writing the model folder: SavedModel, .keras file and model card, atomically.

Everything is written into a temporary folder beside `RUN/model` and renamed into
place (`automl.runtime.files`), so an interrupted export never leaves a half-written
model and never destroys the previous one.
"""

import contextlib
import os

from automl.runtime.files import replace_folder, write_json


def export_outputs(problem, classes):
    """The card's `outputs`: each output of `serving_default` and its shape."""
    if problem == "regression":
        return {"value": [None]}
    if problem == "multilabel":
        return {"probabilities": [None, classes], "labels": [None, classes]}
    return {"probabilities": [None, classes], "label": [None]}


def save_saved_model(tf, keras, model, card, input_shape, input_dtype, path):
    """SavedModel whose `serving_default` maps raw `inputs` to named outputs.

    Classification: `probabilities` [N, C] in the order of the card's `classes`, and
    `label` [N] strings, the most probable class name. Multilabel: `probabilities`
    [N, C] (a sigmoid each) and `labels` [N, C] booleans, each label's probability at
    or above its threshold in the card. Regression: `value` [N] in the target's units.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    problem = card.get("problem", {}).get("type", "classification")
    class_names = list(card["classes"])
    thresholds = [card["problem"]["thresholds"][name] for name in class_names] \
        if problem == "multilabel" else None

    @tf.function(input_signature=[tf.TensorSpec((None, *input_shape), input_dtype, name="inputs")])
    def serve(inputs):
        outputs = model(inputs, training=False)
        if problem == "regression":
            return {"value": tf.reshape(outputs, (-1,))}
        if problem == "multilabel":
            return {"probabilities": outputs,
                    "labels": outputs >= tf.constant(thresholds, outputs.dtype)}
        names = tf.constant(class_names)
        return {"probabilities": outputs, "label": tf.gather(names, tf.argmax(outputs, axis=-1))}

    archive.add_endpoint("serving_default", serve)
    archive.write_out(path, verbose=False)


def export_model(tf, keras, model, card, input_shape, input_dtype, model_dir):
    """Write `model_dir/{saved_model, model.keras, model_card.json}` atomically.

    `model.keras` holds the network only, without the search's loss, metrics and
    optimizer, so it loads wherever Keras is installed (the search's own objects are
    not needed) and carries no training state.
    """

    def build(folder):
        network = keras.Model(model.input, model.output, name=model.name)
        with _uncompiled(keras, network):
            network.save(os.path.join(folder, "model.keras"))
        save_saved_model(tf, keras, model, card, input_shape, input_dtype,
                         os.path.join(folder, "saved_model"))
        write_json(os.path.join(folder, "model_card.json"), card)

    replace_folder(build, model_dir)


def _nested_models(keras, model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield layer
            yield from _nested_models(keras, layer)


@contextlib.contextmanager
def _uncompiled(keras, network):
    """`network` saves without the compile state of the models inside it (an
    ensemble's members keep their search loss and metrics otherwise)."""
    members = [m for m in _nested_models(keras, network) if m.compiled]
    for member in members:
        member.compiled = False
    try:
        yield
    finally:
        for member in members:
            member.compiled = True
