"""A worker of a distributed search: pulls trials from the chief and runs them.

`automl worker --connect HOST:PORT --out RUN` reads the search's settings from
`RUN/recipe.yaml` (written by the chief before it listens), loads the data through
the data cache, and asks the chief for trials with keras-tuner's `OracleClient`
under its own worker id (by default `worker-HOST-PID`, unique per process; never
containing `chief`, which keras-tuner reserves for the chief). Each trial runs
exactly as in a local search and saves its weights, history and logs into RUN,
which all processes share. While a trial runs, a heartbeat tells the chief the
worker is alive. The worker exits 0 when the chief says the search is over, or when
the chief is gone and `RUN/search/ended` says the search ended; a chief that is gone
before the end (killed, being resumed) is waited for. Ctrl-C or SIGTERM stops the
trial between batches, removes its files, hands it back to the chief (which runs it
again elsewhere) and exits 130 or 143.
"""

import os
import re
import socket
import sys
import threading
import time

from automl import registry, settings as settings_lib
from automl.adapters import keras_tuner as kt_private
from automl.data.feeds import Feeds
from automl.distribute import chief
from automl.errors import AutomlError
from automl.report.progress import Progress
from automl.runtime import devices, env, interrupt
from automl.runtime.memory import released_after
from automl.runtime.timing import PhaseClock
from automl.tuning.budget import Budget
from automl.tuning.tuner import SearchTuner, trial_message

CONNECT_SECONDS = 60      # how long a worker waits for a chief that is not listening yet
RECONNECT_SECONDS = 600   # how long it waits for a chief that went away mid-search
CALL_SECONDS = 30         # longest a single request to the chief may take
HEARTBEAT_SECONDS = 5
POLL_SECONDS = 1.0
HAND_BACK_SECONDS = 5     # how long a stopped worker tries to hand its trial back
CHIEF_MARK = "chief"      # keras-tuner runs any tuner whose id contains this as the chief


def default_worker_id():
    """`worker-HOST-PID`, with `chief` in the host name spelled `chf`."""
    host = re.sub(CHIEF_MARK, "chf", socket.gethostname(), flags=re.IGNORECASE)
    return f"worker-{host}-{os.getpid()}"


def check_worker_id(worker_id):
    """`worker_id`, unless keras-tuner would take it for the chief's: a one-line error."""
    if CHIEF_MARK in worker_id.lower():
        raise AutomlError(f"worker id '{worker_id}' contains '{CHIEF_MARK}', which "
                          "keras-tuner reserves for the chief: choose another --id")
    return worker_id


def _client_class():
    from keras_tuner.engine import trial as trial_lib

    protos, oracle_client = kt_private.protos(), kt_private.oracle_client()

    kt_private.quiet_conditions()

    class WorkerClient(oracle_client.OracleClient):
        """keras-tuner's `OracleClient` with bounded waits instead of an hour per request."""

        def __init__(self, oracle, address, worker_id):
            import grpc

            self._oracle = oracle
            self.channel = grpc.insecure_channel(address)
            self.stub = protos.get_service_grpc().OracleStub(self.channel)
            self.tuner_id = worker_id
            self.multi_worker, self.should_report = False, True

        def wait_for_chief(self, seconds):
            import grpc

            ready = grpc.channel_ready_future(self.channel)
            waited = time.time()
            while time.time() - waited < seconds:
                interrupt.check()
                try:
                    ready.result(timeout=POLL_SECONDS)
                    return True
                except grpc.FutureTimeoutError:
                    pass
            ready.cancel()
            return False

        def create_trial(self, tuner_id):
            response = self.stub.CreateTrial(
                protos.get_service().CreateTrialRequest(tuner_id=tuner_id), timeout=CALL_SECONDS)
            return trial_lib.Trial.from_proto(response.trial)

        def update_trial(self, trial_id, metrics, step=0):
            response = self.stub.UpdateTrial(protos.get_service().UpdateTrialRequest(
                trial_id=trial_id, metrics=metrics, step=step), timeout=CALL_SECONDS)
            return trial_lib.Trial.from_proto(response.trial)

        def end_trial(self, trial, timeout=CALL_SECONDS):
            self.stub.EndTrial(protos.get_service().EndTrialRequest(trial=trial.to_proto()),
                               timeout=timeout)

        def get_trial(self, trial_id):
            response = self.stub.GetTrial(protos.get_service().GetTrialRequest(
                trial_id=trial_id), timeout=CALL_SECONDS)
            return trial_lib.Trial.from_proto(response.trial)

    return WorkerClient


class Heartbeat:
    """Tells the chief every few seconds that this worker still runs attempt `token` of `trial_id`."""

    def __init__(self, client, trial_id, token):
        self.client, self.trial_id, self.token = client, trial_id, token
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self):
        while not self.stopped.wait(HEARTBEAT_SECONDS):
            try:
                self.client.update_trial(self.trial_id, {chief.ATTEMPT: float(self.token)})
            except Exception:  # the chief is away: the trial's result is sent when it returns
                pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()


def _say(text):
    print(text, file=sys.stderr, flush=True)


