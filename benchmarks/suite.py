"""The benchmark suite runner: the search against three references on every chosen set.

Usage: python benchmarks/suite.py [SET or HALF ...] [--budget 300] [--seeds 0,1,2]
       [--methods search,default,simple,expert] [--work /tmp/automl-suite] [--results PREFIX]

SET is a name in benchmarks/suite/sets.py, HALF `development` or `confirmation`; none
means every set. Each set's data is generated into WORK/data/SET when missing. Then, for
every set and seed, one process at a time (never two at once):

- search: `automl search --time-budget B --seed S`;
- default: default-alone, the search's own first configuration trained alone for the
  whole budget through the same code path: `automl search --max-trials 1 --time-budget B
  --seed S` (its one trial at the first rung, then the export continued to the budget's end);
- simple, expert: the modality's hand-written baseline and fixed expert recipe
  (benchmarks/suite/references.py), given the same budget.

The searches are scored by their own single evaluation on test (the model card's
figures: benchmarks/score_savedmodel.py stacks images, so it cannot score sets whose
images differ in size). Rows go to PREFIX.jsonl as they finish; the table (set, method, seed,
accuracy, balanced accuracy where the classes are imbalanced, wall, budget used) to
PREFIX.csv and PREFIX.md, with the summary: the search's wins, ties (within 0.5 points)
and losses against each method, each method's mean rank, and its mean gap to the best in
each row. PREFIX defaults to WORK/results.
"""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(ROOT, "..", "shared", "data")
sys.path.insert(0, HERE)
from sklearn.metrics import balanced_accuracy_score  # noqa: E402

from common import machine  # noqa: E402
from suite.references import REFERENCES  # noqa: E402
from suite.sets import HALVES, SETS  # noqa: E402

METHODS = ("search", "default", "simple", "expert")
TIE = 0.005


def chosen_sets(names):
    """Set names from names and halves, in the registry's order."""
    unknown = [n for n in names if n not in SETS and n not in HALVES]
    if unknown:
        sys.exit(f"unknown set or half: {', '.join(unknown)} (sets: {', '.join(SETS)})")
    return [s for s, spec in SETS.items() if not names or s in names or spec["half"] in names]


def ensure_data(name, work):
    """The set's folder under WORK/data, generated first when missing."""
    folder = os.path.join(work, "data", name)
    if not os.path.isdir(folder):
        partial = folder + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(os.path.dirname(folder), exist_ok=True)
        command = [part.format(python=sys.executable, out=partial, shared=SHARED)
                   for part in SETS[name]["command"]]
        started = time.time()
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        os.rename(partial, folder)
        print(f"# generated {name} in {time.time() - started:.0f}s", flush=True)
    return folder


