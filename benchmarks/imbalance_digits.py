"""Class weights on imbalanced digits: `--class-weight balanced` against `none`.

    python benchmarks/imbalance_digits.py --budget 60 --seeds 0,1,2

The 8x8 digits as PNG folders (`make_digits_pngs.py`), classes 0-4 kept whole and
5-9 cut to a tenth of their examples in train and in val, as a dataset that is
imbalanced throughout would be (test untouched, so its accuracy is the balanced
accuracy). `--balanced-val` keeps val whole instead.
Per seed, one search with each setting; prints the test balanced accuracy and
accuracy of each and the medians with their range.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import HERE, benchmark_args, machine, timed_search  # noqa: E402


def imbalanced_digits(folder, splits):
    subprocess.run([sys.executable, os.path.join(HERE, "make_digits_pngs.py"), folder], check=True)
    for split in splits:
        for label in range(5, 10):
            members = os.path.join(folder, split, f"digit{label}")
            files = sorted(os.listdir(members))
            for name in files[max(1, len(files) // 10):]:
                os.remove(os.path.join(members, name))
    return {split: [len(os.listdir(os.path.join(folder, split, f"digit{label}")))
                    for label in range(10)] for split in ("train", "val")}


def main():
    balanced_val = "--balanced-val" in sys.argv
    if balanced_val:
        sys.argv.remove("--balanced-val")
    args = benchmark_args(data_default="-")
    with tempfile.TemporaryDirectory() as folder:
        data = os.path.join(folder, "digits")
        counts = imbalanced_digits(data, ["train"] if balanced_val else ["train", "val"])
        print(f"{machine()}; budget {args.budget}s; seeds {args.seeds}; counts per class {counts}")
        results = {"balanced": [], "none": []}
        for seed in args.seeds:
            for mode in results:
                run = os.path.join(folder, f"run-{mode}-{seed}")
                wall, card = timed_search("image", data, run, args.budget, seed,
                                          "--class-weight", mode)
                test = card["metrics"]["test"]
                results[mode].append(test["balanced_accuracy"])
                print(f"seed {seed} {mode}: test balanced accuracy {test['balanced_accuracy']:.4f}, "
                      f"accuracy {test['accuracy']:.4f}, objective {card['search']['objective']}, "
                      f"{card['search']['trials']} trials, wall {wall:.0f}s", flush=True)
                shutil.rmtree(run)
    for mode, values in results.items():
        print(f"{mode}: median test balanced accuracy {statistics.median(values):.4f} "
              f"(min {min(values):.4f}, max {max(values):.4f})")


if __name__ == "__main__":
    main()
