"""Ensembles of searched models: greedy selection on validation, averaged probabilities.

Ensemble selection (Caruana et al., 2004): start from the trial chosen for export
and add, one at a time, the trial whose model lowers the validation log loss of the
averaged probabilities most; stop when no trial lowers it or the ensemble is full.
A trial is added only if the average's validation accuracy does not fall either.
Members are the trials' own models, trained on train only, so validation data stays
held out for the choice.
"""

import math

import numpy as np


def log_loss(probabilities, labels):
    """Mean negative log probability of the true labels."""
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))


def accuracy(probabilities, labels):
    return float(np.mean(np.argmax(probabilities, axis=-1) == labels))


def one_standard_error(candidates, val_examples):
    """The one-standard-error rule: the smallest model within one standard error of the best.

    `candidates` are `(item, validation accuracy, parameter count)`, best first; the
    standard error is the binomial error of the best accuracy on `val_examples`.
    Returns the chosen item (the best one when no other is that close).
    """
    if not candidates:
        return None
    best_item, best_score, _ = candidates[0]
    margin = math.sqrt(max(best_score * (1 - best_score), 1e-12) / max(val_examples, 1))
    close = [(parameters, -score, index, item)
             for index, (item, score, parameters) in enumerate(candidates)
             if score >= best_score - margin and parameters is not None]
    return min(close, key=lambda row: row[:3])[3] if close else best_item


def select(first, candidates, val_probabilities, labels, size):
    """Ids of the members, `first` first: greedy forward selection by validation log loss.

    `val_probabilities` maps each id to its [N, C] validation probabilities.
    """
    members = [first]
    total = np.array(val_probabilities[first], dtype="float64")
    loss = log_loss(total, labels)
    remaining = [c for c in candidates if c != first]
    while len(members) < size and remaining:
        losses = {c: log_loss((total + val_probabilities[c]) / (len(members) + 1), labels)
                  for c in remaining}
        pick = min(remaining, key=lambda c: (losses[c], remaining.index(c)))
        average = (total + val_probabilities[pick]) / (len(members) + 1)
        if losses[pick] >= loss or accuracy(average, labels) < accuracy(
                total / len(members), labels):
            break
        members.append(pick)
        remaining.remove(pick)
        total = total + val_probabilities[pick]
        loss = losses[pick]
    return members


def average_model(keras, models, input_shape, input_dtype, name):
    """One Keras model whose output is the mean of `models`' probabilities."""
    inputs = keras.Input(shape=input_shape, dtype=input_dtype, name="inputs")
    outputs = keras.layers.Average(name="average")([model(inputs) for model in models])
    return keras.Model(inputs, outputs, name=name)
