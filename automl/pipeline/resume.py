"""Resuming a run: the rest of its search, or the LiteRT export a signal stopped.
"""

import os
import time

from automl import settings as settings_lib
from automl.distribute import chief as chief_lib
from automl.errors import AutomlError, SearchInterrupted
from automl.export import litert
from automl.pipeline.run import run_search
from automl.report.run_report import rebuild_report
from automl.run_folder import RunDir, StateKeeper
from automl.runtime.files import write_json
from automl.runtime.timing import PhaseClock
from automl.tuning.budget import Budget
from automl.tuning.trial_files import TrialFiles


def _finish_litert(run, settings, state, started_at):
    """The end of `finish` that a signal stopped while converting to LiteRT: the files,
    the card's and the budget's time (counted as export), the report, and the trial
    weights the export does not keep removed. Returns the card."""
    clock = PhaseClock(started_at, state.get("seconds"))
    budget = Budget(settings.time_budget, started_at - state["elapsed_seconds"])
    keeper = StateKeeper(run, budget, clock)
    keeper.start()
    try:
        clock.switch("export")
        try:
            card = litert.finish_pending(run.path)
        except KeyboardInterrupt:
            raise SearchInterrupted(run.path) from None
        card["search"]["seconds"] = clock.totals()
        card["search"]["wall_seconds"] = round(budget.elapsed(), 1)
        write_json(run.card, card)
        rebuild_report(run.path)
        TrialFiles(run.search).remove_weights(keep=set(card["search"]["weights_kept"]))
        keeper.save(finished=True)
    finally:
        keeper.stop()
    return card


def resume_search(run_dir, started_at=None, quiet_stdout=False, chief=None, local=False,
                  verbose=1, callbacks=()):
    """Continue the search in `run_dir`, or re-export a finished one whose export is missing.

    A distributed search resumes as the chief it was (its workers reconnect), unless
    `chief` gives other options or `local` runs the rest here. Returns the model
    card, or None when the search had already finished.
    """
    run = RunDir(run_dir)
    if not os.path.isfile(run.recipe):
        raise AutomlError(f"{run_dir} holds no search to resume (no recipe.yaml)")
    settings = settings_lib.load_recipe(run.recipe, [f"out={run_dir}"], legacy=True)
    run.recover()
    state = run.read_state()
    if state.get("finished") and os.path.isfile(run.card):
        return None
    if litert.pending(run.card):  # a signal stopped the LiteRT conversion: finish that
        return _finish_litert(run, settings, state, started_at or time.time())
    if chief is None and not local:

        chief = chief_lib.recorded_options(run_dir)
    return run_search(settings, started_at=started_at, resume=True, quiet_stdout=quiet_stdout,
                      chief=chief, verbose=verbose, callbacks=callbacks)
