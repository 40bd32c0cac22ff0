"""Anytime-search benchmark: successive halving (`--scheduler asha`) against the
full-fidelity search it replaces (`--scheduler full`), side by side in one run.

For each task and seed both schedulers search the same data under the same budget;
reported per run: trials, promotions, best validation score at quarters of the
budget, wall time, test accuracy and the card's `search.seconds` breakdown; then the
median and range over seeds.

Usage: python benchmarks/anytime.py --keywords KW_DIR [--budget 90] [--seeds 0,1,2]
KW_DIR is the output of ../shared/data/make_keywords.py. Images are mnist5k and text
is rotten_tomatoes from ../shared/data.
"""

import argparse
import gzip
import json
import os
import statistics
import tempfile
import time

import numpy as np

from common import machine, timed_search

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")


def mnist5k_pngs(out):
    """../shared/data/mnist5k as PNG folders, split 70/15/15 per class (seed 0).

    Each row holds 784 pixel values, then the label.
    """
    from PIL import Image

    with gzip.open(os.path.join(SHARED, "mnist5k", "mnist_5k.csv.gz"), "rt") as handle:
        rows = np.loadtxt(handle, delimiter=",", dtype="int64")
    rng = np.random.RandomState(0)
    for label in range(10):
        index = rng.permutation(np.flatnonzero(rows[:, -1] == label))
        cut = [int(len(index) * 0.7), int(len(index) * 0.85)]
        for split, part in zip(("train", "val", "test"), np.split(index, cut)):
            folder = os.path.join(out, split, str(label))
            os.makedirs(folder, exist_ok=True)
            for i in part:
                pixels = rows[i, :-1].reshape(28, 28).astype("uint8")
                Image.fromarray(pixels).save(os.path.join(folder, f"{i}.png"))
    return out


def best_so_far(run, budget):
    """Best validation score finished by 25%, 50%, 75% and 100% of the budget."""
    folder = os.path.join(run, "search")
    finished = []
    for name in os.listdir(folder):
        path = os.path.join(folder, name, "trial.json")
        if name.startswith("trial_") and os.path.exists(path):
            trial = json.load(open(path))
            metrics = trial["metrics"]["metrics"]
            if trial["status"] == "COMPLETED" and "finished_at" in metrics:
                at = metrics["finished_at"]["observations"][0]["value"][0]
                finished.append((at, trial["score"]))
    return [max([s for t, s in finished if t <= q * budget], default=None)
            for q in (0.25, 0.5, 0.75, 1.0)]


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"{statistics.median(values):.4f} ({min(values):.4f}-{max(values):.4f})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--keywords", required=True, help="make_keywords.py output folder")
    parser.add_argument("--budget", type=int, default=90)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--tasks", default="image,text,audio")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"# anytime benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {machine()}, "
          f"budget {args.budget}s, seeds {seeds}")
    with tempfile.TemporaryDirectory() as scratch:
        data = {"image": mnist5k_pngs(os.path.join(scratch, "mnist5k")),
                "text": os.path.join(SHARED, "rotten_tomatoes"), "audio": args.keywords}
        for task in args.tasks.split(","):
            results = {}
            for seed in seeds:
                for scheduler in ("asha", "full"):
                    run = os.path.join(scratch, f"{task}-{scheduler}-{seed}")
                    wall, card = timed_search(task, data[task], run, args.budget, seed,
                                              "--scheduler", scheduler, "--tuner", "bayesian")
                    search = card["search"]
                    curve = best_so_far(run, args.budget)
                    row = {"test": card["metrics"]["test"]["accuracy"], "curve": curve,
                           "trials": search["completed"], "promoted": search["promoted"],
                           "wall": wall, "seconds": search["seconds"]}
                    results.setdefault(scheduler, []).append(row)
                    print(f"{task} {scheduler} seed {seed}: test {row['test']:.4f}, "
                          f"best val at 25/50/75/100% {['-' if v is None else round(v, 4) for v in curve]}, "
                          f"{row['trials']} trials ({row['promoted']} promotions), wall {wall:.0f}s, "
                          f"seconds {search['seconds']}", flush=True)
            for scheduler, rows in results.items():
                curve = [spread([r["curve"][q] for r in rows]) for q in range(4)]
                print(f"SUMMARY {task} {scheduler}: test {spread([r['test'] for r in rows])}; "
                      f"best val at 25% {curve[0]}, 50% {curve[1]}, 75% {curve[2]}, 100% {curve[3]}; "
                      f"trials {statistics.median(r['trials'] for r in rows)}; "
                      f"wall {statistics.median(r['wall'] for r in rows):.0f}s; proposals "
                      f"{statistics.median(r['seconds']['proposals'] for r in rows):.1f}s", flush=True)


if __name__ == "__main__":
    main()
