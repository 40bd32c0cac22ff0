"""Helpers shared by the benchmark scripts: timed CLI runs and machine facts."""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def machine():
    cores = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {cores} cores, {memory:.0f} GiB, Python {platform.python_version()}"


def timed_search(task, data, out, budget, seed, *extra):
    """Run `automl search` in a subprocess; returns (wall seconds, model card)."""
    command = [sys.executable, "-m", "automl", "search", "--task", task, "--data", data,
               "--out", out, "--time-budget", str(budget), "--seed", str(seed), "--overwrite",
               *extra]
    started = time.time()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.time() - started
    card = json.load(open(os.path.join(out, "model", "model_card.json")))
    return wall, card


def serving_accuracy(run, data):
    """Accuracy of the run's SavedModel on labelled data, through score_savedmodel.py."""
    output = subprocess.run([sys.executable, os.path.join(HERE, "score_savedmodel.py"), run, data],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])["accuracy"]


def report_searches(task, data, test_data, budget, seeds):
    """Run one search per seed in a temporary folder and print its SavedModel's accuracy."""
    import tempfile

    for seed in seeds:
        with tempfile.TemporaryDirectory() as folder:
            run = os.path.join(folder, "run")
            wall, card = timed_search(task, data, run, budget, seed)
            accuracy = serving_accuracy(run, test_data)
            print(f"keras-automl seed {seed}: SavedModel test accuracy {accuracy:.4f}, "
                  f"{card['search']['trials']} trials, wall {wall:.0f}s for a {budget}s budget, "
                  f"exported {card['hyperparameters'][f'{task}/family']}, "
                  f"ensemble of trials {', '.join(card['search']['ensemble'])}, "
                  f"retrain: {card['search']['retrain_note'] or card['search']['retrain_epochs']}, "
                  f"seconds {card['search']['seconds']}")


def benchmark_args(data_default=None):
    """Arguments shared by the search benchmarks: DATA, --budget, --seeds."""
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?" if data_default else None, default=data_default)
    parser.add_argument("--budget", type=int, default=600)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    args = parser.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    return args


def report_baseline(name, train_and_score, *arguments):
    """Print a baseline's test accuracy and how long it took."""
    started = time.time()
    accuracy = train_and_score(*arguments)
    print(f"{name}: test accuracy {accuracy:.4f} ({time.time() - started:.0f}s)")
