"""Search settings: one validated record shared by recipes and command-line flags.

A recipe is a YAML mapping whose keys are the field names below; `automl search`
flags are the same settings. Every value is checked here, at the boundary, so the
rest of the package can trust it.
"""

import dataclasses
import re
from typing import Optional

import yaml

from automl.errors import AutomlError

TUNERS = ("bayesian", "random", "hyperband", "grid")
SCHEDULERS = ("asha", "full")
OBJECTIVES = ("val_accuracy", "val_loss", "accuracy", "loss")


@dataclasses.dataclass
class Settings:
    """Everything one search needs; `None` means "the task's default"."""

    task: str
    data: str
    out: str
    tuner: str = "bayesian"
    max_trials: Optional[int] = None
    epochs: Optional[int] = None
    time_budget: Optional[float] = None
    scheduler: Optional[str] = None
    objective: str = "val_accuracy"
    seed: int = 0
    batch_size: Optional[int] = None
    max_failures: int = 5
    ensemble: Optional[int] = None
    data_dir: Optional[str] = None
    download: bool = False
    overwrite: bool = False
    text_column: str = "text"
    label_column: str = "label"
    sample_rate: Optional[int] = None
    duration: Optional[float] = None

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            setattr(self, field.name, _coerce(field, value))
        if self.tuner not in TUNERS:
            raise AutomlError(
                f"unknown tuner '{self.tuner}' (choose one of: {', '.join(TUNERS)})"
            )
        if self.scheduler is not None and self.scheduler not in SCHEDULERS:
            raise AutomlError(
                f"unknown scheduler '{self.scheduler}' (choose one of: {', '.join(SCHEDULERS)})"
            )
        for name, low in (("max_trials", 1), ("epochs", 1), ("batch_size", 1),
                          ("max_failures", 1), ("ensemble", 1), ("sample_rate", 1000)):
            value = getattr(self, name)
            if value is not None and value < low:
                raise AutomlError(f"{name} must be at least {low}, got {value}")
        for name in ("time_budget", "duration"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise AutomlError(f"{name} must be positive, got {value}")
        if self.objective not in OBJECTIVES:
            raise AutomlError(f"unknown objective '{self.objective}' (choose one of: "
                              f"{', '.join(OBJECTIVES)})")

    def to_dict(self):
        return dataclasses.asdict(self)


def parse_duration(text):
    """Seconds from `120`, `90s`, `10m` or `1.5h`."""
    if isinstance(text, bool):
        raise AutomlError(f"malformed time budget '{text}'")
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*([smh]?)\s*", str(text))
        if not match:
            raise AutomlError(
                f"malformed time budget '{text}' (use seconds, or a number with s, m or h)"
            )
        seconds = float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    if seconds <= 0:
        raise AutomlError(f"time budget must be positive, got '{text}'")
    return seconds


def _coerce(field, value):
    if value is None:
        return None
    if field.name == "time_budget":
        return parse_duration(value)
    kind = _base_type(field.type)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "yes", "1"):
            return True
        if str(value).lower() in ("false", "no", "0"):
            return False
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
            return float(value)
    elif kind is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    raise AutomlError(
        f"setting '{field.name}' must be {kind.__name__}, got {value!r}"
    )


def _base_type(annotation):
    return getattr(annotation, "__args__", (annotation,))[0]


def field_names():
    return [field.name for field in dataclasses.fields(Settings)]


def from_mapping(mapping, source="recipe"):
    """Settings from a mapping, refusing unknown keys and missing required ones."""
    if not isinstance(mapping, dict):
        raise AutomlError(f"{source} must be a mapping of setting: value")
    known = field_names()
    for key in mapping:
        if key not in known:
            raise AutomlError(
                f"unknown {source} key '{key}' (known keys: {', '.join(known)})"
            )
    for key in ("task", "data", "out"):
        if mapping.get(key) in (None, ""):
            raise AutomlError(f"{source} is missing the required key '{key}'")
    return Settings(**mapping)


def load_recipe(path, overrides=()):
    """Settings from a YAML recipe, with `key=value` overrides applied on top."""
    try:
        with open(path, encoding="utf-8") as handle:
            mapping = yaml.safe_load(handle)
    except FileNotFoundError:
        raise AutomlError(f"recipe not found: {path}") from None
    except yaml.YAMLError as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        where = f" at line {line + 1}" if line is not None else ""
        raise AutomlError(f"malformed recipe {path}{where}: not valid YAML") from None
    mapping = dict(mapping or {}) if isinstance(mapping, dict) or mapping is None else mapping
    if not isinstance(mapping, dict):
        raise AutomlError(f"recipe {path} must be a mapping of setting: value")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise AutomlError(f"malformed --set '{item}' (use key=value)")
        mapping[key.strip()] = yaml.safe_load(value) if value else None
    return from_mapping(mapping, source=f"recipe {path}")


def dump_recipe(settings, path):
    """Write the resolved settings as a YAML recipe."""
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(settings.to_dict(), handle, sort_keys=False)
