"""The chief of a distributed search: serves the search's oracle to workers over gRPC.

keras-tuner's own distributed mode: the chief serves the oracle with keras-tuner's
`OracleServicer` and workers (`automl.distribute.worker`) pull trials through keras-tuner's
`OracleClient`, run them, and save weights, histories and logs into the shared run
directory. On top of keras-tuner's service the chief

- keeps the time budget: it hands out a new trial only while one can finish before
  the search deadline, and sends each trial's deadline with it; once the search time
  is up it waits for running trials only until their deadline (plus `REPORT_GRACE`,
  or `REPORT_GRACE` of silence) and never past the retrain's deadline, so that no
  worker, dead workers and silent workers all end the search in time (with no trial
  completed: `SearchFailed`);
- tells a worker to wait (an idle trial) while other workers still run the last
  trials, so that a trial whose worker dies can still be run by another;
- hears each worker on every call and heartbeat: a worker silent for longer than
  `worker_timeout` seconds, or one that reports it was stopped (SIGTERM), loses its
  trial to keras-tuner's retry queue, and the next worker that asks runs it again
  under its own id;
- accepts reports only on trials it handed out, by attempt, so a stale or crafted
  report changes nothing;
- records which worker ran each trial, and shows the search's progress.

When no trial is left to hand out and none is running, the chief writes
`RUN/search/ended` (with the reason), stops serving, removes the files of attempts
that never counted, and the search goes on to retrain, evaluate and
export as a local one does; a resumed chief finds a search that had ended (or whose
trials are all done) over at once. The channel is unauthenticated and unencrypted:
keep it on a private network.
"""

import collections
import dataclasses
import os
import threading
import time
from concurrent import futures

from automl.adapters import keras_tuner as kt_private
from automl.errors import AutomlError, SearchFailed
from automl.run_folder import CHIEF_FILE, ENDED_FILE
from automl.runtime import interrupt
from automl.runtime.files import write_json
from automl.tuning.tuner import LOCAL_WORKER, REMOTE_DEADLINE
MESSAGE = "tuner/message"     # a failed trial's message, sent back by its worker
ATTEMPT = "tuner/attempt"     # which hand-out of a trial a worker runs, sent with its reports
INTERRUPTED = "tuner/interrupted"  # a worker was stopped mid-trial: the trial runs again
REPORT_GRACE = 10.0           # seconds a worker has to report once the search time is up
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


def save_options(options, run_path):
    """Record where the chief listens, so that `automl resume RUN` serves the workers again."""
    write_json(os.path.join(run_path, "search", CHIEF_FILE), dataclasses.asdict(options))


def recorded_options(run_path):
    """The `ChiefOptions` a distributed search in `run_path` was served with, or None."""
    import json

    try:
        with open(os.path.join(run_path, "search", CHIEF_FILE), encoding="utf-8") as handle:
            return ChiefOptions(**json.load(handle))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as error:
        raise AutomlError(f"cannot read {CHIEF_FILE} of {run_path} ({type(error).__name__}): "
                          "resume with --chief or --local") from None


def _token(value):
    return None if value is None else int(value)


def ended_path(run_path):
    return os.path.join(run_path, "search", ENDED_FILE)


def ended_reason(run_path):
    """Why the search in `run_path` ended (`search/ended`), or None while it goes on."""
    try:
        with open(ended_path(run_path), encoding="utf-8") as handle:
            return handle.read().strip() or "time_budget"
    except FileNotFoundError:
        return None


