"""The report of a run folder: written after a search, rebuilt by `automl report`."""

import json
import os

from automl import settings as settings_lib
from automl.errors import AutomlError
from automl.problems import objectives
from automl.report import page
from automl.run_folder import EXAMPLES_FILE, RunDir


def write_run_report(run, objective, card, interim=False, trials=None):
    """Write `RUN/report` from the trials saved in `RUN/search` and `card`.

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
    page.write_report(records, card, objective, objectives.direction(objective) == "max",
                      folder, state=run.read_state(), examples=examples, interim=interim)


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
