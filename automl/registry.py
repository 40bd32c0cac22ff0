"""Discovery of task plugins through the `automl.tasks` entry-point group."""

import dataclasses
from importlib import metadata

import click

from automl import capabilities
from automl.errors import AutomlError, did_you_mean, first_line
from automl.task import API_VERSION, HOOKS_BY_NAME_API, LEGACY_MAJOR, Task

GROUP = "automl.tasks"


def _since(newest):
    """The versions of `newest`'s major version up to it: "3.0 to 3.1", or "4.0"."""
    major, _, minor = newest.partition(".")
    return newest if minor == "0" else f"{major}.0 to {newest}"


LOADS = f"{LEGACY_MAJOR}.x, {_since(HOOKS_BY_NAME_API)} and {_since(API_VERSION)}"
_deprecation_noted = set()  # plugins whose deprecation line this process has printed


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


def _load(entry_point, warn=True):
    task_class = entry_point.load()
    if not (isinstance(task_class, type) and issubclass(task_class, Task)):
        raise AutomlError(f"task plugin '{entry_point.name}' is not an automl.Task subclass")
    version = getattr(task_class, "api_version", None)
    if not compatible(version):
        raise AutomlError(
            f"task plugin '{entry_point.name}' is written for plugin API {version}, "
            f"this keras-automl provides API {API_VERSION} (it loads plugins written for {LOADS})")
    stray = capabilities.hooks_without_mixin(task_class)
    if stray:
        raise AutomlError(
            f"task plugin '{entry_point.name}' defines optional hooks without their capability "
            f"mixin: {', '.join(stray)}; inherit the mixin (see docs/plugins.md)")
    if warn and capabilities.finds_hooks_by_name(task_class):
        _note_deprecation(entry_point.name, task_class)
    dist = entry_point.dist
    return TaskInfo(
        name=entry_point.name,
        package=dist.metadata["Name"] if dist else "?",
        version=dist.version if dist else "?",
        task_class=task_class,
    )


def _note_deprecation(name, task_class):
    """One line on stderr, once per process, for a plugin written for an older API."""
    if name in _deprecation_noted:
        return
    _deprecation_noted.add(name)
    loads = ("loads for classification only"
             if capabilities.api_major(task_class) == LEGACY_MAJOR else "loads")
    click.echo(f"warning: task plugin '{name}' is written for plugin API {task_class.api_version}; "
               f"it {loads}, API {API_VERSION} moves optional hooks into mixins: "
               "see docs/plugins.md", err=True)


def compatible(version):
    """Whether a plugin written for API `version` ("4.0", 3) runs on this API: one of
    this major version and no newer minor one; one of 3.0 to `HOOKS_BY_NAME_API`,
    whose optional hooks are found by name; or one of `LEGACY_MAJOR`, which then also
    searches classification only."""
    try:
        major, _, minor = str(version).partition(".")
        major, minor = int(major), int(minor or 0)
    except ValueError:
        return False
    if major == LEGACY_MAJOR:
        return True
    for supported in (API_VERSION, HOOKS_BY_NAME_API):
        newest_major, _, newest_minor = supported.partition(".")
        if major == int(newest_major) and minor <= int(newest_minor):
            return True
    return False


def _distribution(entry_point):
    dist = entry_point.dist
    return f"{dist.metadata['Name']} {dist.version}" if dist else entry_point.value


def installed_tasks(warn=True):
    """`{name: TaskInfo}` of every plugin that loads; one warning line for each that fails.

    Two distributions registering one task name get a warning naming both; the
    first (in entry-point order) is used.
    """
    tasks, sources = {}, {}
    for entry_point in _entry_points():
        if entry_point.name in sources:
            if warn:
                click.echo(f"warning: task '{entry_point.name}' is registered by both "
                           f"{sources[entry_point.name]} and {_distribution(entry_point)}; "
                           f"using {sources[entry_point.name]}", err=True)
            continue
        sources[entry_point.name] = _distribution(entry_point)
        try:
            tasks[entry_point.name] = _load(entry_point, warn)
        except Exception as error:
            if warn:
                click.echo(
                    f"warning: task plugin '{entry_point.name}' failed to load "
                    f"({type(error).__name__}: {first_line(error)})", err=True)
    return tasks


def task_options(name):
    """The `Option`s that the task called `name` declares (none if its plugin fails to load);
    a name no plugin registers is an error that offers the closest installed one."""
    for entry_point in _entry_points():
        if entry_point.name == name:
            try:
                return tuple(_load(entry_point, warn=False).task_class.options)
            except Exception:
                return ()
    raise unknown_task(name)


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
    raise unknown_task(name)


def unknown_task(name):
    """The error for a task name that no installed plugin registers."""
    names = [entry_point.name for entry_point in _entry_points()]
    return AutomlError(f"unknown task '{name}' ({did_you_mean(name, names)}"
                       f"installed tasks: {', '.join(names) or 'none'})")