def _servicer_class():
    import grpc
    from keras_tuner.engine import trial as trial_lib

    protos, oracle_chief = kt_private.protos(), kt_private.oracle_chief()

    kt_private.quiet_conditions()

    status = trial_lib.TrialStatus

    class ChiefServicer(oracle_chief.OracleServicer):
        """keras-tuner's oracle service, keeping the budget and the workers' liveness."""

        def __init__(self, tuner, options, trial_ended):
            super().__init__(tuner.oracle)
            self.tuner, self.options, self.trial_ended = tuner, options, trial_ended
            self.lock = threading.RLock()
            self.heard = {}
            self.started = {}
            self.handouts = {}   # trial id -> (attempt token, worker) of its latest hand-out
            self.last_token = 0
            self.results = {}    # trial id -> (token, metrics, step) waiting for its EndTrial
            self.deadlines = {}  # trial id -> the deadline its latest hand-out carries
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
            """A worker's results (kept until its EndTrial) or, without any, its heartbeat."""
            metrics = dict(request.metrics)
            token = _token(metrics.pop(ATTEMPT, None))
            with self.lock:
                trial = self.oracle.trials.get(request.trial_id)
                if trial is not None and self.owns(request.trial_id, token):
                    self.hear_trial(request.trial_id)
                    if metrics:
                        self.results[request.trial_id] = (token, metrics, request.step)
                return protos.get_service().UpdateTrialResponse(
                    trial=(trial or trial_lib.Trial(self.oracle.get_space())).to_proto())

        def EndTrial(self, request, context):
            ended = trial_lib.Trial.from_proto(request.trial)
            values = ended.hyperparameters.values
            ended.message = values.pop(MESSAGE, None)
            token = _token(values.pop(ATTEMPT, None))
            interrupted = bool(values.pop(INTERRUPTED, False))
            values.pop(REMOTE_DEADLINE, None)
            trial_id = ended.trial_id
            with self.lock:
                if trial_id not in self.oracle.trials:  # never handed out: nothing to touch
                    return protos.get_service().EndTrialResponse()
                if interrupted or not self.owns(trial_id, token):
                    if interrupted and self.running(trial_id) and self.owns(trial_id, token):
                        self.retry(trial_id, "was stopped")
                    if token is not None:
                        self.tuner.files.discard(trial_id, token)
                    return protos.get_service().EndTrialResponse()
                self.hear_trial(trial_id)
                result = self.results.pop(trial_id, None)
                if ended.status == status.COMPLETED:
                    if result is None or result[0] != token:
                        ended.status = status.FAILED
                        ended.message = "its results never reached the chief"
                    else:
                        self.oracle.update_trial(trial_id, result[1], step=result[2])
                if token is not None:
                    self.tuner.files.promote(trial_id, token)
                self.handouts.pop(trial_id, None)
                self.deadlines.pop(trial_id, None)
                self.oracle.end_trial(ended)
                trial = self.oracle.trials[trial_id]
                self.failures = self.failures + 1 if trial.status == status.FAILED else 0
                if self.failures >= self.tuner.settings.max_failures:
                    self.stop_reason = "failures"
                self.trial_ended(trial, time.time() - self.started.pop(trial_id, time.time()))
                return protos.get_service().EndTrialResponse()

        def GetTrial(self, request, context):
            with self.lock:
                if request.trial_id not in self.oracle.trials:
                    context.abort(grpc.StatusCode.NOT_FOUND, "no such trial")
                return super().GetTrial(request, context)

        # Ownership ---------------------------------------------------------------

        def owns(self, trial_id, token):
            """Whether the attempt `token` is the one that counts for `trial_id`.

            A trial being run counts only its latest hand-out. A trial waiting in the
            retry queue (its worker fell silent, or the chief restarted under it) is
            taken back by the first attempt that reports on it before it is handed
            out again: that worker carries on as its owner.
            """
            if self.running(trial_id):
                handed = self.handouts.get(trial_id)
                return handed is not None and handed[0] == token
            if token is None or trial_id not in kt_private.retry_queue(self.oracle):
                return False
            kt_private.retry_queue(self.oracle).remove(trial_id)
            worker = self.tuner.workers.get(trial_id)
            if worker is None or worker in self.oracle.ongoing_trials:
                worker = f"adopted-{token}"
            trial = self.oracle.trials[trial_id]
            trial.status = status.RUNNING
            self.oracle.ongoing_trials[worker] = trial
            self.handouts[trial_id] = (token, worker)
            self.heard[worker] = time.time()
            self.started.setdefault(trial_id, time.time())
            self.tuner.progress.phase(f"trial {trial_id} is back with worker {worker}")
            return True

        # Scheduling --------------------------------------------------------------

        def next_trial(self, worker):
            """The trial `worker` runs next: new, retried, idle (wait) or stopped."""
            oracle = self.oracle
            if worker in oracle.ongoing_trials:
                return self.outgoing(oracle.ongoing_trials[worker], worker)
            self.check_time()
            if kt_private.retry_queue(oracle) and self.stop_reason in (None, "max_trials", "space_exhausted"):
                trial = oracle.create_trial(worker)
                trial.metrics = kt_private.fresh_metrics()  # runs again from scratch
                trial.score, trial.best_step = None, 0
                return self.outgoing(trial, worker)
            if self.stop_reason is None:
                trial = oracle.create_trial(worker)
                if trial.status == status.RUNNING:
                    return self.outgoing(trial, worker)
                if trial.status != status.STOPPED:
                    return trial
                self.stop_reason = self.tuner.stopped_reason()
            waiting = oracle.ongoing_trials or kt_private.retry_queue(oracle)
            return trial_lib.Trial(oracle.get_space(),
                                   status=status.IDLE if waiting else status.STOPPED)

        def outgoing(self, trial, worker):
            """A copy of `trial` carrying its deadline and attempt, recorded as run by `worker`."""
            deadline = self.tuner.deadline_for(trial)
            self.deadlines[trial.trial_id] = deadline
            handed = self.handouts.get(trial.trial_id)
            if handed is None or handed[1] != worker:
                handed = self.handouts[trial.trial_id] = (self.new_token(), worker)
            self.tuner.workers[trial.trial_id] = worker
            self.tuner.save_workers()
            if trial.trial_id not in self.started:
                self.started[trial.trial_id] = time.time()
                self.tuner.progress.trial_started(trial, self.tuner)
            sent = trial_lib.Trial.from_proto(trial.to_proto())
            sent.hyperparameters.values[REMOTE_DEADLINE] = (
                0.0 if deadline == float("inf") else float(deadline))
            sent.hyperparameters.values[ATTEMPT] = handed[0]
            return sent

        def new_token(self):
            """A number no earlier attempt had, of this chief or one before it: microseconds."""
            self.last_token = max(self.last_token + 1, int(time.time() * 1e6))
            return self.last_token

        def running(self, trial_id):
            return any(t.trial_id == trial_id for t in self.oracle.ongoing_trials.values())

        def hear_trial(self, trial_id):
            for worker, trial in self.oracle.ongoing_trials.items():
                if trial.trial_id == trial_id:
                    self.heard[worker] = time.time()

        def retry(self, trial_id, why):
            """Take `trial_id` from its worker and queue it to run again from scratch."""
            for worker, trial in list(self.oracle.ongoing_trials.items()):
                if trial.trial_id == trial_id:
                    self.oracle.ongoing_trials.pop(worker)
                    kt_private.retry_queue(self.oracle).append(trial_id)
                    self.tuner.progress.phase(
                        f"worker {worker} {why}: trial {trial_id} will run again")
            self.handouts.pop(trial_id, None)
            self.results.pop(trial_id, None)
            self.deadlines.pop(trial_id, None)

        def reassign_lost(self):
            """Send the trials of workers silent for too long to the retry queue."""
            now = time.time()
            for worker, trial in list(self.oracle.ongoing_trials.items()):
                if now - self.heard.get(worker, now) > self.options.worker_timeout:
                    self.retry(trial.trial_id, "is silent")

        def check_time(self):
            """Stop handing out trials once the search deadline leaves none worth starting."""
            planner = self.tuner.planner
            if self.stop_reason is None and (time.time() >= planner.search_deadline()
                                             or not self.tuner.time_for_another_trial()):
                self.stop_reason = "time_budget"

        def overdue(self, worker, trial_id, now):
            """Whether a running trial's report is not worth waiting for any longer.

            Once the search time is up, a trial is waited for until its deadline and
            `REPORT_GRACE` after it (while no trial completed, as long as the budget
            allows), never past the retrain's deadline, and no longer than
            `REPORT_GRACE` once its worker falls silent.
            """
            planner = self.tuner.planner
            if self.stop_reason != "time_budget" or planner.budget.seconds is None:
                return False
            if (now >= planner.retrain_deadline()
                    or now - self.heard.get(worker, now) > REPORT_GRACE):
                return True
            if not self.tuner.completed_trials():  # the search's only chance of a model
                return False
            deadline = self.deadlines.get(trial_id, planner.search_deadline())
            return now >= deadline + REPORT_GRACE

        def all_done(self):
            """Whether every trial the search may have is done (a resumed chief finds this)."""
            oracle, limit = self.oracle, self.tuner.max_trials
            return (bool(limit) and len(oracle.trials) >= limit and not oracle.ongoing_trials
                    and not kt_private.retry_queue(oracle))

        def over(self):
            with self.lock:
                self.reassign_lost()
                self.check_time()
                if self.stop_reason is None and self.all_done():
                    self.stop_reason = "max_trials"
                now = time.time()
                for worker, trial in list(self.oracle.ongoing_trials.items()):
                    if self.overdue(worker, trial.trial_id, now):
                        self.oracle.ongoing_trials.pop(worker)
                        self.tuner.progress.phase(
                            f"worker {worker} did not report trial {trial.trial_id} "
                            "in time: the search goes on without it")
                retries = kt_private.retry_queue(self.oracle) if self.stop_reason in (
                    "max_trials", "space_exhausted") else []
                return (self.stop_reason is not None and not self.oracle.ongoing_trials
                        and not retries)

    return ChiefServicer