def automl_run(name, data, budget, seed, *extra):
    """Test accuracy, balanced accuracy and details, from the run's model card."""
    spec = SETS[name]
    with tempfile.TemporaryDirectory() as folder:
        run = os.path.join(folder, "run")
        finished = subprocess.run(
            [sys.executable, "-m", "automl", "search", "--task", spec["modality"], "--data", data,
             "--out", run, "--time-budget", str(budget), "--seed", str(seed), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if finished.returncode:
            sys.exit(f"automl search exited with code {finished.returncode}: "
                     f"{(finished.stderr.strip().splitlines() or ['no output'])[-1]}")
        card = json.load(open(os.path.join(run, "model", "model_card.json")))
    search, test = card["search"], card["metrics"]["test"]
    return test["accuracy"], test.get("balanced_accuracy"), {
        "trials": search["trials"], "ensemble": search.get("ensemble"),
        "retrain": search.get("retrain_mode")}


def measure(method, name, data, budget, seed):
    """One method on one set: (accuracy, balanced accuracy or None, details)."""
    if method == "search":
        return automl_run(name, data, budget, seed)
    if method == "default":
        return automl_run(name, data, budget, seed, "--max-trials", "1")
    truth, predicted, details = REFERENCES[SETS[name]["modality"]][method](data, budget, seed)
    if truth is None:
        return predicted, None, details
    return (float((truth == predicted).mean()), float(balanced_accuracy_score(truth, predicted)),
            details)


def run_one(method, name, data, budget, seed):
    """One measurement in a fresh process (each has the machine to itself): its row.

    A measurement that fails is a row too, scored 0 with the last line of its error:
    a method that gives no model in its budget loses that row.
    """
    started = time.time()
    finished = subprocess.run([sys.executable, __file__, "--one", method, name, "--data", data,
                               "--budget", str(budget), "--seeds", str(seed)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if finished.returncode:
        error = (finished.stderr.strip().splitlines() or ["no output"])[-1]
        row = {"set": name, "method": method, "seed": seed, "accuracy": 0.0,
               "balanced_accuracy": 0.0, "details": {"failed": error}}
    else:
        row = json.loads(finished.stdout.strip().splitlines()[-1])
    row["wall"] = round(time.time() - started, 1)
    row["budget_used"] = round(row["wall"] / budget, 2)
    return row


def score(row):
    """What a row is ranked by: balanced accuracy on imbalanced sets, else accuracy."""
    if SETS[row["set"]]["imbalance"] >= 2 and row["balanced_accuracy"] is not None:
        return row["balanced_accuracy"]
    return row["accuracy"]


def summary(rows, methods):
    """Lines: the search's wins/ties/losses against each method, mean rank, mean gap to best."""
    cases = {}
    for row in rows:
        cases.setdefault((row["set"], row["seed"]), {})[row["method"]] = score(row)
    lines = []
    if "search" in methods:
        for other in methods:
            if other == "search":
                continue
            pairs = [(c["search"], c[other]) for c in cases.values() if "search" in c and other in c]
            wins = sum(s > o + TIE for s, o in pairs)
            losses = sum(s < o - TIE for s, o in pairs)
            lines.append(f"search against {other}: {wins} wins, {len(pairs) - wins - losses} ties, "
                         f"{losses} losses")
    for method in methods:
        ranks, gaps = [], []
        for case in cases.values():
            if method in case:
                ranks.append(1 + sum(v > case[method] for v in case.values()))
                gaps.append(max(case.values()) - case[method])
        if ranks:
            lines.append(f"{method}: mean rank {sum(ranks) / len(ranks):.2f}, "
                         f"mean gap to the best {100 * sum(gaps) / len(gaps):.2f} points")
    return lines


def write_tables(rows, methods, prefix, header):
    columns = ("set", "method", "seed", "accuracy", "balanced_accuracy", "wall", "budget_used")
    with open(prefix + ".csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([[row.get(c) for c in columns] for row in rows])
    lines = [header, "", "| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for row in rows:
        if SETS[row["set"]]["imbalance"] < 2:
            row = {**row, "balanced_accuracy": ""}
        if (row.get("details") or {}).get("failed"):
            row = {**row, "accuracy": f"failed: {row['details']['failed']}"}
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    lines += ["", *[f"- {line}" for line in summary(rows, methods)]]
    with open(prefix + ".md", "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines[-len(summary(rows, methods)):]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", help="set names or halves (default: all)")
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--work", default="/tmp/automl-suite")
    parser.add_argument("--results", help="path prefix of the tables (default WORK/results)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.one:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        accuracy, balanced, details = measure(args.one, args.sets[0], args.data, args.budget, seeds[0])
        print(json.dumps({"set": args.sets[0], "method": args.one, "seed": seeds[0],
                          "accuracy": round(accuracy, 4),
                          "balanced_accuracy": None if balanced is None else round(balanced, 4),
                          "details": details}))
        return
    methods = args.methods.split(",")
    prefix = args.results or os.path.join(args.work, "results")
    header = (f"Suite at {args.budget}s, seeds {args.seeds}, {time.strftime('%Y-%m-%d %H:%M')}, "
              f"{machine()}")
    print(f"# {header}", flush=True)
    rows = []
    for name in chosen_sets(args.sets):
        data = ensure_data(name, args.work)
        for seed in seeds:
            for method in methods:
                row = run_one(method, name, data, args.budget, seed)
                rows.append(row)
                print(json.dumps(row), flush=True)
                with open(prefix + ".jsonl", "a") as handle:
                    handle.write(json.dumps(row) + "\n")
    write_tables(rows, methods, prefix, header)


if __name__ == "__main__":
    main()
