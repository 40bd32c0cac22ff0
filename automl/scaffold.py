"""`automl plugin new`: write a ready-to-install task-plugin package."""

import os
import re
import string
from importlib import resources

from automl.errors import AutomlError

FILES = {
    "pyproject.toml": "pyproject.toml.tmpl",
    "README.md": "README.md.tmpl",
    "automl_{name}/__init__.py": "__init__.py.tmpl",
    "automl_{name}/task.py": "task.py.tmpl",
    "tests/test_{name}.py": "test_task.py.tmpl",
}


def class_name(name):
    return "".join(part.capitalize() for part in name.split("_")) + "Task"


def write_plugin(name, path=None):
    """Write the plugin package for task `name` into `path`; returns the path."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name or ""):
        raise AutomlError(
            f"invalid plugin name '{name}': use lower-case letters, digits and underscores, "
            "starting with a letter")
    path = path or f"automl-{name}"
    if os.path.isfile(path) or (os.path.isdir(path) and os.listdir(path)):
        raise AutomlError(f"{path} already exists and is not an empty folder")
    values = {"name": name, "class_name": class_name(name)}
    templates = resources.files("automl") / "templates"
    rendered = {target.format(name=name): string.Template(
        (templates / source).read_text(encoding="utf-8")).substitute(values)
        for target, source in FILES.items()}
    for target, text in rendered.items():
        file = os.path.join(path, target)
        os.makedirs(os.path.dirname(file), exist_ok=True)
        with open(file, "w", encoding="utf-8") as handle:
            handle.write(text)
    return path
