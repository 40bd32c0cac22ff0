"""The report of a run folder: written after a search, rebuilt by `automl report`."""

import json
import os
import time

from automl import settings as settings_lib
from automl.errors import AutomlError
from automl.problems import objectives
from automl.report import page
from automl.run_folder import EXAMPLES_FILE, RunDir


PLOTS_SHARE = 0.05  # most of a search's time that redrawing its interim plots takes


def write_run_report(run, objective, card, interim=False, trials=None, drawn=None):
    """Write `RUN/report` from the trials saved in `RUN/search` and `card`; returns the
    plots drawn (`automl.report.page.figures`), or `drawn` where given.

    An interim report of a search that replaces an exported one goes to
    `RUN/search/report`, so `RUN/report` keeps describing the export until the new
    export replaces both.
    """
    if trials is None:  # `automl report`: the trials as saved
        trials = page.load_trials(run.search)
    records = page.trial_records(trials, run.search)
    examples = None
    path = os.path.join(run.search, EXAMPLES_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            examples = json.load(handle)
    folder = run.interim_report if interim and os.path.exists(run.model) else run.report
    maximize = objectives.direction(objective) == "max"
    if drawn is None:
        drawn = page.figures(records, card, objective, maximize, interim=interim)
    page.write_report(records, card, objective, maximize, drawn, folder,
                      state=run.read_state(), examples=examples)
    return drawn


class InterimReport:
    """The report of a running search, rewritten after each trial.

    Its trial table is current after every trial; its plots are redrawn once the time
    since they were last drawn is at least `1 / PLOTS_SHARE` times what writing the
    report with them cost, so that they never take more than that share of the search.
    """

    def __init__(self, run, objective, card):
        self.run, self.objective, self.card = run, objective, card
        self.drawn, self.redraw_at = None, 0.0

    def __call__(self, trials):
        started = time.monotonic()
        redraw = started >= self.redraw_at
        drawn = write_run_report(self.run, self.objective, self.card, interim=True,
                                 trials=trials, drawn=None if redraw else self.drawn)
        if redraw:
            ended = time.monotonic()
            self.drawn, self.redraw_at = drawn, ended + (ended - started) / PLOTS_SHARE


def rebuild_report(run_dir):
    """`automl report RUN`: the report rebuilt from what RUN holds; returns its path."""
    run = RunDir(run_dir)
    if not os.path.isfile(run.recipe):
        raise AutomlError(f"{run_dir} holds no search (no recipe.yaml)")
    settings = settings_lib.load_recipe(run.recipe, [f"out={run_dir}"], legacy=True)
    card = {"task": settings.task, "data": {"source": settings.data},
            "search": {"time_budget_seconds": settings.time_budget}}
    if os.path.isfile(run.card):
        with open(run.card, encoding="utf-8") as handle:
            card = json.load(handle)
    write_run_report(run, settings.objective, card)
    return os.path.join(run.report, "index.html")
