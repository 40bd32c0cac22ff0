"""Write scikit-learn's 8x8 digits as PNG folders: OUT/{train,val,test}/digit<k>/*.png.

Usage: python benchmarks/make_digits_pngs.py OUT [--seed 0]
Pixel values 0..16 are scaled to 0..255 grayscale; the split is 70/15/15 per class.
"""

import argparse
import os

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    digits = load_digits()
    rng = np.random.RandomState(args.seed)
    for label in range(10):
        index = np.flatnonzero(digits.target == label)
        index = index[rng.permutation(len(index))]
        n_test = n_val = int(round(0.15 * len(index)))
        parts = {"test": index[:n_test], "val": index[n_test:n_test + n_val],
                 "train": index[n_test + n_val:]}
        for split, members in parts.items():
            folder = os.path.join(args.out, split, f"digit{label}")
            os.makedirs(folder, exist_ok=True)
            for i in members:
                pixels = np.round(digits.images[i] * 255.0 / 16.0).astype("uint8")
                Image.fromarray(pixels, "L").save(os.path.join(folder, f"{i:04d}.png"))


if __name__ == "__main__":
    main()
