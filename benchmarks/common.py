"""Helpers shared by the benchmark scripts: timed CLI runs and machine facts."""

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
