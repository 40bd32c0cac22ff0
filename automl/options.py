"""`Option`: a setting that a task or a data source adds to the recipe and the CLI."""

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Option:
    """A setting of a task: an `automl search` flag (`--name-with-dashes`) and a recipe key.

    `type` is int, float, str or bool; values are checked like the core settings',
    numbers against `minimum` where given. The value is read as
    `settings.options[name]` (`None` when unset and no default).
    """

    name: str
    type: type = str
    default: Any = None
    help: str = ""
    minimum: Any = None
