"""MNIST-5k digits with a 10:1 imbalance: class k keeps 10^(-k/9) of its examples.

Usage: python benchmarks/suite/make_mnist_imbalanced.py OUT [--ratio 10] [--seed 0]

Reads ../shared/data/mnist5k/mnist_5k.csv.gz (784 pixels, then the label, per row) and writes
28x28 grayscale PNGs, OUT/{train,val,test}/digit<k>/<row>.png, 70/15/15 per class (the
writers are not known, so every image is its own source); all three splits share the
imbalance, so balanced accuracy measures the rare digits.
"""

import argparse
import gzip
import os

import numpy as np
from PIL import Image

from layout import class_path, report, split_within

MNIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared",
                     "data", "mnist5k", "mnist_5k.csv.gz")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--ratio", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with gzip.open(MNIST, "rt") as handle:
        rows = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    rng = np.random.RandomState(args.seed)
    for digit in range(10):
        index = np.flatnonzero(rows[:, -1] == digit)
        keep = int(round(len(index) * args.ratio ** (-digit / 9)))
        chosen = sorted(rng.choice(index, keep, replace=False))
        for row, split in split_within(chosen, args.seed).items():
            pixels = rows[row, :-1].reshape(28, 28).astype(np.uint8)
            Image.fromarray(pixels, "L").save(
                class_path(args.out, split, f"digit{digit}", f"{row:05d}.png"))
    report(args.out, "none: writers unknown, every image is its own source")


if __name__ == "__main__":
    main()
