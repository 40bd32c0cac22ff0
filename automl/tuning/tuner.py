"""The search loop: a keras-tuner tuner that trains the trials the oracle proposes.

The oracle (see `automl.tuning.oracles`) proposes configurations and, under successive
halving (`automl.tuning.scheduler`), promotes the promising ones. Each trial builds the
task's network with the shared head and optimizer, trains it for the epochs its
values name (continuing its parent's weights when it is a promotion), and reports
its best epoch. Trials that raise or diverge are recorded as failed and the search
goes on. The project directory is keras-tuner's own, so a search interrupted at
any point resumes from it. What the budget affords is decided by `automl.tuning.planner`,
what is exported by `automl.tuning.selection`; a trial's files are kept by
`automl.tuning.trial_files`; the hypermodel that builds each trial's network
is `automl.tuning.hypermodel`.
"""

import collections
import dataclasses
import json
import math
import os
import time

import keras_tuner as kt
import numpy as np
from keras_tuner.engine import base_tuner, trial as trial_lib

from automl import capabilities
from automl.adapters import keras_tuner as kt_private
from automl.errors import first_line
from automl.report import tensorboard
from automl.run_folder import WORKERS_FILE
from automl.runtime import interrupt
from automl.runtime.files import write_json
from automl.runtime.memory import released_after
from automl.transfer import init_from
from automl.tuning import ensemble, space
from automl.tuning.budget import deadline_callback
from automl.tuning.hypermodel import TaskHyperModel
from automl.tuning.oracles import make_oracle, objective_for
from automl.tuning.planner import Planner
from automl.tuning.scheduler import COMPLETED, FAILED, STOPPED
from automl.tuning.selection import FACT_PREFIX, Selection
from automl.tuning.trial_files import TrialFiles

# Values a chief adds to a trial it hands to a worker (never stored with the trial).
REMOTE_DEADLINE = "tuner/deadline"
DEFAULT_MAX_TRIALS = 20
LOCAL_WORKER = "local"
TIMED_EPOCHS = 10_000  # a timed fit ends at its deadline, long before this


class TrialFailed(kt.errors.FailedTrialError):
    """A trial that cannot produce a model (diverged, raised)."""


@dataclasses.dataclass
class Fit:
    """What one `SearchTuner.fit` call trained."""

    model: object
    history: dict
    seconds: float
    stopped: bool          # the deadline stopped training before its last epoch ended
    examples: int          # training examples seen, counted to the best (or last) epoch
    epoch_times: list = dataclasses.field(default_factory=list)  # seconds of each epoch, validated

    def steady_epoch_seconds(self):
        """Seconds of an epoch once traced: the median epoch after the first."""
        times = self.epoch_times[1:] or self.epoch_times
        return float(np.median(times)) if times else self.seconds

    def trace_seconds(self):
        """What the first epoch took beyond a traced one (tracing, filling the pipeline)."""
        if len(self.epoch_times) < 2:
            return 0.0
        return max(self.epoch_times[0] - self.steady_epoch_seconds(), 0.0)


def successive_halving_on(settings):
    """Whether this search schedules by successive halving (`--scheduler`)."""
    if settings.tuner == "hyperband":
        return False
    if settings.scheduler is None:
        return settings.time_budget is not None
    return settings.scheduler == "asha"


