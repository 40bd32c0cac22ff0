"""Where a backbone's weights come from, in this order, never blocking.

1. A path the user gives (`--backbone-weights [NAME=]PATH`, recipe key
   `backbone_weights`): a `.weights.h5`, `.h5` or `.keras` file, or for `hub:PRESET`
   a KerasHub preset folder written by `save_to_preset`.
2. The Keras cache (`$KERAS_HOME/models`, `~/.keras/models`) under the file name
   keras.applications looks for; for KerasHub presets, the KerasHub/Kaggle cache
   (`$KAGGLEHUB_CACHE`, `~/.cache/kagglehub`).
3. A download, only with `allow_download` (`--allow-download`), within `DOWNLOAD_TIMEOUT`.

A backbone whose weights are found nowhere is skipped with one line saying where
to put the file; the search goes on without it.
"""

import contextlib
import dataclasses
import glob
import hashlib
import importlib.util
import os
import socket

from automl.errors import AutomlError
from automl.transfer import backbones

DOWNLOAD_TIMEOUT = 60  # seconds a download may wait for the network before it gives up
PRESET_WEIGHTS = "model.weights.h5"  # the weights file of a KerasHub preset folder


@dataclasses.dataclass(frozen=True)
class Weights:
    """A backbone's weights as found: their path, where they came from, hash and licence."""

    backbone: str
    path: str
    source: str
    sha256: str
    licence: str

    def record(self):
        """What the model card says about them."""
        return dataclasses.asdict(self)


def sha256(path):
    """The SHA-256 of a file, or of a KerasHub preset folder's weights file."""
    if os.path.isdir(path):
        path = os.path.join(path, PRESET_WEIGHTS)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def keras_cache_folders():
    """Where keras.applications keeps downloaded weights (`keras.utils.get_file`'s cache)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return [os.path.join(home, "models"), os.path.join("/tmp", ".keras", "models")]


def hub_cache_folder(preset):
    """The newest cached copy of a KerasHub preset downloaded from Kaggle, or None."""
    root = os.environ.get("KAGGLEHUB_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "kagglehub")
    found = [path for path in glob.glob(os.path.join(root, "models", "*", "*", "*", preset, "*"))
             if os.path.isfile(os.path.join(path, "config.json"))]
    return max(found, key=_version, default=None)


def _version(path):
    name = os.path.basename(path)
    return int(name) if name.isdigit() else -1


def user_paths(entries, names):
    """`{backbone name: path}` from `backbone_weights` entries `NAME=PATH` or `PATH`.

    A bare `PATH` belongs to the one backbone named; with several, each needs its name.
    """
    paths = {}
    for entry in entries:
        name, sep, path = entry.partition("=")
        if sep and (name in names or backbones.is_hub(name)):
            paths[name] = path
        elif len(names) == 1:
            paths[names[0]] = entry
        else:
            raise AutomlError(f"backbone_weights '{entry}' names no backbone: with several "
                              f"backbones, write NAME=PATH (NAME one of {', '.join(names)})")
    unknown = sorted(set(paths) - set(names))
    if unknown:
        raise AutomlError(f"backbone_weights names '{unknown[0]}', which is not among the "
                          f"backbones searched ({', '.join(names) or 'none'})")
    return paths


def absolute(entry):
    """A `backbone_weights` entry (`NAME=PATH` or `PATH`) with its path made absolute,
    so a resumed search finds the file from any folder."""
    name, sep, path = entry.partition("=")
    if sep and (name in backbones.IMAGE_FAMILIES or backbones.is_hub(name)):
        return f"{name}={os.path.abspath(path)}"
    return os.path.abspath(entry)


def resolve(name, user_path=None, allow_download=False):
    """`(Weights, None)` for backbone `name`, or `(None, line)` saying why it is skipped."""
    if backbones.is_hub(name) and importlib.util.find_spec("keras_hub") is None:
        return None, (f"backbone {name} skipped: KerasHub presets need keras-hub "
                      f"(pip install 'keras-automl[transfer]')")
    if user_path is not None:
        if not os.path.exists(user_path):
            return None, (f"backbone {name} skipped: its weights {user_path} do not exist "
                          f"(give an existing {_kind(name)} with --backbone-weights)")
        return _found(name, user_path, "user path"), None
    if backbones.is_hub(name):
        return _resolve_hub(name, allow_download)
    family = backbones.IMAGE_FAMILIES[name]
    for folder in keras_cache_folders():
        path = os.path.join(folder, family.cache_file)
        if os.path.isfile(path):
            return _found(name, path, "Keras cache"), None
    if allow_download:
        return _download_keras(family)
    return None, (f"backbone {name} skipped: no weights; put {family.cache_file} in "
                  f"{keras_cache_folders()[0]} (from {family.url}), pass --backbone-weights "
                  f"{name}=FILE, or add --allow-download")


def _kind(name):
    return "KerasHub preset folder" if backbones.is_hub(name) else \
        ".weights.h5, .h5 or .keras file"


def _found(name, path, source):
    licence = backbones.HUB_LICENCE if backbones.is_hub(name) else \
        backbones.IMAGE_FAMILIES[name].licence
    return Weights(name, os.path.abspath(path), source, sha256(path), licence)


def _resolve_hub(name, allow_download):
    preset = name[len(backbones.HUB_PREFIX):]
    cached = hub_cache_folder(preset)
    if cached:
        return _found(name, cached, "KerasHub cache"), None
    where = (f"save it with save_to_preset and pass --backbone-weights {name}=FOLDER, or "
             f"fill the KerasHub cache")
    if not allow_download:
        return None, f"backbone {name} skipped: no preset folder; {where}, or add --allow-download"
    import kagglehub
    import keras_hub

    handle = keras_hub.models.Backbone.presets.get(preset, {}).get("kaggle_handle")
    if not handle:
        return None, f"backbone {name} skipped: KerasHub knows no preset '{preset}'; {where}"
    try:
        with _socket_timeout(DOWNLOAD_TIMEOUT):
            folder = kagglehub.model_download(handle.removeprefix("kaggle://"))
    except Exception as error:  # the network's own: offline, refused, timed out
        return None, f"backbone {name} skipped: download failed ({type(error).__name__}); {where}"
    return _found(name, folder, "download"), None


def _download_keras(family):
    import keras

    try:
        with _socket_timeout(DOWNLOAD_TIMEOUT):
            path = keras.utils.get_file(family.cache_file, family.url, cache_subdir="models",
                                        file_hash=family.md5)
    except Exception as error:  # the network's own: offline, refused, timed out
        return None, (f"backbone {family.name} skipped: download failed "
                      f"({type(error).__name__}); put {family.cache_file} in "
                      f"{keras_cache_folders()[0]}")
    return _found(family.name, path, "download"), None


@contextlib.contextmanager
def _socket_timeout(seconds):
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)
