"""The search orchestrator: a keras-tuner tuner that keeps a time budget.

The oracle (random, bayesian, hyperband, grid) proposes hyperparameters; each trial
builds the task's network with the shared head and optimizer, trains it from the
in-memory data with early stopping, and reports its best epoch. Trials that raise
or diverge are recorded as failed and the search goes on. The project directory
is keras-tuner's own, so a search interrupted at any point resumes from it.
"""

import collections
import math
import os
import statistics
import time

import keras_tuner as kt
import numpy as np
from keras_tuner.engine import base_tuner, trial as trial_lib

from automl import ensemble, space
from automl.budget import deadline_callback
from automl.errors import first_line
from automl.export import write_json
from automl.memory import released_after

RUNNING, COMPLETED, FAILED = (trial_lib.TrialStatus.RUNNING, trial_lib.TrialStatus.COMPLETED,
                              trial_lib.TrialStatus.FAILED)


class TrialFailed(kt.errors.FailedTrialError):
    """A trial that cannot produce a model (diverged, raised)."""


def objective_for(name):
    direction = "min" if "loss" in name else "max"
    return kt.Objective(name, direction)


class TaskHyperModel(kt.HyperModel):
    """Raw input -> task body -> shared head, compiled with the shared optimizer."""

    def __init__(self, task, dataset, keras):
        super().__init__(name=task.name)
        self.task, self.dataset, self.keras = task, dataset, keras

    def build(self, hp):
        keras = self.keras
        shape, dtype = self.task.input_spec(self.dataset.meta)
        inputs = keras.Input(shape=shape, dtype=dtype, name="inputs")
        features = self.task.build(hp, inputs, self.dataset)
        outputs = space.add_head(hp, keras, features, len(self.dataset.classes))
        model = keras.Model(inputs, outputs, name=f"{self.task.name}_classifier")
        return space.compile_model(hp, keras, model)


def _search_oracle(oracle_class):
    """`oracle_class` that writes its state atomically and proposes known-good values first."""

    class SearchOracle(oracle_class):
        def __init__(self, *args, warm_values=(), **kwargs):
            super().__init__(*args, **kwargs)
            self.warm_values = list(warm_values)

        def populate_space(self, trial_id):
            index = len(self.trials)
            if index < len(self.warm_values):
                hp = self.get_space()
                hp.values.update(self.warm_values[index])
                values = {p.name: hp.values.get(p.name, p.default)
                          for p in hp.space if hp.is_active(p)}
                if not self._duplicate(values):
                    return {"status": RUNNING, "values": values}
            return super().populate_space(trial_id)

        def save(self):
            write_json(self._get_oracle_fname(), self.get_state())

        def _save_trial(self, trial):
            write_json(os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"),
                       trial.get_state())

    SearchOracle.__name__ = f"Search{oracle_class.__name__}"
    return SearchOracle


def make_oracle(settings, objective, epochs, warm_values):
    """The keras-tuner oracle named by `settings.tuner`.

    Random and Bayesian search start from the task's known-good values; Hyperband
    sizes its own brackets from the epoch count; grid enumerates the space.
    """
    common = dict(objective=objective, seed=settings.seed,
                  max_consecutive_failed_trials=10**9, max_retries_per_trial=0)
    if settings.tuner == "hyperband":
        oracle = _search_oracle(kt.oracles.HyperbandOracle)(
            max_epochs=max(epochs, 2), factor=3, **common)
    elif settings.tuner == "grid":
        oracle = _search_oracle(kt.oracles.GridSearchOracle)(
            max_trials=settings.max_trials, **common)
    elif settings.tuner == "random":
        oracle = _search_oracle(kt.oracles.RandomSearchOracle)(
            max_trials=settings.max_trials, warm_values=warm_values, **common)
    else:
        oracle = _search_oracle(kt.oracles.BayesianOptimizationOracle)(
            max_trials=settings.max_trials, num_initial_points=len(warm_values) + 3,
            warm_values=warm_values, **common)
    oracle.verbose = 0
    return oracle


