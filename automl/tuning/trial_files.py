"""What each trial leaves in the search folder: best weights, history, val probabilities.

`RUN/search/trial_<id>/` holds `best.weights.h5` (the trial's best-epoch weights:
promotions continue them, exports may use them), `history.json` (its per-epoch
metrics, its parent's first epochs included) and, for ensembles,
`val_probabilities.npy`. Every file is written to a temporary name and renamed.

A worker of a distributed search writes them under its attempt
(`trial_<id>/attempt-<token>/`, `staging`); the chief moves them into place when it
accepts that attempt's result (`promote`), so an attempt the chief no longer
counts (its trial was handed to another worker) never overwrites the owner's files.
Attempts that never count (their worker was stopped or lost, the search ended
without them) are removed. Trial ids name folders: only plain ids (letters, digits,
`_`, `-`) are accepted, so no id reaches outside the search folder.
"""

import glob
import json
import os
import re
import shutil

import numpy as np

from automl.run_folder import HISTORY_FILE
from automl.runtime.files import write_json

WEIGHTS_FILE = "best.weights.h5"
PROBABILITIES_FILE = "val_probabilities.npy"
TRIAL_ID = re.compile(r"[A-Za-z0-9_-]+")


def check_trial_id(trial_id):
    """`trial_id` as a string, if it is a plain id; ValueError otherwise."""
    text = str(trial_id)
    if not TRIAL_ID.fullmatch(text):
        raise ValueError(f"not a trial id: {text!r}")
    return text


class TrialFiles:
    """The files of the trials of the search project at `project_dir`."""

    def __init__(self, project_dir):
        self.project_dir = project_dir
        self.staging = None  # an attempt's token: files are then written under it
        self._probabilities = {}

    def folder(self, trial_id):
        return os.path.join(self.project_dir, f"trial_{check_trial_id(trial_id)}")

    def attempt_folder(self, trial_id, token):
        return os.path.join(self.folder(trial_id), f"attempt-{int(token)}")

    def _written(self, trial_id, name):
        """Where a file of `trial_id` is written: in place, or under the attempt being staged."""
        folder = (self.folder(trial_id) if self.staging is None
                  else self.attempt_folder(trial_id, self.staging))
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, name)

    def promote(self, trial_id, token):
        """Move the files an attempt wrote into place (the chief accepted its result)."""
        staged = self.attempt_folder(trial_id, token)
        if not os.path.isdir(staged):
            return
        for name in sorted(os.listdir(staged)):
            if not (name.startswith(".") or name.endswith(".tmp") or ".tmp." in name):
                os.replace(os.path.join(staged, name), os.path.join(self.folder(trial_id), name))
        shutil.rmtree(staged, ignore_errors=True)

    def discard(self, trial_id, token):
        """Remove what an attempt the chief refused wrote."""
        shutil.rmtree(self.attempt_folder(trial_id, token), ignore_errors=True)

    def discard_attempts(self):
        """Remove every attempt's files still staged: once the search ends none counts."""
        for folder in glob.glob(os.path.join(glob.escape(self.project_dir), "trial_*",
                                             "attempt-*")):
            shutil.rmtree(folder, ignore_errors=True)

    def weights_path(self, trial_id):
        return os.path.join(self.folder(trial_id), WEIGHTS_FILE)

    def keep_weights(self, trial_id, model):
        path = self._written(trial_id, WEIGHTS_FILE)
        temporary = path.replace(".weights.h5", ".tmp.weights.h5")
        model.save_weights(temporary)
        os.replace(temporary, path)

    def remove_weights(self, keep):
        """Delete the weights of every trial whose id is not in `keep`."""
        for name in os.listdir(self.project_dir):
            trial_id = name.removeprefix("trial_")
            if name == trial_id or trial_id in keep or not TRIAL_ID.fullmatch(trial_id):
                continue
            path = self.weights_path(trial_id)
            if os.path.exists(path):
                os.remove(path)

    def keep_history(self, trial_id, history, parent, initial_epoch):
        """Save a trial's per-epoch metrics after its parent's first `initial_epoch` epochs."""
        earlier = self.history(parent) if parent else {}
        curves = {name: [float(v) for v in earlier.get(name, [])[:initial_epoch]]
                  + [float(v) for v in values] for name, values in history.items()}
        write_json(self._written(trial_id, HISTORY_FILE), curves)

    def history(self, trial_id):
        """A trial's saved per-epoch metrics (`{}` where none were saved)."""
        try:
            with open(os.path.join(self.folder(trial_id), HISTORY_FILE),
                      encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    def val_loss(self, trial_id, epoch):
        """A trial's validation loss after `epoch` (counted from 1), or None where not saved."""
        losses = self.history(trial_id).get("val_loss", [])
        return float(losses[epoch - 1]) if 0 < epoch <= len(losses) else None

    def probabilities_path(self, trial_id):
        return os.path.join(self.folder(trial_id), PROBABILITIES_FILE)

    def keep_val_probabilities(self, trial_id, probabilities):
        path = self._written(trial_id, PROBABILITIES_FILE)
        with open(path + ".tmp", "wb") as handle:
            np.save(handle, probabilities)
        os.replace(path + ".tmp", path)

    def val_probabilities(self, trial_id, predict):
        """A trial's saved validation probabilities, or `predict()` where none were saved.

        Read once per saved file: the planner asks for the selected ensemble often.
        """
        path = self.probabilities_path(trial_id)
        key = (trial_id, os.stat(path).st_mtime_ns if os.path.exists(path) else None)
        if key not in self._probabilities:
            self._probabilities[key] = np.load(path) if key[1] is not None else predict()
        return self._probabilities[key]
