"""The chief of a distributed search: serves the search's oracle to workers over gRPC.

keras-tuner's own distributed mode: the chief serves the oracle with keras-tuner's
`OracleServicer` and workers (`automl.worker`) pull trials through keras-tuner's
`OracleClient`, run them, and save weights, histories and logs into the shared run
directory. On top of keras-tuner's service the chief

- keeps the time budget: it hands out a new trial only while one can finish before
  the search deadline, and sends each trial's deadline with it;
- tells a worker to wait (an idle trial) while other workers still run the last
  trials, so that a trial whose worker dies can still be run by another;
- hears each worker on every call and heartbeat: a worker silent for longer than
  `worker_timeout` seconds loses its trial to keras-tuner's retry queue, and the next
  worker that asks runs it again under its own id;
- records which worker ran each trial, and shows the search's progress.

When no trial is left to hand out and none is running, the chief writes
`RUN/search/ended`, stops serving, and the search goes on to retrain, evaluate and
export as a local one does. The channel is unauthenticated and unencrypted: keep it
on a private network.
"""

import collections
import dataclasses
import os
import threading
import time
from concurrent import futures

from automl import interrupt
from automl.errors import AutomlError

ENDED_FILE = "ended"          # RUN/search/ended: the search handed out its last trial
MESSAGE = "tuner/message"     # a failed trial's message, sent back by its worker
DEFAULT_PORT = 8470
DEFAULT_WORKER_TIMEOUT = 60.0


