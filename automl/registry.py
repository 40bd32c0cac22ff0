"""Discovery of task plugins through the `automl.tasks` entry-point group."""

import dataclasses
from importlib import metadata

import click

from automl.errors import AutomlError, first_line
from automl.task import API_VERSION, Task

GROUP = "automl.tasks"


@dataclasses.dataclass
class TaskInfo:
    name: str
    package: str
    version: str
    task_class: type

    @property
    def description(self):
        return self.task_class.description


def _entry_points():
    return sorted(metadata.entry_points(group=GROUP), key=lambda ep: ep.name)


def _load(entry_point):
    task_class = entry_point.load()
    if not (isinstance(task_class, type) and issubclass(task_class, Task)):
        raise AutomlError(f"task plugin '{entry_point.name}' is not an automl.Task subclass")
    version = getattr(task_class, "api_version", None)
    if version != API_VERSION:
        raise AutomlError(
            f"task plugin '{entry_point.name}' is written for plugin API {version}, "
            f"this keras-automl provides API {API_VERSION}"
        )
    dist = entry_point.dist
    return TaskInfo(
        name=entry_point.name,
        package=dist.metadata["Name"] if dist else "?",
        version=dist.version if dist else "?",
        task_class=task_class,
    )


def installed_tasks(warn=True):
    """`{name: TaskInfo}` of every plugin that loads; one warning line for each that fails."""
    tasks = {}
    for entry_point in _entry_points():
        if entry_point.name in tasks:
            continue
        try:
            tasks[entry_point.name] = _load(entry_point)
        except Exception as error:
            if warn:
                click.echo(
                    f"warning: task plugin '{entry_point.name}' failed to load "
                    f"({type(error).__name__}: {first_line(error)})", err=True)
    return tasks


def get_task(name):
    """A fresh instance of the task called `name`."""
    for entry_point in _entry_points():
        if entry_point.name == name:
            try:
                return _load(entry_point).task_class()
            except AutomlError:
                raise
            except Exception as error:
                raise AutomlError(
                    f"task plugin '{name}' failed to load ({type(error).__name__}: {error})"
                ) from None
    known = ", ".join(ep.name for ep in _entry_points()) or "none"
    raise AutomlError(f"unknown task '{name}' (installed tasks: {known})")
