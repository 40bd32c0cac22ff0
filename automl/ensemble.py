"""Ensembles of searched models: greedy selection on validation, averaged probabilities.

Ensemble selection (Caruana et al., 2004): start from the trial chosen for export
and add, one at a time, the trial whose model lowers the validation log loss of the
averaged probabilities most; stop when no trial lowers it or the ensemble is full.
Members are the trials' own models, trained on train only, so validation data stays
held out for the choice.
"""

import numpy as np


def log_loss(probabilities, labels):
    """Mean negative log probability of the true labels."""
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))


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
        if losses[pick] >= loss:
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
