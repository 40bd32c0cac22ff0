"""The search loop: a keras-tuner tuner that spends a time budget well.

The oracle (see `automl.oracles`) proposes configurations and, under successive
halving (`automl.scheduler`), promotes the promising ones. Each trial builds the
task's network with the shared head and optimizer, trains it for the epochs its
values name (continuing its parent's weights when it is a promotion), and reports
its best epoch. Trials that raise or diverge are recorded as failed and the search
goes on. The project directory is keras-tuner's own, so a search interrupted at
any point resumes from it. Deadlines and reserves come from `automl.budget`.
"""

import collections
import json
import math
import os
import statistics
import time

import keras_tuner as kt
import numpy as np
from keras_tuner.engine import base_tuner, trial as trial_lib
from keras_tuner.src.engine import metrics_tracking

from automl import budget as budget_rules, ensemble, interrupt, report, space, tensorboard
from automl.errors import first_line
from automl.export import write_json
from automl.memory import released_after
from automl.oracles import make_oracle, objective_for
from automl.scheduler import Pace

COMPLETED, FAILED = trial_lib.TrialStatus.COMPLETED, trial_lib.TrialStatus.FAILED
# Values a chief adds to a trial it hands to a worker (never stored with the trial).
REMOTE_DEADLINE, REMOTE_MIN_EPOCHS = "tuner/deadline", "tuner/min_epochs"
DEFAULT_MAX_TRIALS = 20
LOCAL_WORKER = "local"


class TrialFailed(kt.errors.FailedTrialError):
    """A trial that cannot produce a model (diverged, raised)."""


class TaskHyperModel(kt.HyperModel):
    """Raw input -> task body -> shared head, compiled with the shared optimizer."""

    def __init__(self, task, dataset, keras):
        super().__init__(name=task.name)
        self.task, self.dataset, self.keras = task, dataset, keras
        self.training_data = dataset.training_only()

    def build(self, hp):
        return self.build_for(hp, space.TrainingPlan())

    def build_for(self, hp, plan):
        """The compiled model of `hp`, its learning-rate schedule laid out over `plan`."""
        keras = self.keras
        shape, dtype = self.task.input_spec(self.dataset.meta)
        inputs = keras.Input(shape=shape, dtype=dtype, name="inputs")
        features = self.task.build(hp, inputs, self.training_data)
        outputs = space.add_head(hp, keras, features, len(self.dataset.classes))
        model = keras.Model(inputs, outputs, name=f"{self.task.name}_classifier")
        self.task.initialize(hp, model, self.training_data)
        return space.compile_model(hp, keras, model, plan)

    def trainer(self, hp, model, plan):
        """The model `fit` trains: the task's training twin of `model` (compiled), or `model`."""
        twin = self.task.training_model(hp, model, self.training_data)
        return model if twin is None else space.compile_model(hp, self.keras, twin, plan)


def successive_halving_on(settings):
    """Whether this search schedules by successive halving (`--scheduler`)."""
    if settings.tuner == "hyperband":
        return False
    if settings.scheduler is None:
        return settings.time_budget is not None
    return settings.scheduler == "asha"


