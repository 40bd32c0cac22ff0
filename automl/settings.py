"""Search settings: one validated record shared by recipes and command-line flags.

A recipe is a YAML mapping whose keys are the field names below; `automl search`
flags are the same settings. Every value is checked here, at the boundary, so the
rest of the package can trust it.
"""

import dataclasses
import os
import re
from typing import Optional

import yaml

from automl import problems
from automl.errors import AutomlError, did_you_mean
from automl.problems import class_weights, objectives
from automl.registry import task_options
from automl.runtime.devices import PRECISIONS, STRATEGIES
from automl.transfer import backbones as transfer_backbones, weights as transfer_weights

TUNERS = ("bayesian", "random", "hyperband", "grid")
SCHEDULERS = ("asha", "full")
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")  # of LiteRT exports


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
    problem: Optional[str] = None
    label_separator: str = "|"
    objective: Optional[str] = None
    class_weight: Optional[str] = None
    seed: int = 0
    split_seed: int = 0
    group_by: Optional[str] = None
    batch_size: Optional[int] = None
    max_failures: int = 5
    ensemble: Optional[int] = None
    data_dir: Optional[str] = None
    download: bool = False
    cache_dir: Optional[str] = None
    threads: Optional[int] = None
    strategy: str = "default"
    precision: str = "float32"
    keep_trials: bool = False
    export: Optional[str] = None
    backbones: list = dataclasses.field(default_factory=list)
    backbone_weights: list = dataclasses.field(default_factory=list)
    word_vectors: Optional[str] = None
    allow_download: bool = False
    init_from: Optional[str] = None
    options: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        for field in dataclasses.fields(self):
            if field.name != "options":
                setattr(self, field.name, _coerce(field.name, field.type, getattr(self, field.name)))
        if self.tuner not in TUNERS:
            raise AutomlError(
                f"unknown tuner '{self.tuner}' (choose one of: {', '.join(TUNERS)})"
            )
        if self.scheduler is not None and self.scheduler not in SCHEDULERS:
            raise AutomlError(
                f"unknown scheduler '{self.scheduler}' (choose one of: {', '.join(SCHEDULERS)})"
            )
        for name, choices in (("strategy", STRATEGIES), ("precision", PRECISIONS)):
            if getattr(self, name) not in choices:
                raise AutomlError(f"unknown {name} '{getattr(self, name)}' (choose one of: "
                                  f"{', '.join(choices)})")
        for name, low in (("max_trials", 1), ("epochs", 1), ("batch_size", 1),
                          ("max_failures", 1), ("ensemble", 1), ("threads", 1)):
            value = getattr(self, name)
            if value is not None and value < low:
                raise AutomlError(f"{name} must be at least {low}, got {value}")
        if self.time_budget is not None and self.time_budget <= 0:
            raise AutomlError(f"time_budget must be positive, got {self.time_budget}")
        if self.group_by is not None:
            try:
                re.compile(self.group_by)
            except re.error as error:
                raise AutomlError(f"malformed --group-by regular expression "
                                  f"'{self.group_by}': {error}") from None
        if self.export is not None:
            parse_export(self.export)
        transfer_backbones.check_names(self.backbones)
        if self.word_vectors is not None and not os.path.isfile(self.word_vectors):
            raise AutomlError(f"word vectors not found: {self.word_vectors}")
        # Paths made absolute: a resumed search finds the files from any folder.
        if self.word_vectors is not None:
            self.word_vectors = os.path.abspath(self.word_vectors)
        self.backbone_weights = [transfer_weights.absolute(e) for e in self.backbone_weights]
        if self.init_from is not None:  # a resumed search finds it from any folder
            self.init_from = os.path.abspath(self.init_from)
        problems.check_name(self.problem)
        if not self.label_separator:
            raise AutomlError("label_separator must not be empty")
        objectives.check_name(self.objective)
        class_weights.check_mode(self.class_weight)

    def __getattr__(self, name):
        """Task options read as attributes too (`settings.text_column`)."""
        options = self.__dict__.get("options") or {}
        if name in options:
            return options[name]
        raise AttributeError(f"'Settings' object has no attribute {name!r}")

    def to_dict(self):
        """The settings as recipe keys: core fields, then the task's options."""
        values = dataclasses.asdict(self)
        return {**{k: v for k, v in values.items() if k != "options"}, **values["options"]}


