"""The end of a search: retrain or ensemble the chosen trials, evaluate once on test,
choose thresholds and the test-time model, assemble the model card, export, report.
"""

import os
import platform
import time

import numpy as np

from automl import capabilities, problems, settings as settings_lib, transfer
from automl.errors import AutomlError, SearchFailed
from automl.export import litert
from automl.export.saved_model import export_model, export_outputs
from automl.pipeline.retraining import retrain, retrain_members
from automl.problems import class_weights, objectives
from automl.report import tensorboard
from automl.report.page import misclassified_examples
from automl.report.run_report import write_run_report
from automl.run_folder import EXAMPLES_FILE
from automl.runtime import interrupt
from automl.runtime.files import write_json
from automl.transfer import init_from
from automl.tuning.ensemble import average_model
from automl.tuning.scheduler import configuration


def finish(tuner, task, dataset, settings, budget, run, progress, tf, keras, clock):
    """Retrain the final trial on train+val (or average an ensemble), test, export, report."""
    failed = tuner.failed_trials()
    if tuner.final_trial() is None:
        skipped = (getattr(tuner.oracle, "skipped", None) or {}).get("last_reason")
        if failed:
            reason = failed[-1].message
        elif skipped:
            reason = f"no trial ran; the last configuration skipped: {skipped}"
        else:
            reason = "no trial ran"
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
        "hyperparameters": configuration(hp.values),
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
        **transfer.card_record(settings, task.name),
        **init_from.card_record(tuner.hypermodel.source, hp.values),
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
        return capabilities.test_time_model(task, hp, model, dataset.meta)

    wrapped = wrap(search_model)
    if wrapped is None:
        return None, None
    wrapped.run_eagerly = search_model.run_eagerly
    batches = tuner.feeds.pipeline("val", hp, tuner.batch_size(hp), training=False)
    score, seconds = {}, {}
    for name, model in (("without", search_model), ("with", wrapped)):
        started = time.perf_counter()
        predictions = model.predict(batches, verbose=0)
        seconds[name] = time.perf_counter() - started
        score[name] = problem.score(objective, predictions, dataset.val.y)
    helps = (score["with"] > score["without"] if objectives.direction(objective) == "max"
             else score["with"] < score["without"])
    return wrap, {"kind": capabilities.test_time_description(task), "used": helps,
                  "cost": round(seconds["with"] / max(seconds["without"], 1e-9), 2),
                  f"val_{objective.removeprefix('val_')}": score}


def _latencies(model, wrapped, dataset, dtype):
    """Single-example milliseconds of `model` without and with test-time augmentation."""
    example = np.asarray(dataset.val.head(1)).astype(dtype)
    return {"without": _latency_ms(model, example), "with": _latency_ms(wrapped, example)}


def _latency_ms(model, example, calls=20, seconds=0.5):
    """Median milliseconds of one call of `model` on one example (after a first call):
    `calls` calls, or as many (3 at least) as `seconds` allow."""
    model(example, training=False)
    times = []
    while len(times) < calls and (len(times) < 3 or sum(times) < seconds):
        started = time.perf_counter()
        model(example, training=False)
        times.append(time.perf_counter() - started)
    return round(1000 * sorted(times)[len(times) // 2], 3)


def library_versions():
    """Versions of the libraries a run used; TensorFlow Datasets' read from its metadata,
    since importing it costs seconds a search on files does not otherwise spend."""
    import keras
    import keras_tuner
    import tensorflow as tf
    from importlib import metadata

    return {"keras-automl": metadata.version("keras-automl"), "tensorflow": tf.__version__,
            "keras": keras.__version__, "keras-tuner": keras_tuner.__version__,
            "tensorflow-datasets": metadata.version("tensorflow-datasets"),
            "python": platform.python_version()}
