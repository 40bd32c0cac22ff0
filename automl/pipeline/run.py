"""One search from settings to an exported model: the data flow, in order.

settings -> task -> data (checked before anything is written) -> search ->
retrain the final trial on train+val, or average an ensemble of search models ->
evaluate once on test -> export -> report (`automl.pipeline.finish`).
"""

import contextlib
import dataclasses
import io
import os
import shutil
import time

import numpy as np

from automl import capabilities, problems, registry, settings as settings_lib
from automl.data import fingerprint, in_memory
from automl.data.feeds import Feeds
from automl.distribute import chief as chief_lib
from automl.errors import AutomlError, SearchInterrupted
from automl.export import litert
from automl.pipeline.finish import finish
from automl.problems import class_weights
from automl.report.progress import Progress
from automl.report.run_report import InterimReport
from automl.run_folder import RunDir, StateKeeper, fresh_state
from automl.runtime import devices, env, interrupt
from automl.runtime.files import write_json
from automl.runtime.timing import PhaseClock
from automl.transfer import init_from
from automl.tuning.budget import Budget
from automl.tuning.hypermodel import TaskHyperModel
from automl.tuning.planner import probe_minimum_budget
from automl.tuning.probe import measure
from automl.tuning.tuner import SearchTuner


def check_output(run, task_name, overwrite, resume=False, command="search"):
    """Refuse an output path that cannot hold this run, before anything is written.

    A folder that holds something but no search is refused unless `overwrite`: the
    export would replace its `model/` and `report/`.
    """
    path = run.path
    if os.path.exists(path) and not os.path.isdir(path):
        raise AutomlError(f"output path is a file, not a folder: {path}")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise AutomlError(f"output path {path} is below {existing}, which is a file")
    if not os.access(existing, os.W_OK):
        raise AutomlError(f"output path is not writable: {path}")
    start_over = ("--overwrite" if command == "search" else "`automl run RECIPE --overwrite`")
    another = "--out" if command == "search" else "out (--set out=PATH)"
    if not (resume or overwrite or run.has_search()) and os.path.isdir(path) and os.listdir(path):
        raise AutomlError(f"{path} is not empty and holds no search: choose another {another}, "
                          f"or write the run into it with {start_over} (which replaces its "
                          "model/ and report/)")
    run.recover()
    if resume or overwrite or not run.has_search():
        return
    again = f"{another}, or replace it with {start_over}"
    previous = _recorded_task(run)
    if previous and previous != task_name:
        raise AutomlError(
            f"{path} holds a search of task '{previous}', not '{task_name}': choose another "
            + again)
    raise AutomlError(
        f"{path} already holds a search: continue it with `automl resume {path}` "
        f"or start over with {start_over}")


def _recorded_task(run):
    try:
        return settings_lib.load_recipe(run.recipe, legacy=True).task
    except AutomlError:
        return None



def run_search(settings, started_at=None, resume=False, live=None, quiet_stdout=False,
               overwrite=False, command="search", chief=None, verbose=1, callbacks=()):
    """Search, retrain, evaluate and export; returns the model card.

    With `overwrite`, an earlier search in the run directory is replaced; its model
    and report stay until the new export replaces them. With `quiet_stdout`,
    progress goes to stderr, leaving stdout to the caller; with `verbose=0` there is
    none. `callbacks` receive each finished trial's record. With `chief`
    (`automl.distribute.chief.ChiefOptions`), workers run the trials.
    """
    started_at = started_at or time.time()
    run = RunDir(settings.out)
    state = run.read_state() if resume else fresh_state()
    clock = PhaseClock(started_at, state.get("seconds"))
    budget = Budget(settings.time_budget, started_at - state["elapsed_seconds"])
    task = registry.get_task(settings.task)
    check_output(run, task.name, overwrite, resume, command)
    if settings.init_from:
        init_from.Source.open(settings.init_from, task.name, settings.out)
    keeper = StateKeeper(run, budget, clock)
    if resume:
        keeper.start()
    try:
        return _search(settings, task, run, budget, clock, keeper, resume, live, quiet_stdout,
                       overwrite, chief, verbose, callbacks)
    finally:
        keeper.stop()


