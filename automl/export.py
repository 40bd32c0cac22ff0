"""Writing the model folder: SavedModel, .keras file and model card, atomically.

Everything is written into a temporary folder beside `RUN/model` and renamed into
place, so an interrupted export never leaves a half-written model and never
destroys the previous one.
"""

import glob
import json
import os
import shutil
import tempfile

from automl.permissions import as_created


def write_json(path, value):
    """Write JSON to `path` through a temporary file and an atomic rename."""
    folder = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        as_created(temporary)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(value, stream, indent=2, default=_jsonable)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def replace_folder(build, target):
    """Build a folder with `build(temporary_path)`, then swap it in for `target`.

    What an earlier interrupted swap left is tidied first (`recover_folder`), so at
    every moment either the old or the new `target` is in place or can be restored.
    """
    parent, name = _beside(target)
    recover_folder(target)
    temporary = tempfile.mkdtemp(dir=parent, prefix=f".{name}.tmp-")
    try:
        as_created(temporary)
        build(temporary)
        previous = None
        if os.path.exists(target):
            previous = tempfile.mkdtemp(dir=parent, prefix=f".{name}.old-")
            os.rmdir(previous)
            os.rename(target, previous)
        os.rename(temporary, target)
        if previous:
            shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def recover_folder(target):
    """Undo an interrupted `replace_folder`: restore a `target` moved aside, drop leftovers."""
    parent, name = _beside(target)
    moved_aside = sorted(glob.glob(os.path.join(parent, f".{name}.old-*")), key=os.path.getmtime)
    if moved_aside and not os.path.exists(target):
        os.rename(moved_aside.pop(), target)
    for stale in moved_aside + glob.glob(os.path.join(parent, f".{name}.tmp-*")):
        shutil.rmtree(stale, ignore_errors=True)


def _beside(target):
    return os.path.dirname(os.path.abspath(target)), os.path.basename(os.path.normpath(target))


def save_saved_model(tf, keras, model, classes, input_shape, input_dtype, path):
    """SavedModel whose `serving_default` maps raw `inputs` to named outputs.

    Outputs: `probabilities` [N, C] in the order of `classes`, and `label` [N]
    strings, the most probable class name.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    class_names = list(classes)

    @tf.function(input_signature=[tf.TensorSpec((None, *input_shape), input_dtype, name="inputs")])
    def serve(inputs):
        probabilities = model(inputs, training=False)
        names = tf.constant(class_names)
        return {"probabilities": probabilities,
                "label": tf.gather(names, tf.argmax(probabilities, axis=-1))}

    archive.add_endpoint("serving_default", serve)
    archive.write_out(path, verbose=False)


def export_model(tf, keras, model, card, input_shape, input_dtype, model_dir):
    """Write `model_dir/{saved_model, model.keras, model_card.json}` atomically."""

    def build(folder):
        model.save(os.path.join(folder, "model.keras"))
        save_saved_model(tf, keras, model, card["classes"], input_shape, input_dtype,
                         os.path.join(folder, "saved_model"))
        write_json(os.path.join(folder, "model_card.json"), card)

    replace_folder(build, model_dir)