@dataclasses.dataclass(frozen=True)
class ChiefOptions:
    """Where the chief listens and how long a silent worker keeps its trial."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT


def parse_address(text, default_host="127.0.0.1"):
    """`(host, port)` of `HOST:PORT`, `:PORT` or `PORT`; a one-line error otherwise."""
    host, _, port = str(text).rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 < number < 65536:
        raise AutomlError(f"malformed address '{text}': expected HOST:PORT, e.g. 127.0.0.1:8470")
    return host.strip("[]") or default_host, number


def ended_path(run_path):
    return os.path.join(run_path, "search", ENDED_FILE)


def _servicer_class():
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief
    from keras_tuner.src.engine import metrics_tracking, trial as trial_lib

    from automl.search import REMOTE_DEADLINE, REMOTE_MIN_EPOCHS

    status = trial_lib.TrialStatus

    class ChiefServicer(oracle_chief.OracleServicer):
        """keras-tuner's oracle service, keeping the budget and the workers' liveness."""

        def __init__(self, tuner, options, trial_ended):
            super().__init__(tuner.oracle)
            self.tuner, self.options, self.trial_ended = tuner, options, trial_ended
            self.lock = threading.RLock()
            self.heard = {}
            self.started = {}
            self.failures = 0
            self.stop_reason = None

        # Requests ----------------------------------------------------------------

        def CreateTrial(self, request, context):
            with self.lock:
                worker = request.tuner_id
                self.heard[worker] = time.time()
                self.reassign_lost()
                trial = self.next_trial(worker)
                return protos.get_service().CreateTrialResponse(trial=trial.to_proto())

        def UpdateTrial(self, request, context):
            with self.lock:
                trial = self.oracle.trials.get(request.trial_id)
                if trial is None or not self.running(request.trial_id):  # reassigned meanwhile
                    return protos.get_service().UpdateTrialResponse(
                        trial=(trial or trial_lib.Trial(self.oracle.get_space())).to_proto())
                self.hear_trial(request.trial_id)
                metrics = dict(request.metrics)
                metrics["finished_at"] = self.tuner.budget.elapsed()
                trial = self.oracle.update_trial(request.trial_id, metrics, step=request.step)
                return protos.get_service().UpdateTrialResponse(trial=trial.to_proto())

        def EndTrial(self, request, context):
            with self.lock:
                ended = trial_lib.Trial.from_proto(request.trial)
                values = ended.hyperparameters.values
                ended.message = values.pop(MESSAGE, None)
                for name in (REMOTE_DEADLINE, REMOTE_MIN_EPOCHS):
                    values.pop(name, None)
                trial_id = ended.trial_id
                if trial_id in self.oracle._retry_queue:  # its worker came back in time
                    self.oracle._retry_queue.remove(trial_id)
                elif not self.running(trial_id):
                    return protos.get_service().EndTrialResponse()
                self.hear_trial(trial_id)
                self.oracle.end_trial(ended)
                trial = self.oracle.trials[trial_id]
                self.failures = self.failures + 1 if trial.status == status.FAILED else 0
                if self.failures >= self.tuner.settings.max_failures:
                    self.stop_reason = "failures"
                self.trial_ended(trial, time.time() - self.started.pop(trial_id, time.time()))
                return protos.get_service().EndTrialResponse()

        def GetTrial(self, request, context):
            with self.lock:
                self.hear_trial(request.trial_id)  # a worker's heartbeat
                return super().GetTrial(request, context)

        # Scheduling --------------------------------------------------------------

        def next_trial(self, worker):
            """The trial `worker` runs next: new, retried, idle (wait) or stopped."""
            oracle = self.oracle
            if worker in oracle.ongoing_trials:
                return self.outgoing(oracle.ongoing_trials[worker], worker)
            if self.stop_reason is None and not self.tuner.time_for_another_trial():
                self.stop_reason = "time_budget"
            if oracle._retry_queue and self.stop_reason in (None, "max_trials", "space_exhausted"):
                trial = oracle.create_trial(worker)
                trial.metrics = metrics_tracking.MetricsTracker()  # runs again from scratch
                trial.score, trial.best_step = None, 0
                return self.outgoing(trial, worker)
            if self.stop_reason is None:
                trial = oracle.create_trial(worker)
                if trial.status == status.RUNNING:
                    return self.outgoing(trial, worker)
                if trial.status != status.STOPPED:
                    return trial
                self.stop_reason = self.tuner.stopped_reason()
            waiting = oracle.ongoing_trials or oracle._retry_queue
            return trial_lib.Trial(oracle.get_space(),
                                   status=status.IDLE if waiting else status.STOPPED)

        def outgoing(self, trial, worker):
            """A copy of `trial` carrying its deadline, recorded as run by `worker`."""
            deadline, min_epochs = self.tuner.trial_limits(trial)
            self.tuner.workers[trial.trial_id] = worker
            self.tuner.save_workers()
            if trial.trial_id not in self.started:
                self.started[trial.trial_id] = time.time()
                self.tuner.progress.trial_started(trial, self.tuner)
            sent = trial_lib.Trial.from_proto(trial.to_proto())
            sent.hyperparameters.values[REMOTE_DEADLINE] = (
                0.0 if deadline == float("inf") else float(deadline))
            sent.hyperparameters.values[REMOTE_MIN_EPOCHS] = int(min_epochs)
            return sent

        def running(self, trial_id):
            return any(t.trial_id == trial_id for t in self.oracle.ongoing_trials.values())

        def hear_trial(self, trial_id):
            for worker, trial in self.oracle.ongoing_trials.items():
                if trial.trial_id == trial_id:
                    self.heard[worker] = time.time()

        def reassign_lost(self):
            """Send the trials of workers silent for too long to the retry queue."""
            now = time.time()
            for worker, trial in list(self.oracle.ongoing_trials.items()):
                if now - self.heard.get(worker, now) > self.options.worker_timeout:
                    self.oracle.ongoing_trials.pop(worker)
                    self.oracle._retry_queue.append(trial.trial_id)
                    self.tuner.progress.phase(
                        f"worker {worker} is silent: trial {trial.trial_id} will run again")

        def over(self):
            with self.lock:
                self.reassign_lost()
                if self.stop_reason is None and not self.tuner.time_for_another_trial():
                    self.stop_reason = "time_budget"
                retries = self.oracle._retry_queue if self.stop_reason in (
                    "max_trials", "space_exhausted") else []
                return (self.stop_reason is not None and not self.oracle.ongoing_trials
                        and not retries)

    return ChiefServicer


def serve(tuner, options, run_path, trial_ended):
    """Serve `tuner`'s oracle until the search is over; sets `tuner.stop_reason`.

    `trial_ended(trial, seconds)` runs on the chief after each trial a worker ends.
    """
    import grpc
    from keras_tuner.src import protos

    from automl.search import LOCAL_WORKER

    if os.path.exists(ended_path(run_path)):
        os.remove(ended_path(run_path))
    for trial in tuner.oracle.trials.values():  # trials a resumed chief sends again
        tuner.workers.setdefault(trial.trial_id, LOCAL_WORKER)
    servicer = _servicer_class()(tuner, options, trial_ended)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    address = f"{options.host}:{options.port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise AutomlError(f"cannot listen on {address}: the port is taken or the address "
                          "is not this machine's")
    server.start()
    tuner.progress.phase(
        f"chief listening on {address} (unauthenticated: keep it on a private network); "
        f"start workers with `automl worker --connect {address} --out {run_path}`")
    try:
        while not servicer.over():
            interrupt.check()
            time.sleep(0.5)
        with open(ended_path(run_path), "w", encoding="utf-8") as handle:
            handle.write(servicer.stop_reason + "\n")
        time.sleep(1.0)  # answer the workers that are asking right now
    finally:
        server.stop(grace=1.0)
    tuner.stop_reason = servicer.stop_reason
    if servicer.stop_reason == "failures":
        tuner.failure_note = collections.Counter(
            t.message for t in tuner.failed_trials()).most_common(1)[0][0]