def serve(tuner, options, run_path, trial_ended):
    """Serve `tuner`'s oracle until the search is over; sets `tuner.stop_reason`.

    `trial_ended(trial, seconds)` runs on the chief after each trial a worker ends.
    A search whose chief had ended it (`search/ended`) is not served again. Raises
    `SearchFailed` when the search ends with no trial run to its end (no worker came).
    """
    reason = ended_reason(run_path)
    workers = None
    if reason is None:
        reason, workers = _serve(tuner, options, run_path, trial_ended)
    tuner.files.discard_attempts()
    tuner.stop_reason = reason
    if reason == "failures":
        tuner.failure_note = collections.Counter(
            t.message for t in tuner.failed_trials()).most_common(1)[0][0]
    if not tuner.completed_trials() and not tuner.failed_trials():
        address = f"{options.host}:{options.port}"
        who = (f"no worker connected to {address}" if workers == 0
               else "no worker ran one to its end")
        raise SearchFailed(f"no trial completed within the time budget: {who}; the search "
                           f"state is saved in {run_path}")


def _serve(tuner, options, run_path, trial_ended):
    """Serve until the search is over: `(stop reason, workers that asked for trials)`."""
    import grpc

    protos = kt_private.protos()
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
    save_options(options, run_path)
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
    return servicer.stop_reason, len(servicer.heard)
