"""One search from settings to an exported model: the data flow, in order.

settings -> task -> data (checked before anything is written) -> search ->
retrain the final trial on train+val, or average an ensemble of search models ->
evaluate once on test -> export -> report.
"""

import contextlib
import dataclasses
import io
import os
import platform
import shutil
import time

import numpy as np

from automl import problems, registry, settings as settings_lib
from automl.data import fingerprint, in_memory
from automl.data.feeds import Feeds
from automl.distribute import chief as chief_lib
from automl.errors import AutomlError, SearchFailed, SearchInterrupted
from automl.export import litert
from automl.export.saved_model import export_model, export_outputs
from automl.problems import class_weights, objectives
from automl.report import tensorboard
from automl.report.page import misclassified_examples
from automl.report.progress import Progress
from automl.report.run_report import rebuild_report, write_run_report
from automl.run_folder import EXAMPLES_FILE, RunDir, StateKeeper, fresh_state
from automl.runtime import devices, env, interrupt
from automl.runtime.files import write_json
from automl.runtime.timing import PhaseClock
from automl.tuning.budget import Budget
from automl.tuning.ensemble import average_model
from automl.tuning.planner import probe_minimum_budget
from automl.tuning.probe import measure
from automl.tuning.trial_files import TrialFiles
from automl.tuning.tuner import SearchTuner, TaskHyperModel


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


