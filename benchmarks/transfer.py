"""Transfer benchmark: `--init-from` an earlier run against a from-scratch search, side by side.

Usage: python benchmarks/transfer.py WORK_DIR [--budgets 30,60,120,300] [--seeds 0,1,2]
       [--source-budget 300] [--only image,audio] [--out transfer.md] [--smoke]

For each modality, in WORK_DIR (data and runs are kept there and reused):

- image: the glyph letters A-J in every typeface (../shared/data/make_glyphs.py) searched
  for `--source-budget` seconds; the transfer set is the letters K-T in 100 typefaces,
  one image per letter and typeface (70 train, 15 val, 15 test per class; typefaces
  never cross splits, so the test typefaces are ones the source never trained on);
- audio: the spoken digits zero-nine of 60 speakers (../shared/data/make_keywords.py)
  searched for `--source-budget` seconds; the transfer set is ten other words (yes, no,
  up, down, left, right, on, off, stop, go) of 30 other speakers (another seed), 21
  train, 4 val and 5 test clips per word.

Then, for each budget and seed, one process after another (never two at once): a
from-scratch search and an `--init-from SOURCE` search on the transfer set with the
same budget and seed, each scored through its SavedModel on the transfer test split
with plain TensorFlow (score_savedmodel.py). Each run prints one JSON line; the end
is a markdown table of medians (min to max) per budget, written to `--out` too.

`--smoke` checks the script end to end in a minute or two: the image sets only, a few
typefaces, one seed, each search one trial of one epoch instead of a budget.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import machine, serving_accuracy

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_DATA = os.path.join(HERE, "..", "..", "shared", "data")

SETS = {
    "image": {
        "task": "image",
        "generator": "make_glyphs.py",
        "source": ["--letters", "ABCDEFGHIJ"],
        "target": ["--letters", "KLMNOPQRST", "--fonts", "100", "--per-font", "1"],
        "smoke_source": ["--letters", "ABCDEFGHIJ", "--fonts", "30", "--per-font", "1"],
        "smoke_target": ["--letters", "KLMNOPQRST", "--fonts", "20", "--per-font", "1"],
    },
    "audio": {
        "task": "audio",
        "generator": "make_keywords.py",
        "source": ["--words", "zero,one,two,three,four,five,six,seven,eight,nine",
                   "--speakers", "60", "--seed", "0"],
        "target": ["--words", "yes,no,up,down,left,right,on,off,stop,go",
                   "--speakers", "30", "--seed", "1"],
    },
}


def ensure_data(kind, name, arguments, work):
    """The data set `WORK/<kind>_<name>`, generated once."""
    folder = os.path.join(work, f"{kind}_{name}")
    if not os.path.isdir(os.path.join(folder, "test")):
        generator = os.path.join(SHARED_DATA, SETS[kind]["generator"])
        print(f"# generating {folder}", flush=True)
        subprocess.run([sys.executable, generator, folder, *arguments], check=True,
                       stdout=subprocess.DEVNULL)
    return folder


def search(kind, data, run, budget, seed, *extra):
    """`automl search` in a subprocess for `budget` seconds (None: one trial of one epoch);
    returns (wall seconds, model card), the card None where the search refused its
    settings (exit code 2: a budget too short for one trial on this machine, say)."""
    limits = (["--max-trials", "1", "--epochs", "1"] if budget is None
              else ["--time-budget", str(budget)])
    command = [sys.executable, "-m", "automl", "search", "--task", SETS[kind]["task"],
               "--data", data, "--out", run, "--seed", str(seed), "--overwrite", *limits, *extra]
    started = time.time()
    finished = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    wall = time.time() - started
    if finished.returncode == 2:
        print(f"# refused: {finished.stderr.strip()}", flush=True)
        return wall, None
    if finished.returncode:
        sys.exit(f"search failed ({finished.returncode}): {finished.stderr[-2000:]}")
    with open(os.path.join(run, "model", "model_card.json"), encoding="utf-8") as handle:
        return wall, json.load(handle)


def ensure_source(kind, name, data, budget, work):
    """The source run `WORK/<kind>_<name>_run`, searched once for `budget` seconds."""
    run = os.path.join(work, f"{kind}_{name}_run")
    card_path = os.path.join(run, "model", "model_card.json")
    if not os.path.isfile(card_path):
        wall, card = search(kind, data, run, budget, 0)
        if card is None:
            sys.exit(f"the source run {run} was refused")
        print(f"# source run {run}: test accuracy {card['metrics']['test']['accuracy']:.4f}, "
              f"{card['search']['trials']} trials, wall {wall:.0f}s", flush=True)
    with open(card_path, encoding="utf-8") as handle:
        return run, json.load(handle)


def one_search(kind, data, budget, seed, source=None):
    """One search on the transfer set (from `source` where given); its JSON record."""
    with tempfile.TemporaryDirectory() as folder:
        run = os.path.join(folder, "run")
        extra = ["--init-from", source] if source else []
        wall, card = search(kind, data, run, budget, seed, *extra)
        record = {"set": kind, "system": "init_from" if source else "scratch",
                  "budget": budget, "seed": seed, "test_accuracy": None, "wall": round(wall, 1)}
        if card is None:
            return record
        accuracy = serving_accuracy(run, os.path.join(data, "test"))
    return {**record, "test_accuracy": round(accuracy, 4), "trials": card["search"]["trials"],
            "exported_from_source": card.get("init_from", {}).get("used", False)}


def table(results, budgets):
    """Markdown: per set and budget, the median (min to max) of each system and their gap."""
    lines = ["| set | budget (s) | from scratch | --init-from | gap (points) |",
             "| --- | ---: | --- | --- | ---: |"]

    def cell(scores):
        return (f"{statistics.median(scores):.3f} ({min(scores):.3f} to {max(scores):.3f})"
                if scores else "refused")

    for kind in dict.fromkeys(r["set"] for r in results):
        for budget in budgets:
            label = "1 trial, 1 epoch" if budget is None else budget
            scores = {system: [r["test_accuracy"] for r in results if r["set"] == kind
                               and r["budget"] == budget and r["system"] == system
                               and r["test_accuracy"] is not None]
                      for system in ("scratch", "init_from")}
            gap = (100 * (statistics.median(scores["init_from"])
                          - statistics.median(scores["scratch"]))
                   if all(scores.values()) else None)
            lines.append(f"| {kind} | {label} | {cell(scores['scratch'])} | "
                         f"{cell(scores['init_from'])} | "
                         f"{'-' if gap is None else f'{gap:+.1f}'} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("work")
    parser.add_argument("--budgets", default="30,60,120,300")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--source-budget", type=int, default=300)
    parser.add_argument("--only", default="image,audio")
    parser.add_argument("--out", default=None, help="also write the markdown table here")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    if args.smoke:
        budgets, args.seeds, args.source_budget, args.only = [None], "0", None, "image"
    seeds = [int(s) for s in args.seeds.split(",")]
    os.makedirs(args.work, exist_ok=True)
    header = (f"# transfer benchmark in {args.work}, {time.strftime('%Y-%m-%d %H:%M')}, "
              f"{machine()}; source runs: "
              f"{'one trial of one epoch' if args.smoke else f'{args.source_budget}s'}")
    print(header, flush=True)
    results = []
    for kind in args.only.split(","):
        sets = SETS[kind]
        prefix = "smoke_" if args.smoke else ""
        source_data = ensure_data(kind, f"{prefix}source", sets[f"{prefix}source"], args.work)
        target_data = ensure_data(kind, f"{prefix}target", sets[f"{prefix}target"], args.work)
        source, _ = ensure_source(kind, f"{prefix}source", source_data, args.source_budget,
                                  args.work)
        for budget in budgets:
            for seed in seeds:
                for origin in (None, source):
                    result = one_search(kind, target_data, budget, seed, origin)
                    results.append(result)
                    print(json.dumps(result), flush=True)
    markdown = table(results, budgets)
    print(markdown)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(f"{header}\n\n{markdown}\n")


if __name__ == "__main__":
    main()
