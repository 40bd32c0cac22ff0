"""The README's headline figures, rerun one process at a time: the quickstart recipe,
digits PNG folders at 60 s and grey glyphs at 300 s, for each seed.

Usage: python benchmarks/readme_figures.py --digits DIGITS_DIR --glyphs GLYPHS_DIR
       [--seeds 0,1,2] [--only quickstart,digits,glyphs] [--work DIR]

DIGITS_DIR comes from `make_digits_pngs.py`, GLYPHS_DIR from `../shared/data/make_glyphs.py`
(letters A-J, typefaces never crossing splits). Each search's test accuracy is read from
its model card (the test split scored by the exported model); one JSON line per run,
then a markdown table with the median, the spread and the walls.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def run(command, out):
    started = time.time()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.time() - started
    if done.returncode != 0:
        return {"error": (done.stdout + done.stderr).strip().splitlines()[-1:], "wall": wall}
    with open(os.path.join(out, "model", "model_card.json"), encoding="utf-8") as handle:
        card = json.load(handle)
    return {"accuracy": card["metrics"]["test"]["accuracy"], "wall": round(wall, 1),
            "trials": card["search"].get("trials")}


def commands(name, seed, args, out):
    automl = [sys.executable, "-m", "automl"]
    if name == "quickstart":
        return automl + ["run", "recipes/quickstart.yaml", "--set", f"seed={seed}",
                         "--set", f"out={out}"]
    data, budget = (args.digits, 60) if name == "digits" else (args.glyphs, 300)
    return automl + ["search", "--task", "image", "--data", data, "--out", out,
                     "--time-budget", str(budget), "--seed", str(seed)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits")
    parser.add_argument("--glyphs")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--only", default="quickstart,digits,glyphs")
    parser.add_argument("--work", default=tempfile.mkdtemp(prefix="readme-figures-"))
    args = parser.parse_args()
    rows = {}
    for name in args.only.split(","):
        for seed in map(int, args.seeds.split(",")):
            out = os.path.join(args.work, f"{name}-{seed}")
            result = {"figure": name, "seed": seed, **run(commands(name, seed, args, out), out)}
            print(json.dumps(result), flush=True)
            rows.setdefault(name, []).append(result)
    print("\n| figure | seeds | test accuracy | median (min to max) | walls |")
    print("| --- | --- | --- | --- | --- |")
    for name, results in rows.items():
        scores = [r["accuracy"] for r in results if "accuracy" in r]
        summary = (f"{statistics.median(scores):.4f} ({min(scores):.4f} to {max(scores):.4f})"
                   if scores else "failed")
        accuracies = " / ".join(f"{r['accuracy']:.4f}" if "accuracy" in r else "error"
                                for r in results)
        walls = " / ".join(f"{r['wall']:.0f}" for r in results)
        seeds = " / ".join(str(r["seed"]) for r in results)
        print(f"| {name} | {seeds} | {accuracies} | {summary} | {walls} s |")


if __name__ == "__main__":
    main()