class SearchTuner(base_tuner.BaseTuner, Pace):
    """Runs trials until the oracle stops, max trials, failures or the budget end it."""

    def __init__(self, task, dataset, feeds, settings, budget, keras, tf, directory,
                 progress, clock, probe=None, after_trial=None, trial_done=None,
                 overwrite=False, strategy=None):
        self.task, self.dataset, self.feeds, self.settings = task, dataset, feeds, settings
        self.strategy = strategy or tf.distribute.get_strategy()
        self.after_trial = after_trial or (lambda: None)
        self.trial_done = trial_done or (lambda: None)
        self.budget, self.keras, self.tf = budget, keras, tf
        self.progress, self.clock, self.probe = progress, clock, probe
        self.epochs = settings.epochs or task.default_epochs
        self.ensemble_size = settings.ensemble or task.ensemble_size
        self.max_trials = settings.max_trials or (
            None if settings.time_budget is not None else DEFAULT_MAX_TRIALS)
        self._val_probabilities = {}
        schedule = self.schedule() if successive_halving_on(settings) else None
        known_good = task.known_good(dataset.training_only())
        oracle = make_oracle(settings.tuner, objective_for(settings.objective), settings.seed,
                             self.max_trials, self.epochs, known_good, schedule)
        super().__init__(oracle=oracle, hypermodel=TaskHyperModel(task, dataset, keras),
                         directory=directory, project_name="search", overwrite=overwrite)
        if schedule is not None:
            self.oracle.pace = self
        self.stop_reason = self.failure_note = None
        self.log_root = os.path.join(directory, "logs")
        self.workers = self._read_workers()
        if not self._is_worker():
            self.save()

    def schedule(self):
        """Rungs, first-rung data share and the first trial's rung, from the probe and budget."""
        budget_seconds = self.settings.time_budget
        if self.probe is None:
            return {"rungs": budget_rules.rungs(self.epochs, 0.0, None)}
        probe = self.probe
        levels = budget_rules.rungs(self.epochs, probe.epoch_seconds(), budget_seconds)
        fraction = budget_rules.first_fraction(levels[0], probe.epoch_seconds(),
                                               probe.build_seconds, budget_seconds)
        first = budget_rules.first_rung(levels, probe.trial_seconds, budget_seconds)
        return {"rungs": levels, "fraction": fraction, "first_rung": first}

    def save(self):
        """Write the oracle and tuner state (atomically) so the search can resume."""
        self.oracle.save()
        write_json(self._get_tuner_fname(), self.get_state())
        self.save_workers()

    def save_workers(self):
        write_json(os.path.join(self.project_dir, report.WORKERS_FILE), self.workers)

    def _read_workers(self):
        """`{trial id: worker id}` of the trials run so far (`local` without workers)."""
        try:
            with open(os.path.join(self.project_dir, report.WORKERS_FILE), encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    def batch_size(self, hp):
        return self.settings.batch_size or self.task.batch_size(hp)

    # Trials ----------------------------------------------------------------

    def fit(self, hp, split, epochs, deadline, validation=True, seed=0, initial_epoch=0,
            fraction=1.0, weights=None, min_epochs=0, on_epoch=None, log_dir=None):
        """Build (or continue) and train one model; returns `(model, history, seconds)`."""
        keras = self.keras
        keras.utils.set_random_seed(seed)
        batch_size = self.batch_size(hp) * self.strategy.num_replicas_in_sync
        for attempt in (0, 1):
            try:
                plan = space.TrainingPlan(self.feeds.steps(split, batch_size, fraction),
                                          epochs, initial_epoch)
                with self.strategy.scope():
                    model = self.hypermodel.build_for(hp, plan)
                    if weights:
                        model.load_weights(weights)
                    trainer = self.hypermodel.trainer(hp, model, plan)
                callbacks = [interrupt.keras_callback(keras), keras.callbacks.TerminateOnNaN(),
                             budget_rules.deadline_callback(keras, deadline, min_epochs)]
                if on_epoch is not None:
                    callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=on_epoch))
                if log_dir is not None:
                    callbacks.append(keras.callbacks.TensorBoard(
                        log_dir, write_graph=False, profile_batch=0))
                if validation:
                    callbacks.append(keras.callbacks.EarlyStopping(
                        monitor=self.oracle.objective.name,
                        mode=self.oracle.objective.direction,
                        patience=self.task.patience, restore_best_weights=True))
                started = time.time()
                history = trainer.fit(
                    self.feeds.pipeline(split, hp, batch_size, training=True, fraction=fraction),
                    validation_data=(self.feeds.pipeline("val", hp, batch_size, training=False)
                                     if validation else None),
                    epochs=epochs, initial_epoch=initial_epoch, verbose=0, callbacks=callbacks)
                return model, history.history, time.time() - started
            except self.tf.errors.ResourceExhaustedError:
                if attempt or batch_size < 2:
                    raise TrialFailed("out of device memory, also at half the batch size") from None
                batch_size //= 2
                keras.backend.clear_session()

    def run_trial(self, trial):
        hp = trial.hyperparameters
        values = hp.values
        epochs = int(values.get("tuner/epochs", self.epochs))
        initial = int(values.get("tuner/initial_epoch", 0))
        fraction = float(values.get("tuner/fraction", 1.0))
        parent = values.get("tuner/trial_id")
        deadline, min_epochs = self.trial_limits(trial)
        model, history, seconds = self.fit(
            hp, "train", epochs, deadline, seed=self.settings.seed + int(trial.trial_id),
            initial_epoch=initial, fraction=fraction,
            weights=self.weights_path(parent) if parent else None,
            min_epochs=min_epochs, on_epoch=self.on_epoch,
            log_dir=tensorboard.trial_log_dir(self.log_root, trial.trial_id))
        losses = history.get("loss", [])
        if not losses or not all(math.isfinite(v) for v in losses):
            raise TrialFailed(f"loss became NaN or infinite at epoch {initial + len(losses)}")
        name = self.oracle.objective.name
        scores = history[name]
        best = (int(np.nanargmin(scores)) if self.oracle.objective.direction == "min"
                else int(np.nanargmax(scores)))
        self.keep_weights(trial.trial_id, model)
        self.keep_history(trial.trial_id, history, parent, initial)
        tensorboard.write_trial_hparams(self.tf, self.log_root, trial.trial_id, hp.values,
                                        {name: float(scores[best])})
        results = {name: float(scores[best]), "best_epoch": initial + best + 1,
                   "epochs_run": len(scores), "fit_seconds": seconds,
                   "epoch_seconds": seconds / len(scores) / fraction,
                   "parameters": model.count_params()}
        if self.ensemble_size > 1:
            results["temperature"] = self.keep_val_probabilities(trial, model)
        return results

    def trial_limits(self, trial):
        """`(deadline, minimum epochs)` of a trial about to run.

        A trial handed out by a chief (`automl.distributed`) carries both, decided
        where the budget is kept; otherwise they come from this search's budget. The
        first trial of a search always trains at least one epoch.
        """
        values = trial.hyperparameters.values
        if REMOTE_DEADLINE in values:
            return (values[REMOTE_DEADLINE] or float("inf"),
                    int(values.get(REMOTE_MIN_EPOCHS, 0)))
        first = not self.completed_trials()
        one_epoch = self.probe.trial_seconds(1, float(values.get("tuner/fraction", 1.0))) \
            if self.probe else 0.0
        deadline = budget_rules.trial_deadline(
            time.time(), self.search_deadline(), self.trial_estimate(trial),
            self.settings.time_budget, first_minimum=one_epoch if first else None)
        return deadline, 1 if first else 0

    def on_epoch(self, epoch, logs):
        """Called after every epoch of a trial: keeps the saved elapsed time current."""
        self.after_trial()

    # Best model ----------------------------------------------------------------

    def weights_path(self, trial_id):
        return os.path.join(self.project_dir, f"trial_{trial_id}", "best.weights.h5")

    def keep_weights(self, trial_id, model):
        """Save a trial's best-epoch weights: promotions continue them, exports may use them."""
        path = self.weights_path(trial_id)
        temporary = path.replace(".weights.h5", ".tmp.weights.h5")
        model.save_weights(temporary)
        os.replace(temporary, path)

    def keep_history(self, trial_id, history, parent, initial_epoch):
        """Save a trial's per-epoch metrics, its parent's first epochs included."""
        earlier = {}
        if parent:
            path = os.path.join(self.project_dir, f"trial_{parent}", report.HISTORY_FILE)
            if os.path.exists(path):
                with open(path, encoding="utf-8") as handle:
                    earlier = json.load(handle)
        curves = {name: [float(v) for v in earlier.get(name, [])[:initial_epoch]]
                  + [float(v) for v in values] for name, values in history.items()}
        write_json(os.path.join(self.project_dir, f"trial_{trial_id}", report.HISTORY_FILE),
                   curves)

    def val_probabilities_path(self, trial_id):
        return os.path.join(self.project_dir, f"trial_{trial_id}", "val_probabilities.npy")

    def keep_val_probabilities(self, trial, model):
        """Save a trial's best-epoch validation probabilities for ensemble selection.

        They are temperature-scaled on val (`automl.ensemble.temperature`); returns
        the temperature, which the trial's members and retrains take on.
        """
        hp = trial.hyperparameters
        probabilities = model.predict(self.feeds.pipeline(
            "val", hp, self.batch_size(hp), training=False), verbose=0)
        temperature = ensemble.temperature(probabilities, self.dataset.val.y)
        probabilities = ensemble.with_temperature(probabilities, temperature)
        path = self.val_probabilities_path(trial.trial_id)
        with open(path + ".tmp", "wb") as handle:
            np.save(handle, probabilities)
        os.replace(path + ".tmp", path)
        return temperature

    def val_probabilities(self, trial):
        """A trial's saved validation probabilities (predicted again if none were saved).

        Read once per saved file: the budget asks for the selected ensemble often.
        """
        path = self.val_probabilities_path(trial.trial_id)
        key = (trial.trial_id, os.stat(path).st_mtime_ns if os.path.exists(path) else None)
        if key not in self._val_probabilities:
            if key[1] is not None:
                probabilities = np.load(path)
            else:
                hp = trial.hyperparameters
                probabilities = self.best_model(trial).predict(self.feeds.pipeline(
                    "val", hp, self.batch_size(hp), training=False), verbose=0)
            self._val_probabilities[key] = probabilities
        return self._val_probabilities[key]

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
        return ensemble.one_standard_error(
            [(t, t.score, t.metrics.get_last_value("parameters")) for t in self.ranked_trials()],
            len(self.dataset.val))

    def best_model(self, trial):
        """A trial's model as trained in the search (train split only), at its temperature."""
        model = self.hypermodel.build(trial.hyperparameters)
        model.load_weights(self.weights_path(trial.trial_id))
        self.calibrate(trial, model)
        return model

    @staticmethod
    def calibrate(trial, model):
        """Give `model` the temperature fitted to `trial` on val, where one was."""
        if trial.metrics.exists("temperature"):
            space.set_temperature(model, trial.metrics.get_last_value("temperature"))

    def ensemble_trials(self):
        """The final trial, then every other scored trial ensemble selection may add (best first).

        Selection runs on each trial's saved validation probabilities, so every
        completed trial is a candidate: a weaker model that errs differently often
        helps an average more than a close copy of the best one.
        """
        final = self.final_trial()
        if self.ensemble_size < 2:
            return [final]
        return [final, *(t for t in self.ranked_trials() if t.trial_id != final.trial_id)]

    def ensemble(self):
        """The trials to export, their search models and the average's val probabilities.

        Ensemble selection on val (see `automl.ensemble`) starting from
        `final_trial()`. Returns `([final], None, None)` when the ensemble size is 1
        or no other trial completed.
        """
        members, probabilities = self.selected_members()
        if probabilities is None:
            return members, None, None
        models = []
        for trial in members:
            models.append(self.best_model(trial))
            models[-1].name = f"trial_{trial.trial_id}"
        average = np.mean([probabilities[t.trial_id] for t in members], axis=0)
        return members, models, average

    def selected_members(self):
        """`(trials, {id: val probabilities})` ensemble selection picks now; `([final], None)` alone."""
        candidates = self.ensemble_trials()
        if len(candidates) < 2:
            return candidates, None
        trials = {t.trial_id: t for t in candidates}
        probabilities = {i: self.val_probabilities(t) for i, t in trials.items()}
        chosen = ensemble.select(candidates[0].trial_id, list(trials), probabilities,
                                 self.dataset.val.y, self.ensemble_size)
        return [trials[i] for i in chosen], probabilities

    # Budget ------------------------------------------------------------------

    def completed_trials(self):
        return [t for t in self.oracle.trials.values() if t.status == COMPLETED]

    def epoch_seconds(self, trial):
        """A completed trial's measured seconds per epoch on the whole training split."""
        metrics = trial.metrics
        if metrics.exists("epoch_seconds"):
            return metrics.get_last_value("epoch_seconds")
        return metrics.get_last_value("fit_seconds") / max(metrics.get_last_value("epochs_run"), 1)

    def overhead_seconds(self):
        """Median seconds a trial spends outside its epochs (building, tracing, saving)."""
        overheads = [t.metrics.get_last_value("trial_seconds") - t.metrics.get_last_value("fit_seconds")
                     for t in self.completed_trials() if t.metrics.exists("trial_seconds")]
        if overheads:
            return max(statistics.median(overheads), 0.0)
        return self.probe.build_seconds if self.probe else 0.0

    def new_trial_seconds(self):
        """Estimated seconds of a new configuration (at the first rung, under a schedule)."""
        fresh = [t.metrics.get_last_value("trial_seconds") for t in self.completed_trials()
                 if not t.hyperparameters.values.get("tuner/trial_id")
                 and t.metrics.exists("trial_seconds")]
        if fresh:
            return statistics.median(fresh)
        if self.probe is None:
            return 0.0
        rungs = getattr(self.oracle, "rungs", [self.epochs])
        return self.probe.trial_seconds(rungs[0], getattr(self.oracle, "fraction", 1.0))

    def trial_estimate(self, trial):
        """Estimated seconds of `trial`: a continuation from its parent's epoch time."""
        values = trial.hyperparameters.values
        parent = values.get("tuner/trial_id")
        if parent and parent in self.oracle.trials:
            more = int(values["tuner/epochs"]) - int(values.get("tuner/initial_epoch", 0))
            return self.overhead_seconds() + more * self.epoch_seconds(self.oracle.trials[parent])
        return self.new_trial_seconds()

    def time_left(self):
        return self.search_deadline() - time.time()

    def continue_epoch_seconds(self, trial):
        """What one more epoch of `trial` costs the budget: the epoch now, and again in its retrain.

        The best trial, which the scheduler continues, is retrained alone or as an
        ensemble member wherever that retrain (the whole ensemble's) is planned.
        """
        seconds = self.epoch_seconds(trial)
        retrain = (self.members_retrain_estimate() if self.ensemble_size > 1
                   else self.retrain_estimate(trial))
        if not budget_rules.retrain_planned(retrain, self.settings.time_budget):
            return seconds
        return seconds * (1 + self.retrain_growth())

    def retrain_growth(self):
        """How much longer an epoch on train+val takes than one on train."""
        return (len(self.dataset.train) + len(self.dataset.val)) / len(self.dataset.train)

    def retrain_estimate(self, trial):
        """Seconds a retrain of `trial` on train+val takes, from its measured epochs."""
        return (self.overhead_seconds() + self.epoch_seconds(trial) * self.retrain_growth()
                * trial.metrics.get_last_value("best_epoch"))

    def retrain_epochs(self, trial, available_seconds):
        """Epochs a retrain of `trial` on train+val runs in `available_seconds` (0: none)."""
        growth = self.retrain_growth()
        return budget_rules.retrain_epochs(
            int(trial.metrics.get_last_value("best_epoch")), self.epoch_seconds(trial) * growth,
            self.overhead_seconds(), available_seconds, growth)

    def ranked_trials(self):
        """Completed, scored trials, best first."""
        return sorted((t for t in self.completed_trials() if t.score is not None),
                      key=lambda t: t.score, reverse=self.oracle.objective.direction == "max")

    def finishing_estimates(self, members=None):
        """`(export, evaluate)` seconds for the model that would be exported now.

        `members` are the ensemble members selection picks now, when already known.
        """
        if self.ensemble_size > 1:
            count = len(self.selected_members()[0] if members is None else members)
        else:
            count = 1
        if self.probe is None:
            return 8.0, 2.0
        return self.probe.export_seconds(count), self.probe.evaluate_seconds(count)

    def contender_retrain_estimate(self):
        """The longer retrain of the best trial and the one now chosen for export.

        Should a later trial become the export and need longer, its retrain is
        skipped and its search model exported: the budget holds either way.
        """
        contenders = [*self.ranked_trials()[:1], self.final_trial()]
        return max(self.retrain_estimate(t) for t in contenders)

    def members_retrain_estimate(self, members=None):
        """Seconds that retraining the members selection picks from the trials so far takes.

        `finishing_reserve` keeps them back only when they fit the share of the
        budget a retrain may take together; should selection end with costlier
        members, those that do not fit keep their search models
        (`automl.pipeline.retrain_members`).
        """
        members = self.selected_members()[0] if members is None else members
        return sum(self.retrain_estimate(t) for t in members)

    def finishing_reserve(self):
        """Seconds kept back for what follows the search, from measured costs.

        With an ensemble, also selection itself: building and loading each member.
        """
        members = self.selected_members()[0] if self.ensemble_size > 1 else None
        export, evaluate = self.finishing_estimates(members)
        if self.final_trial() is None:
            return export + evaluate
        if self.ensemble_size > 1 and len(self.ranked_trials()) > 1:
            return len(members) * self.overhead_seconds() + budget_rules.finishing_reserve(
                export, evaluate, self.members_retrain_estimate(members),
                self.settings.time_budget)
        return budget_rules.finishing_reserve(export, evaluate, self.contender_retrain_estimate(),
                                              self.settings.time_budget)

    def search_deadline(self):
        """When the search must end so that what follows it fits the budget."""
        if self.budget.seconds is None:
            return float("inf")
        return self.budget.end - self.finishing_reserve()

    def time_for_another_trial(self):
        if self.budget.seconds is None or not self.completed_trials():
            return True
        best = self.best_trial()
        cheapest = min(self.new_trial_seconds(),
                       self.overhead_seconds() + (self.epoch_seconds(best) if best else 0.0))
        return budget_rules.worth_starting(time.time(), self.search_deadline(), cheapest)

    # The loop ----------------------------------------------------------------

    def search(self):
        """Run trials until the search is over; `self.stop_reason` says why."""
        failures = 0
        while True:
            interrupt.check()
            if not self.time_for_another_trial():
                self.stop_reason = "time_budget"
                break
            with self.clock.phase("proposals"):
                trial = self.oracle.create_trial(self.tuner_id)
            if trial.status == trial_lib.TrialStatus.STOPPED:
                exhausted = self.max_trials and len(self.oracle.trials) >= self.max_trials
                self.stop_reason = "max_trials" if exhausted else "space_exhausted"
                break
            if trial.status == trial_lib.TrialStatus.IDLE:
                continue
            if trial.metrics.metrics:
                # A trial killed after its results were recorded runs again from scratch.
                trial.metrics = metrics_tracking.MetricsTracker()
                trial.score, trial.best_step = None, 0
            self.workers[trial.trial_id] = LOCAL_WORKER
            self.progress.trial_started(trial, self)
            started = time.time()
            try:
                with released_after(self.keras):
                    results = self.run_trial(trial)
                results["trial_seconds"] = time.time() - started
                results["finished_at"] = self.budget.elapsed()
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
            self.trial_done()
            self.progress.trial_ended(trial, time.time() - started, self)
            if failures >= self.settings.max_failures:
                self.stop_reason = "failures"
                self.failure_note = collections.Counter(
                    t.message for t in self.oracle.trials.values() if t.status == FAILED
                ).most_common(1)[0][0]
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
