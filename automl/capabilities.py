"""Optional capabilities of a task plugin: small mixins a task opts into.

A task inherits the mixin of each capability it has, next to `automl.Task`, and
overrides the mixin's methods:

    class ImageTask(automl.Task, automl.Augmentation, automl.KnownGood): ...

Every mixin's defaults work, so a task overrides only what it changes. The core
calls optional hooks through the functions at the end of this module, never on the
task directly: a task that has not opted into a capability gets its default. A task
written for plugin API 3.x has no mixins; its hooks are found by name.
"""

import numpy as np

from automl import cost
from automl.errors import AutomlError

MIXIN_MAJOR = 4  # the plugin API that introduced the mixins


class Augmentation:
    """Training-only augmentation and mixing of batches, inside tf.data."""

    def augment(self, hp, x):
        """A batch of raw examples `x` augmented for training (default: unchanged).

        For what Keras has no layer for (the audio task's time shift and noise).
        Create no Keras layer or variable here: it runs in the input pipeline's
        traced function.
        """
        return x

    def mix(self, hp, x, y):
        """A training batch and its one-hot labels mixed, e.g. mixup (default: unchanged).

        Runs after `augment`, for classification searches only; returns `(x, y)`.
        """
        return x, y


class TestTimeAugmentation:
    """A model averaged over augmented copies of its input, exported where it helps."""

    test_time_description = None  # what `test_time_model` averages over, for the card

    def test_time_model(self, hp, model, meta):
        """`model` averaged over test-time augmentations of its raw input, or None.

        Built-in Keras layers only. The core exports it where it scores higher on
        val than `model` alone and records both latencies in the model card.
        """
        return None


class OnDevice:
    """How the exported model is rebuilt and fed for LiteRT (`.tflite`)."""

    device_input_type = "int8"  # a full-integer model's quantised input: "int8" or "uint8"
    device_float_layers = ()  # layers an int8 model computes in float (a log front end, say)

    def device_model(self, model, meta, folder):
        """The exported Keras `model` rebuilt for LiteRT's built-in ops, batch 1, fixed shapes.

        Its inputs are named as `device_inputs` names them; its one output is the
        class probabilities. Files a client needs beside the `.tflite` (a
        tokenizer, say) are written into `folder`. By default: `model` called on
        one example of `input_spec`'s shape, which must then be fully known.
        """
        import keras

        shape, dtype = self.input_spec(meta)
        if any(side is None for side in shape):
            raise AutomlError(f"the {self.name} task has no LiteRT export (its input shape "
                              f"{tuple(shape)} is not fixed)")
        inputs = keras.Input(shape=shape, batch_size=1, dtype=dtype, name="inputs")
        return keras.Model(inputs, model(inputs), name=f"{model.name}_device")

    def device_inputs(self, prepared, meta, folder):
        """One `{input name: array [1, ...]}` per example of `prepare`'s output.

        `folder` holds what `device_model` wrote. By default: `{"inputs": example}`.
        """
        _, dtype = self.input_spec(meta)
        return [{"inputs": np.asarray(example, dtype=dtype)[None]} for example in prepared]


class CostEstimate:
    """What training one example of a configuration costs, for budgeted searches."""

    def example_cost(self, hp, dataset, network):
        """Relative cost of training on one example of the configuration `hp`, or None.

        `network()` builds the configuration's (uncompiled) model. The planner turns
        the cost into seconds with the throughput measured on this machine and
        skips, under a budget, configurations that cannot train to the top rung in
        time. By default the multiply-adds of the network's layers (`automl.cost`);
        override it with a formula where building a network takes long, or return
        None where multiply-adds do not reflect what training costs: such
        configurations are never skipped.
        """
        return cost.example_cost(network())


class KnownGood:
    """Configurations tried first."""

    def known_good(self, dataset):
        """Hyperparameter values tried first, cheapest strong one first (partial dicts).

        The first is also the probe that sizes a budgeted search.
        """
        return []


