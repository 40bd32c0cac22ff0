"""A chief with two workers against one search process, and a worker killed mid-search.

Usage: python benchmarks/distributed.py DATA [--repeats 3] [--work /tmp/distbench]

DATA is a split image folder (e.g. the digits PNGs of make_digits_pngs.py). Each
repetition runs, one after the other on this machine:
  single: `automl search --max-trials 8 --epochs 3 --tuner random` (default threads);
  pair:   the same search with --chief and two `automl worker --threads 1`;
and once at the end, `kill`: the pair with one worker SIGKILLed during its second trial.
Printed per run: wall seconds (from the search's start to its exit), completed trials,
trials per worker, and the SavedModel's accuracy on DATA/test; then the median wall
ratio pair / single with its spread.
"""

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

from common import machine, serving_accuracy

SEARCH = ("--task", "image", "--max-trials", "8", "--epochs", "3", "--tuner", "random")


def automl(*args):
    return subprocess.Popen([sys.executable, "-m", "automl", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def trials_started_by(run, worker):
    try:
        return sum(1 for w in json.load(open(os.path.join(run, "search", "workers.json"))).values()
                   if w == worker)
    except (OSError, ValueError):
        return 0


def distributed(data, run, kill=False):
    port = free_port()
    started = time.time()
    chief = automl("search", *SEARCH, "--data", data, "--out", run, "--chief",
                   "--listen", f"127.0.0.1:{port}")
    workers = {name: automl("worker", "--connect", f"127.0.0.1:{port}", "--out", run,
                            "--threads", "1", "--id", name) for name in ("one", "two")}
    if kill:  # worker one dies a second into its second trial
        while trials_started_by(run, "one") < 2 and chief.poll() is None:
            time.sleep(0.1)
        time.sleep(1.0)
        workers["one"].send_signal(signal.SIGKILL)
    chief.wait()
    wall = time.time() - started
    for process in workers.values():
        process.wait(timeout=120)
    return wall


def single(data, run):
    started = time.time()
    subprocess.run([sys.executable, "-m", "automl", "search", *SEARCH, "--data", data,
                    "--out", run], check=True, stdout=subprocess.DEVNULL)
    return time.time() - started


def describe(label, run, wall, data):
    card = json.load(open(os.path.join(run, "model", "model_card.json")))
    rows = list(csv.DictReader(open(os.path.join(run, "report", "trials.csv"))))
    per_worker = {}
    for row in rows:
        per_worker[row["worker"]] = per_worker.get(row["worker"], 0) + 1
    ids = [row["trial_id"] for row in rows]
    print(f"{label}: wall {wall:.0f}s, {card['search']['completed']} completed of {len(rows)} "
          f"trials (ids unique: {len(ids) == len(set(ids))}), per worker {per_worker}, "
          f"SavedModel test accuracy {serving_accuracy(run, os.path.join(data, 'test')):.4f}",
          flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", default="/tmp/distbench")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    ratios = []
    for repeat in range(args.repeats):
        walls = {}
        for mode in ("single", "pair"):
            run = os.path.join(args.work, f"{mode}{repeat}")
            shutil.rmtree(run, ignore_errors=True)
            walls[mode] = (single if mode == "single" else distributed)(args.data, run)
            describe(f"{mode} #{repeat}", run, walls[mode], args.data)
        ratios.append(walls["pair"] / walls["single"])
    run = os.path.join(args.work, "kill")
    shutil.rmtree(run, ignore_errors=True)
    describe("pair, worker one killed", run, distributed(args.data, run, kill=True), args.data)
    print(f"wall ratio two workers at --threads 1 / one search: median "
          f"{statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f}, "
          f"{len(ratios)} repetitions)")


if __name__ == "__main__":
    main()
