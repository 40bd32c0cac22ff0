"""Orchestrator benchmarks on digits: overhead, memory across trials, serving latency.

Usage: python benchmarks/orchestrator.py [--trials 30]
       python benchmarks/orchestrator.py --memory-only text:DATA --trials 20 --seeds 0 1 2

- overhead: search wall time / summed Model.fit time of its trials, on a digits search
  whose trials train for 10 s or more (the mean of 10 repeats of the data per epoch);
- memory: resident memory after each of `--trials` trials of one search; the mean
  of the last ten against the mean of the first ten (with `--memory-only`, one search
  per seed, each in a fresh process, and the median and range of the ratios);
- latency: median single-example latency of the exported SavedModel and of the same
  model called through Keras, side by side.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import psutil

sys.path.insert(0, os.path.dirname(__file__))
from common import machine  # noqa: E402


class Recorder:
    """A progress display that records memory after every trial and stays quiet."""

    def __init__(self):
        self.rss = []

    def phase(self, message):
        pass

    def trial_started(self, trial, tuner):
        pass

    def trial_ended(self, trial, seconds, tuner):
        self.rss.append(psutil.Process().memory_info().rss / 2**20)

    def close(self):
        pass


def run_search(out, trials, epochs, repeat, task_name="image", data="digits", seed=0):
    """A search through the orchestrator; returns (tuner, recorder, search seconds)."""
    from automl.runtime import env
    from automl import registry
    from automl.tuning.budget import Budget
    from automl.data.feeds import Feeds
    from automl.tuning.tuner import SearchTuner
    from automl.settings import from_mapping
    from automl.runtime.timing import PhaseClock

    tf, keras = env.import_tensorflow()
    settings = from_mapping({"task": task_name, "data": data, "out": out, "tuner": "random",
                             "max_trials": trials, "epochs": epochs, "seed": seed})
    task = registry.get_task(task_name)
    dataset = task.load(settings)
    if repeat > 1:
        dataset.train.x = np.concatenate([dataset.train.x] * repeat)
        dataset.train.y = np.concatenate([dataset.train.y] * repeat)
    recorder = Recorder()
    now = time.time()
    tuner = SearchTuner(task, dataset, Feeds(task, dataset, settings.seed, tf), settings,
                        Budget(None, now), keras, tf, out, recorder, PhaseClock(now))
    started = time.time()
    tuner.search()
    return tuner, recorder, time.time() - started


def latency(run_dir):
    import keras
    import tensorflow as tf


    serve = tf.saved_model.load(os.path.join(run_dir, "model", "saved_model")).signatures["serving_default"]
    model = keras.saving.load_model(os.path.join(run_dir, "model", "model.keras"))
    example = tf.constant(np.random.RandomState(0).uniform(0, 255, (1, 8, 8, 1)).astype("float32"))
    timings = {"saved_model": [], "keras": []}
    for _ in range(20):
        serve(inputs=example)
        model(example, training=False)
    for _ in range(300):
        started = time.perf_counter()
        serve(inputs=example)
        timings["saved_model"].append(time.perf_counter() - started)
        started = time.perf_counter()
        model(example, training=False)
        timings["keras"].append(time.perf_counter() - started)
    return {k: statistics.median(v) * 1000 for k, v in timings.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--memory-only", metavar="TASK:DATA",
                        help="only the memory measure, on this task and data "
                             "(text:../shared/data/rotten_tomatoes), one epoch per trial")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="search seeds for --memory-only, one fresh process each")
    parser.add_argument("--system-allocator", action="store_true",
                        help="with --seeds: oneDNN allocates through malloc instead of its own "
                             "pool, which keeps the largest trial's memory for reuse")
    args = parser.parse_args()
    print(f"# orchestrator benchmark, {time.strftime('%Y-%m-%d')}, {machine()}")
    if args.memory_only and len(args.seeds) > 1:
        ratios = []
        for seed in args.seeds:
            env = dict(os.environ)
            if args.system_allocator:
                env["TF_ONEDNN_USE_SYSTEM_ALLOCATOR"] = "1"
            output = subprocess.run(
                [sys.executable, __file__, "--memory-only", args.memory_only,
                 "--trials", str(args.trials), "--seeds", str(seed)],
                check=True, capture_output=True, text=True, env=env).stdout
            line = output.strip().splitlines()[-1]
            print(f"seed {seed}: {line}", flush=True)
            ratios.append(float(line.split("ratio ")[1].split(",")[0]))
        print(f"memory ratio, median of {len(ratios)} seeds {statistics.median(ratios):.3f} "
              f"(range {min(ratios):.3f} to {max(ratios):.3f})")
        return
    if args.memory_only:
        task_name, data = args.memory_only.split(":", 1)
        with tempfile.TemporaryDirectory() as folder:
            _, recorder, _ = run_search(folder, args.trials, 1, 1, task_name, data, args.seeds[0])
        first, last = np.mean(recorder.rss[:10]), np.mean(recorder.rss[-10:])
        print(f"memory ({task_name}): {len(recorder.rss)} trials, RSS first ten {first:.0f} MiB, "
              f"last ten {last:.0f} MiB, ratio {last / first:.3f}, max {max(recorder.rss):.0f} MiB")
        return
    with tempfile.TemporaryDirectory() as folder:
        tuner, _, seconds = run_search(os.path.join(folder, "overhead"), 4, 6, 10)
        fits = [t.metrics.get_last_value("fit_seconds") for t in tuner.completed_trials()]
        print(f"overhead: search {seconds:.1f}s / summed fit {sum(fits):.1f}s = "
              f"{seconds / sum(fits):.3f} (trials fit {min(fits):.1f}..{max(fits):.1f}s)")

        tuner, recorder, seconds = run_search(os.path.join(folder, "memory"), args.trials, 2, 1)
        first, last = np.mean(recorder.rss[:10]), np.mean(recorder.rss[-10:])
        print(f"memory: {len(recorder.rss)} trials, RSS first ten {first:.0f} MiB, last ten "
              f"{last:.0f} MiB, ratio {last / first:.3f}, max {max(recorder.rss):.0f} MiB")

        from automl.cli import cli
        from click.testing import CliRunner

        run = os.path.join(folder, "latency")
        CliRunner().invoke(cli, ["search", "--task", "image", "--data", "digits", "--out", run,
                                 "--max-trials", "1", "--epochs", "3"], catch_exceptions=False)
        timings = latency(run)
        print(f"latency, one 8x8 image, median of 300: SavedModel {timings['saved_model']:.3f} ms, "
              f"Keras model call {timings['keras']:.3f} ms")


if __name__ == "__main__":
    main()
