"""Write synthetic RGB PNGs in class folders, unsplit: OUT/class<k>/*.png.

Usage: python benchmarks/make_image_folder.py OUT --count 12000 [--size 96] [--classes 10]

Each class is a coloured shape (disc, square, ring or bar, in one of a few colours)
at a random position and scale over textured noise: learnable, not trivial.
"""

import argparse
import os

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("disc", "square", "ring", "bar", "cross")
COLOURS = ((220, 60, 40), (40, 160, 220), (240, 200, 40), (90, 200, 90))


def draw(label, size, rng):
    noise = rng.randint(0, 90, size=(size // 4, size // 4, 3)).astype("uint8")
    image = Image.fromarray(noise).resize((size, size), Image.BILINEAR)
    pen = ImageDraw.Draw(image)
    shape, colour = SHAPES[label % len(SHAPES)], COLOURS[(label // len(SHAPES)) % len(COLOURS)]
    radius = rng.uniform(0.15, 0.3) * size
    cx, cy = rng.uniform(radius, size - radius, size=2)
    box = (cx - radius, cy - radius, cx + radius, cy + radius)
    jitter = tuple(int(c + rng.randint(-30, 31)) for c in colour)
    if shape == "disc":
        pen.ellipse(box, fill=jitter)
    elif shape == "square":
        pen.rectangle(box, fill=jitter)
    elif shape == "ring":
        pen.ellipse(box, outline=jitter, width=max(2, int(radius / 3)))
    elif shape == "bar":
        pen.rectangle((cx - radius, cy - radius / 4, cx + radius, cy + radius / 4), fill=jitter)
    else:
        pen.line((cx - radius, cy, cx + radius, cy), fill=jitter, width=max(2, int(radius / 3)))
        pen.line((cx, cy - radius, cx, cy + radius), fill=jitter, width=max(2, int(radius / 3)))
    return image


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.RandomState(args.seed)
    for index in range(args.count):
        label = index % args.classes
        folder = os.path.join(args.out, f"class{label}")
        os.makedirs(folder, exist_ok=True)
        draw(label, args.size, rng).save(os.path.join(folder, f"{index:06d}.png"))


if __name__ == "__main__":
    main()