def _search(settings, task, run, budget, clock, keeper, resume, live, quiet_stdout, overwrite,
            chief, verbose, callbacks):
    """`run_search` once the output is checked; `keeper` records the time spent."""
    settings = _with_absolute_data(settings, task)
    tf, keras = env.import_tensorflow()
    devices.set_threads(tf, settings.threads)
    strategy = devices.configure(tf, keras, settings)
    clock.switch("data")
    source_print = fingerprint.of_source(settings, task)
    if resume:
        fingerprint.check_unchanged(run.path, source_print, None)
    dataset = task.load(settings)
    settings, weighting = _weighted(settings, dataset, task)
    splits = fingerprint.of_splits(dataset)
    if resume:
        fingerprint.check_unchanged(run.path, source_print, splits)
    clock.switch("startup")

    tf.config.experimental.enable_op_determinism()
    feeds = Feeds(task, dataset, settings.seed, tf, settings.class_weight)
    probe = None
    if settings.time_budget is not None:
        probe = _probe(task, dataset, feeds, settings, keras)
        if not resume:
            _check_budget(settings, budget.elapsed(), probe)

    interrupt.check()
    progress = Progress(settings, budget, live=live, to_stderr=quiet_stdout, quiet=not verbose,
                        callbacks=callbacks)
    os.makedirs(run.path, exist_ok=True)
    if not resume:
        if overwrite:
            litert.clear_pending(run.card)  # the old export's conversion is not this search's
            write_json(run.state, fresh_state())  # the old model is not this search's
            for folder in (run.search, run.logs):
                shutil.rmtree(folder, ignore_errors=True)
        _write_recipe(settings, run.recipe)
        fingerprint.save(run.path, source_print, splits)
        keeper.start()
    progress.phase(
        f"{task.name}: {_outputs_line(dataset)}, {len(dataset.train)} train / "
        f"{len(dataset.val)} val / {len(dataset.test)} test examples from {settings.data}")
    progress.phase(f"problem {dataset.problem} ({dataset.problem_reason})")
    progress.phase(f"class weights {settings.class_weight} ({weighting}); "
                   f"objective {settings.objective}")

    clock.switch("trials")
    interim_card = {"task": task.name, "classes": dataset.classes,
                    "data": {"source": settings.data},
                    "search": {"time_budget_seconds": settings.time_budget}}
    interim_report = InterimReport(run, settings.objective, interim_card)
    # keras-tuner prints "Reloading Tuner from ..." on stdout, which carries --json's document.
    with contextlib.redirect_stdout(io.StringIO()):
        tuner = SearchTuner(task, dataset, feeds, settings, budget, keras, tf, run.path,
                            progress, clock, probe=probe, after_trial=keeper.save,
                            trial_done=lambda: interim_report(tuner.oracle.trials.values()),
                            strategy=strategy)

    def trial_ended(trial, seconds):  # a trial a worker ran, as the local loop ends one
        tuner.save()
        tuner.after_trial()
        tuner.trial_done()
        progress.trial_ended(trial, seconds, tuner)

    try:
        if chief is None:
            tuner.search()
        else:

            chief_lib.serve(tuner, chief, run.path, trial_ended)
    except KeyboardInterrupt:
        raise SearchInterrupted(run.path) from None
    finally:
        progress.close()
        keeper.save()
    if tuner.stop_reason == "failures":
        failures = tuner.settings.max_failures
        progress.phase(f"stopped after {failures} failed trial{'s' * (failures != 1)} in a row "
                       f"(most often: {tuner.failure_note})")
    try:
        card = finish(tuner, task, dataset, settings, budget, run, progress, tf, keras, clock)
    except KeyboardInterrupt:
        raise SearchInterrupted(run.path) from None
    keeper.save(finished=True)
    return card


def _with_absolute_data(settings, task):
    """`settings` with a local data path made absolute, so the run resumes from any folder.

    A path that is not there is reported as missing, before its fingerprint would
    call it changed.
    """
    source = settings.data
    if (source.startswith("tfds:") or in_memory.is_source(source)
            or source in task.builtin_sources()):
        return settings
    if not os.path.exists(source):
        raise AutomlError(f"data not found: {source}")
    return dataclasses.replace(settings, data=os.path.abspath(source))


def _weighted(settings, dataset, task):
    """`settings` with the class weighting and the objective decided, and why that weighting.

    The recipe records both, so a resumed search and its workers train as this one.
    Class weights are for classification; other problem types take none.
    """
    problem = problems.get(dataset.problem)
    if problem.name not in task.supported_problems():
        raise AutomlError(f"the {task.name} task does not do {problem.name} "
                          f"({dataset.problem_reason}; it does "
                          f"{', '.join(task.supported_problems())})")
    if problem.name != "classification":
        if settings.class_weight == "balanced":
            raise AutomlError(f"--class-weight balanced is for classification; this is a "
                              f"{problem.name} search")
        mode, reason = "none", f"not a classification: {problem.name}"
    else:
        mode, reason = class_weights.resolve(settings.class_weight, dataset.train.y,
                                             len(dataset.classes))
    objective = settings.objective or problem.default_objective(mode)
    problem.check_objective(objective, dataset.classes)
    return dataclasses.replace(settings, class_weight=mode, objective=objective), reason


def _outputs_line(dataset):
    if dataset.problem == "regression":
        low, high = float(np.min(dataset.train.y)), float(np.max(dataset.train.y))
        return f"a numeric target from {low:g} to {high:g}"
    kind = "labels" if dataset.problem == "multilabel" else "classes"
    return f"{len(dataset.classes)} {kind}"


def _probe(task, dataset, feeds, settings, keras):
    """Measure the first configuration's costs (see `automl.tuning.probe`)."""
    import keras_tuner as kt

    hp = kt.HyperParameters()
    hp.values.update((capabilities.known_good(task, dataset.training_only()) or [{}])[0])
    batch_size = settings.batch_size or task.batch_size(hp)
    return measure(TaskHyperModel(task, dataset, keras, settings.objective), feeds, hp,
                   batch_size, keras)


def _check_budget(settings, elapsed, probe):
    """Refuse a budget too short for the first trial (one epoch) and the export."""
    needed = probe_minimum_budget(probe, elapsed, len(settings_lib.parse_export(settings.export)))
    if settings.time_budget < needed:
        raise AutomlError(f"time budget {settings.time_budget:g}s is too short: one trial needs "
                          f"about {needed}s here")


def _write_recipe(settings, path):
    temporary = path + ".tmp"
    settings_lib.dump_recipe(settings, temporary)
    os.replace(temporary, path)