class SearchTuner(base_tuner.BaseTuner):
    """Runs trials until the oracle stops, max trials, failures or the budget end it."""

    def __init__(self, task, dataset, settings, budget, keras, tf, directory,
                 progress, after_trial=None, overwrite=False):
        self.task, self.dataset, self.settings = task, dataset, settings
        self.after_trial = after_trial or (lambda: None)
        self.budget, self.keras, self.tf = budget, keras, tf
        self.progress = progress
        self.epochs = settings.epochs or task.default_epochs
        self.ensemble_size = settings.ensemble or task.ensemble_size
        self.batch_size = settings.batch_size or task.default_batch_size
        objective = objective_for(settings.objective)
        oracle = make_oracle(settings, objective, self.epochs, task.known_good(dataset))
        super().__init__(oracle=oracle, hypermodel=TaskHyperModel(task, dataset, keras),
                         directory=directory, project_name="search", overwrite=overwrite)
        self.stop_reason = None
        self._sources = {}
        self.save()

    def save(self):
        """Write the oracle and tuner state (atomically) so the search can resume."""
        self.oracle.save()
        write_json(self._get_tuner_fname(), self.get_state())

    # Data ------------------------------------------------------------------

    def source(self, split):
        """The split as a cached `tf.data.Dataset` of (example, label)."""
        if split not in self._sources:
            tf = self.tf
            parts = [self.dataset.split(name) for name in split.split("+")]
            x = np.concatenate([p.x for p in parts])
            y = np.concatenate([p.y for p in parts])
            if x.dtype.kind in "OUS":
                x = tf.constant([str(v) for v in x])
            self._sources[split] = (tf.data.Dataset.from_tensor_slices((x, y)), len(y))
        return self._sources[split]

    def pipeline(self, split, hp, batch_size, training):
        tf = self.tf
        ds, count = self.source(split)
        if training:
            ds = ds.shuffle(count, seed=self.settings.seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size)
        if training:
            augment = self.task.augment
            ds = ds.map(lambda x, y: (augment(hp, x), y), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    # Trials ----------------------------------------------------------------

    def fit(self, hp, split, epochs, deadline, validation=True, seed=0):
        """Build and train one model; returns `(model, history, seconds)`."""
        keras = self.keras
        keras.utils.set_random_seed(seed)
        batch_size = self.batch_size
        for attempt in (0, 1):
            try:
                model = self.hypermodel.build(hp)
                callbacks = [keras.callbacks.TerminateOnNaN(),
                             deadline_callback(keras, deadline)]
                if validation:
                    callbacks.append(keras.callbacks.EarlyStopping(
                        monitor=self.oracle.objective.name,
                        mode=self.oracle.objective.direction,
                        patience=self.task.patience, restore_best_weights=True))
                started = time.time()
                history = model.fit(
                    self.pipeline(split, hp, batch_size, training=True),
                    validation_data=(self.pipeline("val", hp, batch_size, training=False)
                                     if validation else None),
                    epochs=epochs, verbose=0, callbacks=callbacks)
                return model, history.history, time.time() - started
            except self.tf.errors.ResourceExhaustedError:
                if attempt or batch_size < 2:
                    raise TrialFailed("out of device memory, also at half the batch size") from None
                batch_size //= 2
                keras.backend.clear_session()

    def run_trial(self, trial):
        hp = trial.hyperparameters
        epochs = hp.values.get("tuner/epochs", self.epochs)
        deadline = min(self.search_deadline(), time.time() + self.trial_time_cap())
        model, history, seconds = self.fit(
            hp, "train", epochs, deadline, seed=self.settings.seed + int(trial.trial_id))
        losses = history.get("loss", [])
        if not losses or not all(math.isfinite(v) for v in losses):
            raise TrialFailed(f"loss became NaN or infinite at epoch {len(losses)}")
        name = self.oracle.objective.name
        if name not in history:
            raise TrialFailed(f"objective '{name}' is not a metric of this model "
                              f"(metrics: {', '.join(sorted(history))})")
        scores = history[name]
        best = (int(np.nanargmin(scores)) if self.oracle.objective.direction == "min"
                else int(np.nanargmax(scores)))
        self.keep_weights(trial.trial_id, model)
        return {name: float(scores[best]), "best_epoch": best + 1, "epochs_run": len(scores),
                "fit_seconds": seconds, "parameters": model.count_params()}

    # Best model ----------------------------------------------------------------

    def weights_path(self, trial_id):
        return os.path.join(self.project_dir, f"trial_{trial_id}", "best.weights.h5")

    def keep_weights(self, trial_id, model):
        """Save a trial's best-epoch weights, for export when retraining cannot run."""
        path = self.weights_path(trial_id)
        temporary = path.replace(".weights.h5", ".tmp.weights.h5")
        model.save_weights(temporary)
        os.replace(temporary, path)

    def final_trial(self):
        """The trial to retrain and export: the one-standard-error rule on accuracy.

        Among trials whose validation accuracy is within one standard error of the
        best (the binomial error of the best score on this many validation examples),
        the one with the fewest parameters; differences smaller than that are noise,
        and the smaller model generalises more reliably. Other objectives: the best.
        """
        best = self.best_trial()
        if best is None or not self.oracle.objective.name.endswith("accuracy"):
            return best
        margin = math.sqrt(max(best.score * (1 - best.score), 1e-12) / len(self.dataset.val))
        close = [t for t in self.completed_trials() if t.score is not None
                 and t.score >= best.score - margin and t.metrics.exists("parameters")]
        if not close:
            return best
        return min(close, key=lambda t: (t.metrics.get_last_value("parameters"), -t.score))

    def best_model(self, trial):
        """The best trial's model as trained in the search (train split only)."""
        model = self.hypermodel.build(trial.hyperparameters)
        model.load_weights(self.weights_path(trial.trial_id))
        return model

    def ensemble_trials(self):
        """The final trial, then the trials ensemble selection may add to it (best first)."""
        final = self.final_trial()
        if self.ensemble_size < 2:
            return [final]
        others = [t for t in self.ranked_trials() if t.trial_id != final.trial_id]
        return [final, *others[:2 * self.ensemble_size - 1]]

    def ensemble(self):
        """The trials to export, their search models and the average's val probabilities.

        Ensemble selection on val (see `automl.ensemble`) starting from
        `final_trial()`. Returns `([final], None, None)` when the ensemble size is 1
        or no other trial completed.
        """
        candidates = self.ensemble_trials()
        if len(candidates) < 2:
            return candidates, None, None
        final = candidates[0]
        trials = {t.trial_id: t for t in candidates}
        models, probabilities = {}, {}
        for trial_id, trial in trials.items():
            models[trial_id] = self.best_model(trial)
            models[trial_id].name = f"trial_{trial_id}"
            probabilities[trial_id] = models[trial_id].predict(
                self.pipeline("val", trial.hyperparameters, self.batch_size, training=False),
                verbose=0)
        chosen = ensemble.select(final.trial_id, list(trials), probabilities,
                                 self.dataset.val.y, self.ensemble_size)
        average = np.mean([probabilities[i] for i in chosen], axis=0)
        return [trials[i] for i in chosen], [models[i] for i in chosen], average

    # Budget ------------------------------------------------------------------

    def completed_trials(self):
        return [t for t in self.oracle.trials.values() if t.status == COMPLETED]

    @staticmethod
    def seconds_per_epoch(trial):
        """A completed trial's measured training seconds per epoch (train split)."""
        metrics = trial.metrics
        return metrics.get_last_value("fit_seconds") / max(metrics.get_last_value("epochs_run"), 1)

    def retrain_estimate(self, trial=None):
        """Seconds a retrain of `trial` (default: the best so far) takes, from its epochs."""
        best = trial or self.best_trial()
        if best is None:
            return 0.3 * (self.budget.seconds or 0)
        grow = (len(self.dataset.train) + len(self.dataset.val)) / len(self.dataset.train)
        return self.seconds_per_epoch(best) * grow * best.metrics.get_last_value("best_epoch")

    def ranked_trials(self):
        """Completed, scored trials, best first."""
        return sorted((t for t in self.completed_trials() if t.score is not None),
                      key=lambda t: t.score, reverse=self.oracle.objective.direction == "max")

    def contender_retrain_estimate(self):
        """The longest retrain among the three best trials and the one now chosen for export."""
        ranked = self.ranked_trials()
        if not ranked:
            return self.retrain_estimate()
        return max(self.retrain_estimate(t) for t in [*ranked[:3], self.final_trial()])

    def selection_estimate(self):
        """Seconds ensemble selection takes: build each candidate and predict val."""
        share = len(self.dataset.val) / len(self.dataset.train)
        return sum(2.0 + self.seconds_per_epoch(t) * share for t in self.ensemble_trials())

    def search_deadline(self):
        """When the search must end so that retraining (or ensemble selection) and export fit.

        With an ensemble size above 1 the search models are exported as they are, so
        only the selection is reserved for; should selection keep the final trial
        alone, it is retrained if the time left allows.
        """
        if self.budget.seconds is None:
            return float("inf")
        if self.ensemble_size > 1 and self.final_trial() is not None:
            needed = self.selection_estimate()
        else:
            needed = 1.25 * self.contender_retrain_estimate()
        reserve = min(needed + 3.0, 0.45 * self.budget.seconds)
        return self.budget.end - self.budget.export_reserve - reserve

    def expected_trial_seconds(self):
        times = [t.metrics.get_last_value("fit_seconds") for t in self.completed_trials()]
        return statistics.median(times) if times else 0.0

    def trial_time_cap(self):
        """Longest a trial may train under a budget: 2.5x the median trial, at least 10% of the budget.

        A family far slower than the others (a recurrent network on short texts) is
        stopped and scored where it stands rather than eating the budget.
        """
        times = [t.metrics.get_last_value("fit_seconds") for t in self.completed_trials()]
        if self.budget.seconds is None or not times:
            return float("inf")
        return max(2.5 * statistics.median(times), 0.1 * self.budget.seconds)

    def time_for_another_trial(self):
        if self.budget.seconds is None:
            return True
        left = self.search_deadline() - time.time()
        return left > max(self.expected_trial_seconds(), 1.0)

    # The loop ----------------------------------------------------------------

    def search(self):
        """Run trials until the search is over; `self.stop_reason` says why."""
        failures = 0
        while True:
            if not self.time_for_another_trial():
                self.stop_reason = "time budget"
                break
            trial = self.oracle.create_trial(self.tuner_id)
            if trial.status == trial_lib.TrialStatus.STOPPED:
                self.stop_reason = "search space or trial count exhausted"
                break
            if trial.status == trial_lib.TrialStatus.IDLE:
                continue
            self.progress.trial_started(trial, self)
            started = time.time()
            try:
                with released_after(self.keras):
                    results = self.run_trial(trial)
                self.oracle.update_trial(trial.trial_id, results)
                trial.status = COMPLETED
                failures = 0
            except Exception as error:
                if isinstance(error, kt.errors.FatalError):
                    raise
                trial.status = FAILED
                trial.message = _one_line(error)
                failures += 1
            self.oracle.end_trial(trial)
            self.save()
            self.after_trial()
            self.progress.trial_ended(trial, time.time() - started, self)
            if failures >= self.settings.max_failures:
                reason = collections.Counter(
                    t.message for t in self.oracle.trials.values() if t.status == FAILED
                ).most_common(1)[0][0]
                self.stop_reason = f"{failures} trials failed in a row (most often: {reason})"
                break

    def failed_trials(self):
        return [t for t in self.oracle.trials.values() if t.status == FAILED]

    def best_trial(self):
        """The completed trial with the best score, or None."""
        ranked = self.ranked_trials()
        return ranked[0] if ranked else None


def _one_line(error):
    if isinstance(error, TrialFailed):
        return first_line(error, 300)
    return f"{type(error).__name__}: {first_line(error, 280)}"
