"""Ensembles of searched models: greedy selection on validation, averaged outputs.

Ensemble selection (Caruana et al., 2004): start from the trial chosen for export
and add, one at a time, the trial whose model lowers the validation loss of the
averaged outputs most (log loss of probabilities, the RMSE of a regression's
values); stop when no trial lowers it or the ensemble is full. A trial is added
only if the average's score on the search objective does not fall either. Members
are the trials' own models, trained on train only, so validation data stays held
out for the choice.

Each member's class probabilities are first temperature-scaled on validation (Guo
et al., 2017): one scalar that divides its logits, fitted by log loss. It leaves the
member's predictions unchanged, but an overconfident member (a linear model on
thousands of n-grams is certain of nearly everything) no longer drowns the others
in the average, and log loss compares members fairly.
"""

import math

import numpy as np

from automl.problems.scores import log_loss


def accuracy(probabilities, labels):
    return float(np.mean(np.argmax(probabilities, axis=-1) == labels))


def with_temperature(probabilities, temperature):
    """Probabilities whose logits are divided by `temperature` (a softmax of log p / T)."""
    logits = np.log(np.clip(probabilities, 1e-38, 1.0)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=-1, keepdims=True)


def temperature(probabilities, labels, low=0.05, high=100.0, steps=40):
    """The temperature that minimises the log loss of `probabilities` on `labels`.

    Golden-section search on log T in [`low`, `high`]; the log loss is unimodal in T.
    """
    def loss(log_t):
        return log_loss(with_temperature(probabilities, math.exp(log_t)), labels)

    ratio = (math.sqrt(5) - 1) / 2
    a, b = math.log(low), math.log(high)
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    for _ in range(steps):
        if loss(c) < loss(d):
            b, d = d, c
            c = b - ratio * (b - a)
        else:
            a, c = c, d
            d = a + ratio * (b - a)
    return math.exp((a + b) / 2)


def select(first, candidates, val_probabilities, labels, size, score=accuracy, loss_of=log_loss):
    """Ids of the members, `first` first: greedy forward selection by validation loss.

    `val_probabilities` maps each id to its validation predictions ([N, C]
    probabilities, or values). Each step adds the candidate that lowers the
    average's `loss_of` (log loss by default) most among those that keep its
    `score` (a function of predictions and labels, higher better: the search's
    objective).
    """
    members = [first]
    total = np.array(val_probabilities[first], dtype="float64")
    loss, kept = loss_of(total, labels), score(total, labels)
    remaining = [c for c in candidates if c != first]
    while len(members) < size and remaining:
        steps = []
        for order, candidate in enumerate(remaining):
            average = (total + val_probabilities[candidate]) / (len(members) + 1)
            new_loss = loss_of(average, labels)
            if new_loss < loss and score(average, labels) >= kept:
                steps.append((new_loss, order, candidate))
        if not steps:
            break
        loss, _, pick = min(steps)
        members.append(pick)
        remaining.remove(pick)
        total = total + val_probabilities[pick]
        kept = score(total / len(members), labels)
    return members


def average_model(keras, models, input_shape, input_dtype, name):
    """One Keras model whose output is the mean of `models`' outputs (probabilities or values)."""
    inputs = keras.Input(shape=input_shape, dtype=input_dtype, name="inputs")
    outputs = keras.layers.Average(name="average")([model(inputs) for model in models])
    return keras.Model(inputs, outputs, name=name)
