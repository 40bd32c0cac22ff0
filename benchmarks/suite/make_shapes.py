"""Circles and squares: a few hundred small colour images of one shape each.

Usage: python benchmarks/suite/make_shapes.py OUT [--count 300] [--seed 0]

Each image is 40 to 64 pixels a side (sizes differ within the set), one filled circle
or square of random size, position and colour on a background of another random
colour. Every image is its own source, so the split is 70/15/15 per class.
"""

import argparse
import random

from PIL import Image, ImageDraw

from layout import class_path, report, split_within


def draw(shape, rng):
    side = rng.randint(40, 64)
    background = tuple(rng.randint(0, 255) for _ in range(3))
    colour = tuple((c + rng.randint(80, 176)) % 256 for c in background)
    image = Image.new("RGB", (side, side), background)
    extent = rng.randint(side // 4, side * 3 // 4)
    left, top = rng.randint(0, side - extent), rng.randint(0, side - extent)
    box = (left, top, left + extent, top + extent)
    (ImageDraw.Draw(image).ellipse if shape == "circle" else ImageDraw.Draw(image).rectangle)(
        box, fill=colour)
    return image


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    for shape in ("circle", "square"):
        names = [f"{shape}_{n:04d}.png" for n in range(args.count // 2)]
        for name, split in split_within(names, args.seed).items():
            draw(shape, rng).save(class_path(args.out, split, shape, name))
    report(args.out, "none: every image is its own source")


if __name__ == "__main__":
    main()