def parse_duration(text, what="time budget"):
    """Seconds from `120`, `90s`, `10m`, `1.5h` or `30d`; `what` names the value in errors."""
    if isinstance(text, bool):
        raise AutomlError(f"malformed {what} '{text}'")
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(text))
        if not match:
            raise AutomlError(
                f"malformed {what} '{text}' (use seconds, or a number with s, m, h or d)"
            )
        seconds = float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600,
                                            "d": 86400}[match.group(2)]
    if seconds <= 0:
        raise AutomlError(f"{what} must be positive, got '{text}'")
    return seconds


def _coerce(name, annotation, value):
    if value is None:
        return None
    if annotation is list:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
            raise AutomlError(f"setting '{name}' must be a name or a list of names, got {value!r}")
        return list(values)
    if name == "time_budget":
        return parse_duration(value)
    kind = _base_type(annotation)
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
        f"setting '{name}' must be {kind.__name__}, got {value!r}"
    )


def _base_type(annotation):
    return getattr(annotation, "__args__", (annotation,))[0]


# Keys that recipes written by earlier versions hold and that are no longer core
# settings: dropped (unless the task declares them) when such a run is resumed.
LEGACY_KEYS = ("overwrite", "text_column", "label_column", "sample_rate", "duration")


def parse_export(value):
    """The quantizations of a search's `export` setting: `tflite` or `tflite:int8,none`."""
    if value is None:
        return []
    kind, _, rest = str(value).partition(":")
    if kind != "tflite":
        raise AutomlError(f"unknown export format '{kind}' (the SavedModel is always written; "
                          "add one of: tflite, tflite:QUANTIZE[,QUANTIZE])")
    quantizations = [q.strip() for q in rest.split(",") if q.strip()] or ["none"]
    for quantization in quantizations:
        check_quantization(quantization)
    return list(dict.fromkeys(quantizations))


def check_quantization(quantization):
    if quantization not in QUANTIZATIONS:
        raise AutomlError(f"unknown quantization '{quantization}' (choose one of: "
                          f"{', '.join(QUANTIZATIONS)})")


def field_names():
    return [field.name for field in dataclasses.fields(Settings) if field.name != "options"]


def _task_options(mapping):
    task = mapping.get("task")
    return {option.name: option for option in task_options(str(task))} if task else {}


def from_mapping(mapping, source="recipe"):
    """Settings from a mapping, refusing unknown keys and missing required ones."""
    if not isinstance(mapping, dict):
        raise AutomlError(f"{source} must be a mapping of setting: value")
    if "overwrite" in mapping:
        raise AutomlError(f"'overwrite' is not a {source.split()[0]} key (a recipe may not "
                          "delete anything): pass --overwrite on the command line")
    declared = _task_options(mapping)
    known = field_names() + list(declared)
    for key in mapping:
        if key not in known:
            raise AutomlError(
                f"unknown {source} key '{key}' ({did_you_mean(key, known)}"
                f"known keys: {', '.join(known)})"
            )
    missing = [key for key in ("task", "data", "out") if mapping.get(key) in (None, "")]
    if missing:
        if source == "search option":
            names = ", ".join("--" + key for key in missing)
            raise AutomlError(f"missing required option{'s' * (len(missing) > 1)}: {names}")
        names = ", ".join(f"'{key}'" for key in missing)
        raise AutomlError(f"{source} is missing the required key{'s' * (len(missing) > 1)} {names}")
    options = {name: option.default for name, option in declared.items()}
    options.update((key, mapping[key]) for key in declared if mapping.get(key) is not None)
    options = {name: _coerce(name, declared[name].type, value) for name, value in options.items()}
    for name, value in options.items():
        low = declared[name].minimum
        if value is not None and low is not None and value < low:
            raise AutomlError(f"{name} must be at least {low}, got {value}")
    return Settings(**{k: v for k, v in mapping.items() if k not in declared}, options=options)


def load_recipe(path, overrides=(), legacy=False):
    """Settings from a YAML recipe, with `key=value` overrides applied on top.

    With `legacy`, keys that recipes of earlier versions wrote (`LEGACY_KEYS`) are
    dropped instead of refused: a run directory's own recipe, read on resume.
    """
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
    if legacy:
        declared = _task_options(mapping)
        for key in LEGACY_KEYS:
            if key not in declared:
                mapping.pop(key, None)
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
