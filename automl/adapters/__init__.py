"""One module per outside library whose private names keras-automl uses, and the only
place that touches them. Each module's `check()` raises an `AutomlError` naming the
supported versions when an installed release no longer has one of them."""

from importlib import metadata

from automl.errors import AutomlError


def require(owner, names, library, supported):
    """Raise an `AutomlError` unless `owner` (a module or class) has every one of `names`."""
    missing = [name for name in names if not hasattr(owner, name)]
    if missing:
        where = getattr(owner, "__name__", type(owner).__name__)
        raise AutomlError(
            f"{library} {metadata.version(library)} no longer has "
            f"{', '.join(where + '.' + name for name in missing)}, which keras-automl "
            f"uses: install {library}{supported}")
