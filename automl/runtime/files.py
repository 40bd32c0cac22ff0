"""Atomic writes in the run folder: JSON files and whole folders.

A folder is written into a temporary folder beside its target and renamed into
place, so an interrupted write never leaves a half-written folder and never
destroys the previous one. The process that writes a folder holds its lock file
(`.NAME.lock` beside it) from the build to the swap; only a process holding it
tidies what an interrupted swap left. Readers take no lock and change nothing: they
read whichever complete folder is there (`complete_folder`).
"""

import contextlib
import fcntl
import glob
import json
import os
import shutil
import tempfile

from automl.runtime.permissions import as_created


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