class SearchTuner(base_tuner.BaseTuner):
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
        source = (init_from.Source.open(settings.init_from, task.name, settings.out)
                  if settings.init_from else None)
        hypermodel = TaskHyperModel(task, dataset, keras, settings.objective, source)
        objective = objective_for(settings.objective)
        self.files = TrialFiles(os.path.join(directory, "search"))
        self.selection = Selection(lambda: getattr(self, "oracle", None), objective, dataset.val.y,
                                   self.ensemble_size, self.val_probabilities,
                                   problem=hypermodel.problem)
        known_good = init_from.task_known_good(
            source, capabilities.known_good(task, dataset.training_only()))
        self.planner = Planner(budget, probe, settings, self.epochs, self.ensemble_size,
                               len(dataset.train), len(dataset.val), self.selection,
                               cost=hypermodel.cost, known_good=known_good,
                               data_reason=lambda values: capabilities.skip_reason(
                                   task, values, self.selection.facts()))
        schedule = self.planner.schedule() if successive_halving_on(settings) else None
        oracle = make_oracle(settings.tuner, objective, settings.seed, self.max_trials,
                             self.epochs, init_from.first_values(source) + known_good,
                             schedule, planner=self.planner)
        super().__init__(oracle=oracle, hypermodel=hypermodel, directory=directory,
                         project_name="search", overwrite=overwrite)
        if schedule is not None:  # the oracle's own: on a worker `self.oracle` is the chief's
            self.planner.use_rungs(oracle.rungs)
        self.stop_reason = self.failure_note = None
        self.log_root = os.path.join(directory, "logs")
        self.workers = self._read_workers()
        if not kt_private.is_worker(self):
            self.save()

    def save(self):
        """Write the oracle and tuner state (atomically) so the search can resume."""
        self.oracle.save()
        write_json(kt_private.tuner_file(self), self.get_state())
        self.save_workers()

    def save_workers(self):
        write_json(os.path.join(self.project_dir, WORKERS_FILE), self.workers)

    def _read_workers(self):
        """`{trial id: worker id}` of the trials run so far (`local` without workers)."""
        try:
            with open(os.path.join(self.project_dir, WORKERS_FILE), encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    def batch_size(self, hp):
        return self.settings.batch_size or self.task.batch_size(hp)

    # Training ----------------------------------------------------------------

    def fit(self, hp, split, epochs, deadline, validation=True, seed=0, initial_epoch=0,
            fraction=1.0, weights=None, on_epoch=None, log_dir=None,
            timed=False):
        """Build (or continue) and train one model on `split`; returns a `Fit`.

        With `timed`, the model trains until `deadline` with its learning rate
        decaying by the clock (`automl.tuning.space.timed_decay`); `epochs` then only sets
        where its schedule starts, and reaching the deadline is the plan.
        """
        keras = self.keras
        keras.utils.set_random_seed(seed)
        batch_size = self.batch_size(hp) * self.strategy.num_replicas_in_sync
        for attempt in (0, 1):
            try:
                plan = space.TrainingPlan(self.feeds.steps(split, batch_size, fraction),
                                          epochs, initial_epoch,
                                          until=deadline if timed else None)
                prior = self.feeds.prior_of(split)
                with self.strategy.scope():
                    model = self.hypermodel.build_for(hp, plan, prior)
                    if weights:
                        model.load_weights(weights)
                    trainer = self.hypermodel.trainer(hp, model, plan, prior)
                trainer.run_eagerly = plan.eager() and self.strategy.num_replicas_in_sync == 1
                stop = deadline_callback(keras, deadline)
                callbacks = [interrupt.keras_callback(keras), keras.callbacks.TerminateOnNaN(),
                             stop]
                if timed:
                    callbacks.append(space.timed_decay(keras, plan, time.time()))
                if on_epoch is not None:
                    callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=on_epoch))
                if log_dir is not None:
                    callbacks.append(keras.callbacks.TensorBoard(
                        log_dir, write_graph=False, profile_batch=0))
                if validation:
                    callbacks.append(keras.callbacks.EarlyStopping(
                        monitor=self.oracle.objective.name,
                        mode=self.oracle.objective.direction,
                        patience=self.planner.patience(self.task.patience),
                        restore_best_weights=True))
                started = time.time()
                history = trainer.fit(
                    self.feeds.pipeline(split, hp, batch_size, training=True, fraction=fraction),
                    validation_data=(self.feeds.pipeline("val", hp, batch_size, training=False)
                                     if validation else None),
                    epochs=TIMED_EPOCHS if timed else epochs, initial_epoch=initial_epoch,
                    shuffle=False, verbose=0, callbacks=callbacks)  # the pipeline shuffles
                history = history.history
                if timed:
                    examples = min(stop.batches_done * batch_size,
                                   stop.batches_done // plan.steps_per_epoch
                                   * self.feeds.count(split, fraction) + batch_size
                                   * (stop.batches_done % plan.steps_per_epoch))
                else:
                    epochs_kept = self._epochs_kept(history) if validation else len(
                        history.get("loss", []))
                    examples = epochs_kept * self.feeds.count(split, fraction)
                return Fit(model, history, time.time() - started,
                           stop.stopped and not timed, examples,
                           list(np.diff([started, *stop.epoch_ends])))
            except self.tf.errors.ResourceExhaustedError:
                if attempt or batch_size < 2:
                    raise TrialFailed("out of device memory, also at half the batch size") from None
                batch_size //= 2
                keras.backend.clear_session()
            except (TrialFailed, kt.errors.FatalError):
                raise
            except Exception as error:  # the model's own: the task's network or its training
                raise TrialFailed(f"{type(error).__name__}: {first_line(error, 280)}") from error

    def _epochs_kept(self, history):
        """Epochs up to the best one, whose weights early stopping restores."""
        scores = history.get(self.oracle.objective.name) or history.get("loss", [])
        return self._best_index(scores) + 1 if scores else 0

    def _best_index(self, scores):
        """The best epoch of `scores`; a trial whose scores are all NaN failed."""
        if np.all(np.isnan(scores)):
            raise TrialFailed(f"{self.oracle.objective.name} was NaN at every epoch")
        if self.oracle.objective.direction == "min":
            return int(np.nanargmin(scores))
        return int(np.nanargmax(scores))

    def run_trial(self, trial):
        hp = trial.hyperparameters
        values = hp.values
        epochs = int(values.get("tuner/epochs", self.epochs))
        initial = int(values.get("tuner/initial_epoch", 0))
        fraction = float(values.get("tuner/fraction", 1.0))
        parent = self.parent(trial)
        deadline = self.deadline_for(trial)
        fitted = self.fit(
            hp, "train", epochs, deadline, seed=self.settings.seed + int(trial.trial_id),
            initial_epoch=initial, fraction=fraction,
            weights=self.files.weights_path(parent.trial_id) if parent else None,
            on_epoch=self.on_epoch,
            log_dir=tensorboard.trial_log_dir(self.log_root, trial.trial_id))
        history = fitted.history
        losses = history.get("loss", [])
        if not losses or not all(math.isfinite(v) for v in losses):
            raise TrialFailed(f"loss became NaN or infinite at epoch {initial + len(losses)}")
        name = self.oracle.objective.name
        scores = history[name]
        best = self._best_index(scores)
        self.files.keep_weights(trial.trial_id, fitted.model)
        self.files.keep_history(trial.trial_id, history, parent and parent.trial_id, initial)
        tensorboard.write_trial_hparams(self.tf, self.log_root, trial.trial_id, hp.values,
                                        {name: float(scores[best])})
        earlier = (parent.metrics.get_last_value("examples_seen") or 0) if parent else 0
        results = {name: float(scores[best]), "best_epoch": initial + best + 1,
                   "epochs_run": len(scores), "fit_seconds": fitted.seconds,
                   "epoch_seconds": fitted.steady_epoch_seconds() / fraction,
                   "trace_seconds": fitted.trace_seconds(),
                   "examples_seen": earlier + fitted.examples,
                   "converged": float(not fitted.stopped and initial + len(scores) < epochs),
                   "parameters": fitted.model.count_params()}
        results.update(self.trial_facts(hp, fitted.model))
        if self.ensemble_size > 1:
            temperature = self.keep_val_probabilities(trial, fitted.model)
            if temperature is not None:
                results["temperature"] = temperature
        return results

    def parent(self, trial):
        """The trial a promotion continues, or None: asked of the oracle, which on a
        worker is the chief's (keras-tuner's `OracleClient` forwards `get_trial`)."""
        parent_id = trial.hyperparameters.values.get("tuner/trial_id")
        return self.oracle.get_trial(parent_id) if parent_id else None

    def trial_facts(self, hp, model):
        """What the task learns about the data from a trained classification model,
        as trial metrics named `fact/<name>` (`Selection.facts` reads them back)."""
        if self.hypermodel.problem.name != "classification":
            return {}
        facts = capabilities.trial_facts(self.task, hp, model, self.feeds.pipeline(
            "val", hp, self.batch_size(hp), training=False), self.dataset.val.y)
        return {f"{FACT_PREFIX}{name}": float(value) for name, value in facts.items()}

    def deadline_for(self, trial):
        """When a trial about to run must stop.

        A trial handed out by a chief (`automl.distribute.chief`) carries its deadline,
        decided where the budget is kept; otherwise the planner decides (the first
        trial's deadline leaves it one epoch where the budget allows).
        """
        values = trial.hyperparameters.values
        if REMOTE_DEADLINE in values:
            return values[REMOTE_DEADLINE] or float("inf")
        return self.planner.deadline_for(trial, first=not self.selection.completed())

    def on_epoch(self, epoch, logs):
        """Called after every epoch of a trial: keeps the saved elapsed time current."""
        self.after_trial()

    # Models of trials ------------------------------------------------------------

    def weights_path(self, trial_id):
        return self.files.weights_path(trial_id)

    def keep_val_probabilities(self, trial, model):
        """Save a trial's best-epoch validation predictions for ensemble selection.

        Class probabilities are temperature-scaled on val (`automl.tuning.ensemble.temperature`);
        returns the temperature, which the trial's members and retrains take on (None
        for other problem types, whose predictions are saved as they are).
        """
        hp = trial.hyperparameters
        probabilities = model.predict(self.feeds.pipeline(
            "val", hp, self.batch_size(hp), training=False), verbose=0)
        if self.hypermodel.problem.name != "classification":
            self.files.keep_val_probabilities(trial.trial_id, probabilities)
            return None
        temperature = ensemble.temperature(probabilities, self.dataset.val.y)
        self.files.keep_val_probabilities(
            trial.trial_id, ensemble.with_temperature(probabilities, temperature))
        return temperature

    def val_probabilities(self, trial):
        """A trial's saved validation probabilities (predicted again if none were saved)."""
        def predict():
            hp = trial.hyperparameters
            return self.best_model(trial).predict(self.feeds.pipeline(
                "val", hp, self.batch_size(hp), training=False), verbose=0)
        return self.files.val_probabilities(trial.trial_id, predict)

    def best_model(self, trial):
        """A trial's model as trained in the search (train split only), at its temperature.

        It predicts eagerly where val is at most `space.EAGER_STEPS` batches.
        """
        hp = trial.hyperparameters
        model = self.hypermodel.build(hp)
        model.load_weights(self.files.weights_path(trial.trial_id))
        self.calibrate(trial, model)
        model.run_eagerly = self.feeds.steps("val", self.batch_size(hp)) <= space.EAGER_STEPS
        return model

    @staticmethod
    def calibrate(trial, model):
        """Give `model` the temperature fitted to `trial` on val, where one was."""
        if trial.metrics.exists("temperature"):
            space.set_temperature(model, trial.metrics.get_last_value("temperature"))

    def ensemble(self):
        """The trials to export, their search models and the average's val probabilities.

        Ensemble selection on val (see `automl.tuning.selection`) starting from the final
        trial. Returns `([final], None, None)` when the ensemble size is 1 or no
        other trial completed.
        """
        members, probabilities = self.selection.members_and_probabilities()
        if probabilities is None:
            return members, None, None
        models = []
        for trial in members:
            models.append(self.best_model(trial))
            models[-1].name = f"trial_{trial.trial_id}"
        average = np.mean([probabilities[t.trial_id] for t in members], axis=0)
        return members, models, average

    # What the chief, the progress display and the pipeline ask --------------------

    def completed_trials(self):
        return self.selection.completed()

    def failed_trials(self):
        return self.selection.failed()

    def best_trial(self):
        return self.selection.best()

    def final_trial(self):
        return self.selection.final()

    def time_for_another_trial(self):
        return self.planner.time_for_another_trial()

    def stopped_reason(self):
        """Why the oracle proposed no more trials: `max_trials`, `time_budget` or `space_exhausted`."""
        if self.max_trials and len(self.oracle.trials) >= self.max_trials:
            return "max_trials"
        if getattr(self.oracle, "out_of_time", False):
            return "time_budget"
        return "space_exhausted"

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
            if trial.status == STOPPED:
                self.stop_reason = self.stopped_reason()
                break
            if trial.status == trial_lib.TrialStatus.IDLE:
                continue
            if trial.metrics.metrics:
                # A trial killed after its results were recorded runs again from scratch.
                trial.metrics = kt_private.fresh_metrics()
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
            except kt.errors.FailedTrialError as error:  # an error elsewhere is a bug: it stops
                trial.status = FAILED
                trial.message = trial_message(error)
                failures += 1
            self.oracle.end_trial(trial)
            self.save()
            self.after_trial()
            self.trial_done()
            self.progress.trial_ended(trial, time.time() - started, self)
            if failures >= self.settings.max_failures:
                self.stop_reason = "failures"
                self.failure_note = collections.Counter(
                    t.message for t in self.failed_trials()).most_common(1)[0][0]
                break


def trial_message(error):
    """The one line a failed trial records: what went wrong, without a traceback."""
    if isinstance(error, TrialFailed):
        return first_line(error, 300)
    return f"{type(error).__name__}: {first_line(error, 280)}"