class TrialFeedback:
    """Facts that trained trials show about the data, and configurations they rule out."""

    def trial_facts(self, hp, model, batches, labels):
        """What a trained classification trial model shows about the data: `{name: float}`.

        Called after each classification trial with its model (best epoch), the
        validation `batches` (a `tf.data.Dataset` of `(examples, targets)`) and the
        validation class ids `labels`; the facts are recorded with the trial and
        handed to `skip_reason`. Default: `{}`.
        """
        return {}

    def skip_reason(self, values, trials):
        """Why the configuration `values` should not be trained, or None (default).

        `trials` holds `(values, facts)` of every completed trial. A configuration
        skipped here is not trained (the search proposes another); the card counts it.
        """
        return None


class Initialization:
    """Starting weights of each new model."""

    def initialize(self, hp, model, dataset):
        """Set starting weights of a newly built `model` (default: Keras's initializers).

        Called once per model, before training; the head is the layer named
        `probabilities` (classification, multilabel) or `standardised` (regression).
        """


class TrainingTwin:
    """A faster model that trains the exported model's weights."""

    def training_model(self, hp, model, dataset):
        """A model that trains `model`'s weights faster, or None to train `model` itself.

        It takes the same inputs and calls `model`'s own layers, so training it
        trains `model`; the core compiles and fits it, and evaluates, selects and
        exports `model`.
        """
        return None


MIXINS = (Augmentation, TestTimeAugmentation, OnDevice, CostEstimate, KnownGood,
          TrialFeedback, Initialization, TrainingTwin)

# Each optional hook's name -> the mixin that declares it.
HOOKS = {name: mixin for mixin in MIXINS for name in vars(mixin)
         if not name.startswith("_")}


def api_major(task):
    """The major plugin API version a task (or task class) is written for, or None."""
    major = str(getattr(task, "api_version", "")).partition(".")[0]
    return int(major) if major.isdigit() else None


def finds_hooks_by_name(task):
    """Whether `task` predates the mixins (API 3.x and older): its hooks are found by name."""
    major = api_major(task)
    return major is not None and major < MIXIN_MAJOR


def hooks_without_mixin(task_class):
    """Optional hooks a task class of API 4 or later defines without inheriting their mixin."""
    if finds_hooks_by_name(task_class):
        return []
    return [f"{name} ({mixin.__name__})" for name, mixin in HOOKS.items()
            if not issubclass(task_class, mixin) and hasattr(task_class, name)]


def _hook(task, name):
    """The task's `name` hook or attribute where it opted in, else the mixin's default."""
    mixin = HOOKS[name]
    if isinstance(task, mixin) or (finds_hooks_by_name(task) and hasattr(task, name)):
        return getattr(task, name)
    default = vars(mixin)[name]
    return default.__get__(task) if callable(default) else default


# The core's one way to call an optional hook: `capabilities.augment(task, hp, x)`.

def augment(task, hp, x):
    return _hook(task, "augment")(hp, x)


def mix(task, hp, x, y):
    return _hook(task, "mix")(hp, x, y)


def test_time_model(task, hp, model, meta):
    return _hook(task, "test_time_model")(hp, model, meta)


def test_time_description(task):
    return _hook(task, "test_time_description")


def device_model(task, model, meta, folder):
    return _hook(task, "device_model")(model, meta, folder)


def device_inputs(task, prepared, meta, folder):
    return _hook(task, "device_inputs")(prepared, meta, folder)


def device_input_type(task):
    return _hook(task, "device_input_type")


def device_float_layers(task):
    return _hook(task, "device_float_layers")


def example_cost(task, hp, dataset, network):
    return _hook(task, "example_cost")(hp, dataset, network)


def known_good(task, dataset):
    return _hook(task, "known_good")(dataset)


def trial_facts(task, hp, model, batches, labels):
    return _hook(task, "trial_facts")(hp, model, batches, labels)


def skip_reason(task, values, trials):
    return _hook(task, "skip_reason")(values, trials)


def initialize(task, hp, model, dataset):
    return _hook(task, "initialize")(hp, model, dataset)


def training_model(task, hp, model, dataset):
    return _hook(task, "training_model")(hp, model, dataset)
