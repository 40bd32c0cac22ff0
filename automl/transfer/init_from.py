"""Transfer from an earlier run (`--init-from RUN`).

The earlier run's exported network (`RUN/model/model.keras`) keeps its body, the
preprocessing included, up to the feature layer under its head; the search puts a
new head for the new labels on it and weighs that configuration (`init_from: on`)
against the task's own networks. It fine-tunes as the Keras transfer-learning guide
does (`automl.transfer.fine_tuning`): the new head learns first with the body frozen,
then the body follows at `init_from/body_rate` times the head's learning rate, its
batch normalisation frozen in inference mode throughout. The first configuration
trains the body at the rate the earlier run's search chose for it: that body was
trained on data like the new labels', and its features alone fit them poorly.
"""

import hashlib
import json
import os

from automl.errors import AutomlError
from automl.run_folder import RunDir
from automl.transfer import backbones, fine_tuning

CHOICE = "init_from"                  # "on": the earlier run's body; "off": the task's own
BODY_RATE = "init_from/body_rate"     # the body's learning rate, as a share of the head's
BODY_RATES = (0.01, 1.0)              # its searched range (log scale)
HEAD_RATE = 1e-2                      # the first configuration's peak rate: the head is new
BODY = "source_body"                  # the name of the body inside the new model
HEADS = ("probabilities", "standardised")  # head layers (`automl.problems`)
HEAD_DROPOUT = "head_dropout"


class Source:
    """An earlier run whose exported network a search starts from."""

    def __init__(self, path, card, sha256):
        self.path, self.card, self.sha256 = path, card, sha256
        self.model_file = os.path.join(RunDir(path).model, "model.keras")

    @classmethod
    def open(cls, path, task_name, out):
        """The run at `path`, checked: it exists, has an exported model, is of `task_name`
        and is not the search's own run folder `out`."""
        run = RunDir(os.path.abspath(path))
        if run.path == os.path.abspath(out):
            raise AutomlError(f"--init-from {path} is the search's own --out: start from "
                              "another run")
        if not os.path.isdir(run.path):
            raise AutomlError(f"--init-from run not found: {path}")
        model_file = os.path.join(run.model, "model.keras")
        if not (os.path.isfile(model_file) and os.path.isfile(run.card)):
            raise AutomlError(f"--init-from run {path} has no exported model "
                              f"(expected {model_file} and its model card)")
        try:
            with open(run.card, encoding="utf-8") as handle:
                card = json.load(handle)
        except (OSError, ValueError):
            raise AutomlError(f"--init-from run {path} has an unreadable model card: "
                              f"{run.card}") from None
        if card.get("task") != task_name:
            raise AutomlError(f"--init-from run {path} is of task '{card.get('task')}', "
                              f"not '{task_name}'")
        with open(model_file, "rb") as handle:
            sha256 = hashlib.sha256(handle.read()).hexdigest()
        return cls(run.path, card, sha256)

    def summary(self):
        """What the model card records of the source: path, task, classes, test score, hash."""
        return {"run": self.path, "task": self.card.get("task"),
                "classes": self.card.get("classes"),
                "test": self.card.get("metrics", {}).get("test"),
                "model_sha256": self.sha256}

    def body(self, keras):
        """A new copy of the source's body: raw input to the features under its head.

        Loaded from the file for each model, so no two models share (and train) the
        same layers.
        """
        network = _network_with_head(keras, keras.saving.load_model(self.model_file,
                                                                     compile=False))
        if network is None:
            raise AutomlError(f"--init-from model {self.model_file} has no head layer "
                              f"named {' or '.join(HEADS)}")
        names = {layer.name for layer in network.layers}
        head = next(name for name in HEADS if name in names)
        under = HEAD_DROPOUT if HEAD_DROPOUT in names else head
        body = keras.Model(network.input, network.get_layer(under).input, name=BODY)
        return backbones.freeze_batch_norm(keras, body)

    def body_rate(self):
        """The source's own peak learning rate as a share of `HEAD_RATE`, within
        `BODY_RATES` (the full rate where its card does not say)."""
        rate = self.card.get("hyperparameters", {}).get("optimizer/learning_rate")
        if not rate:
            return BODY_RATES[1]
        return min(max(float(rate) / HEAD_RATE, BODY_RATES[0]), BODY_RATES[1])

    def features(self, keras, inputs):
        """The source's features of `inputs`."""
        return self.body(keras)(inputs)


def _network_with_head(keras, model):
    """`model`, or the first model nested in it (an ensemble's member, a test-time
    model's network), that holds a head layer; None where there is none."""
    if any(layer.name in HEADS for layer in model.layers):
        return model
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found = _network_with_head(keras, layer)
            if found is not None:
                return found
    return None


def chosen(hp, source):
    """Whether the configuration `hp` starts from `source` (registers the choice)."""
    if source is None:
        return False
    if hp.Choice(CHOICE, ["on", "off"], default="on") != "on":
        return False
    with hp.conditional_scope(CHOICE, ["on"]):
        hp.Float(BODY_RATE, *BODY_RATES, sampling="log", default=BODY_RATES[1])
    return True


def task_known_good(source, task_values):
    """The task's known-good values, with a source each marked as not starting from it."""
    if source is None:
        return list(task_values)
    return [{**values, CHOICE: "off"} for values in task_values]


def first_values(source):
    """Values tried before the task's known-good ones: the source, where there is one
    (its new head learns from scratch at `HEAD_RATE`; its body at the rate the source's
    own search chose, as a share of the head's)."""
    if source is None:
        return []
    return [{CHOICE: "on", "optimizer/learning_rate": HEAD_RATE, BODY_RATE: source.body_rate()}]


def used(hp):
    """Whether the configuration `hp` (once built) starts from the source."""
    return hp.values.get(CHOICE) == "on"


def card_record(source, values):
    """What the model card says of the source: `{"init_from": {...}}` (whether the export
    starts from it, too), or `{}` without one."""
    if source is None:
        return {}
    return {"init_from": {**source.summary(), "used": values.get(CHOICE) == "on"}}


def training_model(keras, model, hp):
    """The fine-tuning twin of a `model` that starts from the source
    (`automl.transfer.fine_tuning`): its body frozen for the first epoch, then trained at
    `init_from/body_rate` times the learning rate."""
    rate = float(hp.values.get(BODY_RATE, BODY_RATES[1]))
    return fine_tuning.training_twin(keras, model, BODY, rate)