def run_worker(address, run_path, threads=None, worker_id=None):
    """Run trials from the chief at `address` until the search is over."""
    host, port = chief.parse_address(address)
    worker_id = check_worker_id(
        worker_id or os.environ.get("KERASTUNER_TUNER_ID") or default_worker_id())
    recipe = os.path.join(run_path, "recipe.yaml")
    waited = time.time()
    while not os.path.isfile(recipe):
        interrupt.check()
        if time.time() - waited > CONNECT_SECONDS:
            raise AutomlError(f"{run_path} holds no search (no recipe.yaml): start the chief "
                              f"with `automl search ... --out {run_path} --chief` first")
        time.sleep(POLL_SECONDS)
    if os.path.exists(chief.ended_path(run_path)):
        _say(f"worker {worker_id}: the search in {run_path} is over")
        return 0
    settings = settings_lib.load_recipe(recipe, [f"out={run_path}"], legacy=True)
    # keras-tuner's own variables: its tuner then reports to the chief, not to an oracle file.
    os.environ.update(KERASTUNER_TUNER_ID=worker_id, KERASTUNER_ORACLE_IP=host,
                      KERASTUNER_ORACLE_PORT=str(port))
    tf, keras = env.import_tensorflow()
    devices.set_threads(tf, threads or settings.threads)
    strategy = devices.configure(tf, keras, settings)
    tuner = _tuner(settings, run_path, tf, keras, strategy)
    client = _client_class()(kt_private.wrapped_oracle(tuner.oracle), f"{host}:{port}", worker_id)
    if not client.wait_for_chief(CONNECT_SECONDS):
        raise AutomlError(f"no chief is listening on {host}:{port} (waited {CONNECT_SECONDS}s)")
    tuner.oracle = client
    _say(f"worker {worker_id}: connected to {host}:{port}")
    ran = 0
    while True:
        interrupt.check()
        trial = _ask(client, worker_id, run_path)
        if trial is None or trial.status == "STOPPED":
            break
        if trial.status != "RUNNING":
            time.sleep(POLL_SECONDS)
            continue
        _run(tuner, client, trial, worker_id, run_path)
        ran += 1
    _say(f"worker {worker_id}: the search is over ({ran} trial{'s' * (ran != 1)} run here)")
    return ran


def _tuner(settings, run_path, tf, keras, strategy):
    task = registry.get_task(settings.task)
    dataset = task.load(settings)
    tf.config.experimental.enable_op_determinism()
    feeds = Feeds(task, dataset, settings.seed, tf, settings.class_weight)
    budget = Budget(None, time.time())
    progress = Progress(settings, budget, live=False, to_stderr=True)
    return SearchTuner(task, dataset, feeds, settings, budget, keras, tf, run_path, progress,
                       PhaseClock(time.time()), strategy=strategy)


def _ask(client, worker_id, run_path):
    """The chief's next trial for this worker; None when the search ended without it."""
    import grpc

    lost = None
    while True:
        interrupt.check()
        try:
            return client.create_trial(worker_id)
        except grpc.RpcError:
            if os.path.exists(chief.ended_path(run_path)):
                return None
            lost = lost or time.time()
            if time.time() - lost > RECONNECT_SECONDS:
                raise AutomlError(f"lost the chief for {RECONNECT_SECONDS}s and the search has "
                                  "not ended: resume it with `automl resume RUN --chief`") from None
            time.sleep(POLL_SECONDS)


def _run(tuner, client, trial, worker_id, run_path):
    """Run one trial as a local search does, then report it to the chief."""
    import keras_tuner as kt


    trial.metrics = kt_private.fresh_metrics()
    trial.score, trial.best_step = None, 0
    token = int(trial.hyperparameters.values[chief.ATTEMPT])
    _say(f"worker {worker_id}: trial {trial.trial_id} started")
    started = time.time()
    tuner.files.staging = token  # the chief moves the files into place if it counts this run
    try:
        with Heartbeat(client, trial.trial_id, token):
            try:
                with released_after(tuner.keras):
                    results = tuner.run_trial(trial)
                results["trial_seconds"] = time.time() - started
                results[chief.ATTEMPT] = float(token)
                trial.status = "COMPLETED"
            except kt.errors.FailedTrialError as error:  # an error elsewhere is a bug: it stops
                results, trial.status = None, "FAILED"
                trial.hyperparameters.values[chief.MESSAGE] = trial_message(error)
            finally:
                tuner.files.staging = None
        reported = _report(client, trial, results, run_path)
    except KeyboardInterrupt:
        tuner.files.discard(trial.trial_id, token)
        _hand_back(client, trial, worker_id)
        raise
    if not reported:
        tuner.files.discard(trial.trial_id, token)
        _say(f"worker {worker_id}: trial {trial.trial_id} ended after the search did")
        return
    score = results.get(tuner.oracle.objective.name) if results else None
    outcome = f"{score:.4f}" if score is not None else trial.status.lower()
    _say(f"worker {worker_id}: trial {trial.trial_id} {tuner.oracle.objective.name} {outcome} "
         f"({time.time() - started:.1f}s)")


def _report(client, trial, results, run_path):
    """Send a trial's results and its end to the chief; False when the search ended first."""
    import grpc

    reported = time.time()
    while True:
        try:
            if results is not None:
                client.update_trial(trial.trial_id, results)
            client.end_trial(trial)
            return True
        except grpc.RpcError:
            interrupt.check()
            if os.path.exists(chief.ended_path(run_path)):
                return False
            if time.time() - reported > RECONNECT_SECONDS:
                raise AutomlError(f"could not report trial {trial.trial_id} to the chief for "
                                  f"{RECONNECT_SECONDS}s: gave up; its result is lost") from None
            time.sleep(2)


def _hand_back(client, trial, worker_id):
    """Tell the chief this worker stopped mid-trial, so that another runs the trial again."""
    import grpc

    trial.status = "FAILED"
    trial.hyperparameters.values[chief.INTERRUPTED] = True
    try:
        client.end_trial(trial, timeout=HAND_BACK_SECONDS)
        _say(f"worker {worker_id}: stopped; trial {trial.trial_id} goes back to the chief")
    except grpc.RpcError:
        _say(f"worker {worker_id}: stopped; the chief will give trial {trial.trial_id} "
             "to another worker once it notices")
