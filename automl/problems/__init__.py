"""Problem types: what a search predicts, and everything that follows from it.

- `classification`: one class per example. A softmax head named `probabilities`,
  cross-entropy on one-hot labels; labels are integer class ids.
- `multilabel`: any number of labels per example (a label cell holds them joined
  by a separator, `|` by default). A sigmoid per label, binary cross-entropy;
  labels are multi-hot rows; a decision threshold per label is chosen on val.
- `regression`: a number per example. A linear head whose output, named `value`,
  is in the target's own units (the standardisation is inside the model); the loss
  (MSE or Huber) is taken on the standardised target; labels are floats.

The core chooses the head, loss, metrics and scores from the problem type; a task
builds the network body only (`automl.Task.build`).
"""

from automl.problems.inference import (NAMES, SEPARATOR, check_name, infer, label_parts,
                                       number, resolve)
from automl.problems.types import Problem, get, standardisation

__all__ = ["NAMES", "SEPARATOR", "Problem", "check_name", "get", "infer", "label_parts",
           "number", "resolve", "standardisation"]