def library_versions():
    import keras
    import keras_tuner
    import tensorflow as tf
    import tensorflow_datasets as tfds
    from importlib import metadata

    return {"keras-automl": metadata.version("keras-automl"), "tensorflow": tf.__version__,
            "keras": keras.__version__, "keras-tuner": keras_tuner.__version__,
            "tensorflow-datasets": tfds.__version__, "python": platform.python_version()}


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
    # keras-tuner prints "Reloading Tuner from ..." on stdout, which carries --json's document.
    with contextlib.redirect_stdout(io.StringIO()):
        tuner = SearchTuner(task, dataset, feeds, settings, budget, keras, tf, run.path,
                            progress, clock, probe=probe, after_trial=keeper.save,
                            trial_done=lambda: write_run_report(
                                run, settings.objective, interim_card, interim=True,
                                trials=tuner.oracle.trials.values()),
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
    hp.values.update((task.known_good(dataset.training_only()) or [{}])[0])
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


@dataclasses.dataclass
class Retrained:
    """An exported member: its model, how it was retrained and what it has seen."""

    model: object
    mode: str = None       # "fresh", "continued", or None: the trial's search model
    epochs: int = 0        # cumulative epochs of the retrain (0: none)
    examples: int = 0      # training examples the model has seen
    note: str = None       # why the search model was kept


def retrain(tuner, trial, settings, progress, kept_back=0.0, members=1):
    """`trial` retrained on train+val in the time left but `kept_back` seconds; a `Retrained`.

    The planner (`automl.tuning.planner.Planner.retrain_plan`) chooses: from scratch for the
    trial's best epoch count where it fits, or, where that is not worth its share of the budget,
    the trial's own weights continued on train+val until the time left is spent, its
    learning rate decaying by the clock to zero at the end (so it reaches the top
    rung and goes on as far as the machine's speed allows). Where neither fits, or a
    retrain from scratch is cut short, or the model does worse than the search model
    on val (which it trained on: a lower score, or a higher loss, so less sure of
    its answers), the trial's search model (trained on train only) is exported
    instead, with a note. `members` is how many models the export holds: their
    evaluation and export follow the retrain.
    """
    planner = tuner.planner
    deadline = planner.retrain_deadline(members) - kept_back
    mode, initial, epochs = planner.retrain_plan(trial, deadline - time.time())
    seen = int(trial.metrics.get_last_value("examples_seen") or 0)
    if mode is None:
        note = (f"kept the search model of trial {trial.trial_id}: retraining on train+val "
                f"(about {planner.retrain_estimate(trial):.0f}s) did not fit the time budget")
        return Retrained(tuner.best_model(trial), examples=seen, note=note)
    continued = mode == "continued"
    timed = continued and planner.continues_by_clock()
    progress.phase(f"continuing trial {trial.trial_id} on train+val until the budget's end"
                   if timed else
                   f"retraining trial {trial.trial_id} on train+val for {epochs} "
                   f"epoch{'s' * (epochs != 1)}")
    fitted = tuner.fit(trial.hyperparameters, "train+val", epochs, deadline,
                       validation=False, seed=settings.seed, initial_epoch=initial,
                       weights=tuner.weights_path(trial.trial_id) if continued else None,
                       timed=timed)
    ran = len(fitted.history.get("loss", []))
    if fitted.stopped:
        note = (f"kept the search model of trial {trial.trial_id}: retraining on train+val "
                f"reached the time budget after {initial + ran} of {epochs} "
                f"epoch{'s' * (epochs != 1)}")
        return Retrained(tuner.best_model(trial), examples=seen, note=note)
    if not _healthy(tuner, fitted.model, trial):
        note = (f"kept the search model of trial {trial.trial_id}: the model retrained on "
                "train+val did worse than it on val, which it had trained on")
        return Retrained(tuner.best_model(trial), examples=seen, note=note)
    examples = fitted.examples + (seen if continued else 0)
    return Retrained(fitted.model, mode, initial + ran if continued else epochs, examples)


def retrain_members(tuner, members, models, settings, progress):
    """Ensemble members retrained on train+val where the budget allows; a list of `Retrained`.

    Members are chosen on val with their search models; each is then retrained on
    train+val like a single exported trial (`retrain`), in order, each in the time
    left but what the members after it are expected to need (the first members,
    chosen first on val, matter most). A member whose retrain does not fit or fails
    keeps its search model.
    """
    needs = [tuner.planner.reserved_retrain(t, alone=False) for t in members]
    retrained = []
    for index, (trial, model) in enumerate(zip(members, models)):
        result = retrain(tuner, trial, settings, progress, kept_back=sum(needs[index + 1:]),
                         members=len(members))
        if result.mode is None:
            result.model = model
        else:
            result.model.name = model.name
            tuner.calibrate(trial, result.model)
        retrained.append(result)
    return retrained


def _healthy(tuner, model, best):
    """Whether a model retrained on train+val does at least as well as the search model on val.

    Val is part of its training data, so a sound retrain matches or beats the search
    model's score there, and its loss is no higher (it is at least as sure of the
    right answers); otherwise the retrain diverged, landed badly or ended too soon.
    """
    objective = tuner.oracle.objective
    hp = best.hyperparameters
    logs = model.evaluate(tuner.feeds.pipeline("val", hp, tuner.batch_size(hp), training=False),
                          verbose=0, return_dict=True)
    score = logs.get(objective.name.removeprefix("val_"))
    if score is not None and (score > best.score if objective.direction == "min"
                              else score < best.score):
        return False
    search_loss = tuner.files.val_loss(best.trial_id, int(best.metrics.get_last_value("best_epoch")))
    return search_loss is None or logs.get("loss", search_loss) <= search_loss


def finish(tuner, task, dataset, settings, budget, run, progress, tf, keras, clock):
    """Retrain the final trial on train+val (or average an ensemble), test, export, report."""
    failed = tuner.failed_trials()
    if tuner.final_trial() is None:
        reason = failed[-1].message if failed else "no trial ran"
        if failed:
            write_run_report(run, settings.objective, {"task": task.name,
                                                        "data": {"source": settings.data}},
                             interim=True)
        raise SearchFailed(f"every trial failed ({reason})")
    shape, dtype = task.input_spec(dataset.meta)
    problem = problems.get(dataset.problem)
    interrupt.check()
    clock.switch("retrain")
    if tuner.ensemble_size > 1:
        progress.phase("selecting the ensemble on val")
    members, models, val_probabilities = tuner.ensemble()
    best = members[0]
    val_scores = {settings.objective: best.score}
    wrap, test_time = _test_time_choice(tuner, task, best, dataset, settings.objective)
    tuner.planner.copies = max(test_time["cost"], 1.0) if test_time and test_time["used"] else 1
    if len(members) > 1:
        exported = retrain_members(tuner, members, models, settings, progress)
        model = average_model(keras, [m.model for m in exported], shape, dtype,
                              f"{task.name}_ensemble")
        epochs = 0
        val_scores[f"ensemble_{settings.objective.removeprefix('val_')}"] = problem.score(
            settings.objective, val_probabilities, dataset.val.y)
    else:
        exported = [retrain(tuner, best, settings, progress)]
        model, epochs = exported[0].model, exported[0].epochs
    retrained = sum(1 for m in exported if m.mode is not None)
    note = "; ".join(m.note for m in exported if m.note) or None
    if test_time is not None:
        test_time["latency_ms"] = _latencies(model, wrap(model), dataset, tuner.feeds.input_dtype)
        if test_time["used"]:
            model = wrap(model)
    interrupt.check()
    clock.switch("evaluate")
    hp = best.hyperparameters
    thresholds = _thresholds(tuner, problem, model, hp, dataset)
    predictions = model.predict(
        tuner.feeds.pipeline("test", hp, tuner.batch_size(hp), training=False), verbose=0)
    test_scores = problem.scores(dataset.test.y, predictions, dataset.classes, thresholds)
    if problem.name == "classification":
        write_json(os.path.join(run.search, EXAMPLES_FILE),
                   misclassified_examples(
                       task.name, dataset.test, np.argmax(predictions, axis=-1), predictions,
                       dataset.classes))
    chance, test_scores["near_chance"] = problem.baseline(dataset.train.y, dataset.test.y,
                                                          test_scores)
    test_scores[BASELINE_KEYS[problem.name]] = chance
    trials = list(tuner.oracle.trials.values())
    tensorboard.write_experiment(tf, tuner.log_root, trials, [settings.objective])
    card = {
        "task": task.name,
        "classes": dataset.classes,
        "problem": {"type": problem.name, "reason": dataset.problem_reason,
                    **_problem_facts(problem, dataset, thresholds, settings.label_separator)},
        "input": {"name": "inputs", "shape": [None, *shape], "dtype": dtype},
        "outputs": export_outputs(problem.name, len(dataset.classes)),
        "data": {"source": settings.data, **dataset.meta,
                 "examples": {s: len(dataset.split(s)) for s in ("train", "val", "test")},
                 "shuffle_buffer": tuner.feeds.shuffle_buffer("train+val", len(dataset.train)
                                                              + len(dataset.val))},
        "options": settings.options,
        "class_weight": class_weights.describe(settings.class_weight, dataset.train.y,
                                               dataset.classes)
        if problem.name == "classification" else {"mode": "none"},
        "hyperparameters": {k: v for k, v in hp.values.items() if not k.startswith("tuner/")},
        "metrics": {"val": val_scores, "test": test_scores},
        "test_time_augmentation": test_time,
        "search": {
            "tuner": settings.tuner, "scheduler": _scheduler_summary(tuner),
            "objective": settings.objective, "seed": settings.seed,
            "max_trials": tuner.max_trials, "trials": len(trials),
            "completed": len(tuner.completed_trials()), "failed": len(failed),
            "promoted": sum(1 for t in trials if t.hyperparameters.values.get("tuner/trial_id")),
            "workers": dict(sorted(tuner.workers.items())),
            "failures": {t.trial_id: t.message for t in failed},
            "best_trial": tuner.best_trial().trial_id, "exported_trial": best.trial_id,
            "ensemble": [t.trial_id for t in members],
            "stop_reason": tuner.stop_reason,
            "time_budget_seconds": settings.time_budget,
            "retrain_epochs": epochs,
            "retrained_on_train_val": retrained,
            "retrain_mode": {t.trial_id: m.mode for t, m in zip(members, exported)},
            "examples_seen": {t.trial_id: m.examples for t, m in zip(members, exported)},
            "skipped": getattr(tuner.oracle, "skipped", None),
            "best_trial_epochs": int(best.metrics.get_last_value("best_epoch")),
            "retrain_note": note,
            "probe": _probe_summary(tuner.probe),
            "seconds": None,
            "wall_seconds": None,
        },
        "versions": library_versions(),
    }
    interrupt.check()
    progress.phase("exporting")
    clock.switch("export")
    export_model(tf, keras, model, card, shape, dtype, run.model)
    card["search"]["seconds"] = clock.totals()
    card["search"]["wall_seconds"] = round(budget.elapsed(), 1)
    kept = [t.trial_id for t in trials] if settings.keep_trials else [t.trial_id for t in members]
    card["search"]["weights_kept"] = kept
    write_json(run.card, {**card, litert.PENDING: settings.export} if settings.export else card)
    if settings.export:
        try:
            card["litert"] = litert.export(run.path, settings_lib.parse_export(settings.export),
                                           dataset=dataset, progress=progress.phase,
                                           report=False)
        except AutomlError as error:  # the SavedModel stands; the card says what failed
            card["litert_error"] = str(error)
            progress.phase(f"no LiteRT file: {error}")
        card["search"]["seconds"] = clock.totals()
        card["search"]["wall_seconds"] = round(budget.elapsed(), 1)
        write_json(run.card, card)
    write_run_report(run, settings.objective, card, trials=trials)
    tuner.files.remove_weights(keep=set(kept))
    headline, figure = problem.headline(test_scores)
    balanced = (f" (balanced accuracy {test_scores['balanced_accuracy']:.4f})"
                if settings.class_weight == "balanced" else "")
    warning = (f" ({BASELINE_WARNINGS[problem.name].format(chance)}; the model has not learned "
               "from this data)" if test_scores["near_chance"] else "")
    progress.phase(
        f"done: test {headline} {figure:.4f}{balanced}{warning}, {len(trials)} "
        f"trial{'s' * (len(trials) != 1)} "
        f"({len(failed)} failed) in {budget.elapsed():.0f}s; model in {run.model}")
    return card


BASELINE_KEYS = {"classification": "chance_accuracy", "multilabel": "baseline_micro_f1",
                 "regression": "baseline_mae"}
BASELINE_WARNINGS = {
    "classification": "near chance: always answering the most common class scores {:.4f}",
    "multilabel": "near chance: always answering the same labels scores {:.4f}",
    "regression": "no better than always predicting the training mean, MAE {:.4f}",
}


def _thresholds(tuner, problem, model, hp, dataset):
    """A multilabel export's per-label thresholds, chosen on val with the exported model;
    None for other problem types.

    Where the export has trained on val too, a label it fits there keeps 0.5 (every
    threshold near it ties, and ties go to 0.5), and one it still misses moves.
    """
    if problem.name != "multilabel":
        return None
    predictions = model.predict(
        tuner.feeds.pipeline("val", hp, tuner.batch_size(hp), training=False), verbose=0)
    return problem.thresholds(np.asarray(predictions), dataset.val.y)


def _problem_facts(problem, dataset, thresholds, separator):
    """What the card says about the problem beyond its type: thresholds, the target's range."""
    if problem.name == "multilabel":
        return {"separator": separator, "thresholds": dict(zip(dataset.classes, thresholds))}
    if problem.name == "regression":
        mean, std = problems.standardisation(dataset.train.y)
        y = np.asarray(dataset.train.y)
        return {"target": {"mean": mean, "std": std, "min": float(y.min()), "max": float(y.max())}}
    return {}


def _probe_summary(probe):
    if probe is None:
        return None
    return {"build_seconds": round(probe.build_seconds, 2),
            "epoch_seconds": round(probe.epoch_seconds(), 2)}


def _scheduler_summary(tuner):
    rungs = getattr(tuner.oracle, "rungs", None)
    if rungs is None:
        return {"name": "hyperband" if tuner.settings.tuner == "hyperband" else "full"}
    train = len(tuner.dataset.train)
    return {"name": "asha", "rungs": [r.to_dict(train) for r in rungs],
            "first_rung": tuner.oracle.first_rung}


def _test_time_choice(tuner, task, trial, dataset, objective):
    """`(wrap, summary)`: the task's test-time augmentation, and whether it helps on val.

    The choice is made with the trial's search model, which has not trained on val,
    by the search objective; `wrap(model)` builds the augmented model. Without an
    augmentation to try, `(None, None)`; the summary gives both validation scores
    and how many times as long the augmented model takes to predict them (`cost`).
    """
    hp = trial.hyperparameters
    search_model = tuner.best_model(trial)
    problem = problems.get(dataset.problem)

    def wrap(model):
        return task.test_time_model(hp, model, dataset.meta)

    wrapped = wrap(search_model)
    if wrapped is None:
        return None, None
    batches = tuner.feeds.pipeline("val", hp, tuner.batch_size(hp), training=False)
    score, seconds = {}, {}
    for name, model in (("without", search_model), ("with", wrapped)):
        started = time.perf_counter()
        predictions = model.predict(batches, verbose=0)
        seconds[name] = time.perf_counter() - started
        score[name] = problem.score(objective, predictions, dataset.val.y)
    helps = (score["with"] > score["without"] if objectives.direction(objective) == "max"
             else score["with"] < score["without"])
    return wrap, {"kind": task.test_time_description, "used": helps,
                  "cost": round(seconds["with"] / max(seconds["without"], 1e-9), 2),
                  f"val_{objective.removeprefix('val_')}": score}


def _latencies(model, wrapped, dataset, dtype):
    """Single-example milliseconds of `model` without and with test-time augmentation."""
    example = np.asarray(dataset.val.head(1)).astype(dtype)
    return {"without": _latency_ms(model, example), "with": _latency_ms(wrapped, example)}


def _latency_ms(model, example, calls=20):
    """Median milliseconds of one call of `model` on one example (after a first call)."""
    model(example, training=False)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        model(example, training=False)
        times.append(time.perf_counter() - started)
    return round(1000 * sorted(times)[len(times) // 2], 3)


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
