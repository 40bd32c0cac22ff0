"""The run folder's layout: its paths, file names and saved state.

    RUN/recipe.yaml   RUN/state.json   RUN/search/ (keras-tuner project, trials)
    RUN/model/ (SavedModel, model.keras, model_card.json)   RUN/report/   RUN/logs/

Every stage that reads or writes a run takes its paths from here.
"""

import json
import os
import threading

from automl.errors import AutomlError
from automl.runtime.files import recover_folder, write_json

HISTORY_FILE = "history.json"    # a trial's learning curves (RUN/search/trial_ID)
EXAMPLES_FILE = "examples.json"  # misclassified test examples for the report (RUN/search)
WORKERS_FILE = "workers.json"    # trial id -> the worker that ran it (RUN/search)
ENDED_FILE = "ended"             # RUN/search/ended: the search handed out its last trial
CHIEF_FILE = "chief.json"        # RUN/search/chief.json: where the chief of the search listens
STATE_FILE = "state.json"
SAVE_INTERVAL = 5.0  # seconds between saves of the time spent, whatever the command is doing


class RunDir:
    """Paths of a run directory."""

    def __init__(self, path):
        self.path = path
        self.recipe = os.path.join(path, "recipe.yaml")
        self.search = os.path.join(path, "search")
        self.model = os.path.join(path, "model")
        self.card = os.path.join(self.model, "model_card.json")
        self.report = os.path.join(path, "report")
        self.interim_report = os.path.join(self.search, "report")
        self.logs = os.path.join(path, "logs")
        self.state = os.path.join(path, STATE_FILE)

    def has_search(self):
        return os.path.isdir(self.search) or os.path.exists(self.recipe)

    def read_state(self):
        """The saved budget and progress; a fresh state where none was saved yet."""
        if not os.path.exists(self.state):
            return fresh_state()
        try:
            with open(self.state, encoding="utf-8") as handle:
                state = json.load(handle)
            float(state["elapsed_seconds"])
            return state
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise AutomlError(f"cannot read {self.state} ({type(error).__name__}): "
                              "the budget spent so far is unknown") from None

    def recover(self):
        """Put back a model or report folder an interrupted export left moved aside."""
        if os.path.isdir(self.path):
            for folder in (self.model, self.report):
                recover_folder(folder)


def fresh_state():
    return {"elapsed_seconds": 0.0, "finished": False}


class StateKeeper:
    """Keeps `RUN/state.json` current: the budget spent, per phase, and whether the run finished.

    `save` writes it at once (after each trial and epoch, when the search ends or is
    stopped); once started, a background thread also writes it every `interval`
    seconds, through the retrain, the evaluation and the export too, so a command
    killed without warning (SIGKILL) loses at most that much of the time it spent.
    `stop` ends the thread and writes the state a last time.
    """

    def __init__(self, run, budget, clock, interval=SAVE_INTERVAL):
        self.run, self.budget, self.clock, self.interval = run, budget, clock, interval
        self.finished = False
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = None

    def save(self, finished=False):
        with self._lock:
            self.finished = self.finished or finished
            write_json(self.run.state, {"elapsed_seconds": self.budget.elapsed(),
                                        "finished": self.finished,
                                        "seconds": self.clock.totals()})

    def start(self):
        self._thread = threading.Thread(target=self._keep, name="automl-state", daemon=True)
        self._thread.start()

    def stop(self):
        if self._thread is None:
            return
        self._stopping.set()
        self._thread.join()
        self._thread = None
        self.save()

    def _keep(self):
        while not self._stopping.wait(self.interval):
            try:
                self.save()
            except OSError:  # the next save tries again; the main thread's saves report
                pass
