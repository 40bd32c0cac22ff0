"""Writing the model folder: SavedModel, .keras file and model card, atomically.

Everything is written into a temporary folder beside `RUN/model` and renamed into
place, so an interrupted export never leaves a half-written model and never
destroys the previous one. The process that writes a folder holds its lock file
(`.model.lock` beside `RUN/model`) from the build to the swap; only a process
holding it tidies what an interrupted swap left. Readers take no lock and change
nothing: they read whichever complete folder is there (`complete_folder`).
"""

import contextlib
import fcntl
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

    The swap holds `target`'s lock and first tidies what an earlier interrupted swap
    left, so at every moment either the old or the new `target` is in place or can
    be restored, and two writers never meet half way.
    """
    parent, name = _beside(target)
    with writing(target):
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


@contextlib.contextmanager
def writing(target):
    """Hold `target`'s lock for the block (waiting for another writer), with what an
    interrupted swap left tidied first."""
    parent, name = _beside(target)
    with open(os.path.join(parent, f".{name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            _tidy(parent, name, target)
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def recover_folder(target):
    """Undo an interrupted `replace_folder`: restore a `target` moved aside, drop leftovers.

    Nothing is touched while another process holds `target`'s lock (it is writing).
    """
    parent, name = _beside(target)
    if not _leftovers(parent, name):
        return
    with open(os.path.join(parent, f".{name}.lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return
        try:
            _tidy(parent, name, target)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def complete_folder(target):
    """`target`, or while a swap is under way the previous folder moved aside beside it;
    None where there is neither. Reads only: nothing is renamed or removed."""
    if os.path.isdir(target):
        return target
    moved_aside = _moved_aside(*_beside(target))
    return moved_aside[-1] if moved_aside else None


def _moved_aside(parent, name):
    """Folders a swap moved aside, oldest first."""
    return sorted(glob.glob(os.path.join(parent, f".{name}.old-*")), key=os.path.getmtime)


def _leftovers(parent, name):
    return _moved_aside(parent, name) + glob.glob(os.path.join(parent, f".{name}.tmp-*"))


def _tidy(parent, name, target):
    moved_aside = _moved_aside(parent, name)
    if moved_aside and not os.path.exists(target):
        os.rename(moved_aside.pop(), target)
    for stale in moved_aside + glob.glob(os.path.join(parent, f".{name}.tmp-*")):
        shutil.rmtree(stale, ignore_errors=True)


def _beside(target):
    return os.path.dirname(os.path.abspath(target)), os.path.basename(os.path.normpath(target))


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
        network.save(os.path.join(folder, "model.keras"))
        save_saved_model(tf, keras, model, card, input_shape, input_dtype,
                         os.path.join(folder, "saved_model"))
        write_json(os.path.join(folder, "model_card.json"), card)

    replace_folder(build, model_dir)
