"""`python tests/fake_automl.py ARGS...`: the command line with the test tasks installed.

The tasks are those of `fake_tasks.py` named in `TASKS`, so that a test that needs a
separate process (signals, kills) can search a task that trains in a fraction of an
image search's time.
"""

from importlib.metadata import EntryPoint

from automl import registry
from automl.cli import main

TASKS = {"pixels": "fake_tasks:PixelTask", "steady": "fake_tasks:SteadyVectorTask"}


def with_test_tasks(installed):
    """`installed` entry points and those of `TASKS`, sorted by name."""
    extra = [EntryPoint(name, value, registry.GROUP) for name, value in TASKS.items()]
    return sorted(list(installed) + extra, key=lambda entry_point: entry_point.name)


if __name__ == "__main__":
    installed = registry._entry_points()
    registry._entry_points = lambda: with_test_tasks(installed)
    main()
