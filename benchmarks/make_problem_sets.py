"""Write the multilabel and regression benchmark sets as CSV manifests of files.

    python benchmarks/make_problem_sets.py shapes OUT   # 3,000 64x64 RGB, 1-3 of 5 shapes
    python benchmarks/make_problem_sets.py dots OUT     # 3,000 64x64, target: 1-9 dots
    python benchmarks/make_problem_sets.py tones OUT    # 1,000 one-second WAVs, target: Hz

Each writes `OUT/labels.csv` (`path,labels`, `path,dots` or `path,hz`) with a `split`
column (70/15/15, fixed by `--seed`) and the files under `OUT/files/`.
"""

import argparse
import csv
import math
import os

import numpy as np

SHAPES = ("circle", "square", "triangle", "cross", "ring")
SIZE = 64


def _draw_shape(draw, kind, box, colour, width):
    left, top, right, bottom = box
    if kind == "circle":
        draw.ellipse(box, fill=colour)
    elif kind == "ring":
        draw.ellipse(box, outline=colour, width=width)
    elif kind == "square":
        draw.rectangle(box, fill=colour)
    elif kind == "triangle":
        draw.polygon([((left + right) / 2, top), (right, bottom), (left, bottom)], fill=colour)
    else:
        middle_x, middle_y = (left + right) / 2, (top + bottom) / 2
        draw.line([(left, middle_y), (right, middle_y)], fill=colour, width=width)
        draw.line([(middle_x, top), (middle_x, bottom)], fill=colour, width=width)


def shapes(out, count, rng):
    """Images with 1 to 3 distinct shape kinds at random places, sizes and colours."""
    from PIL import Image, ImageDraw

    rows = []
    for index in range(count):
        background = tuple(int(v) for v in rng.randint(0, 90, size=3))
        image = Image.new("RGB", (SIZE, SIZE), background)
        draw = ImageDraw.Draw(image)
        kinds = sorted(rng.choice(SHAPES, size=rng.randint(1, 4), replace=False))
        for kind in kinds:
            side = int(rng.randint(14, 24))
            left, top = (int(v) for v in rng.randint(0, SIZE - side, size=2))
            colour = tuple(int(v) for v in rng.randint(120, 256, size=3))
            _draw_shape(draw, kind, (left, top, left + side, top + side), colour,
                        int(rng.randint(2, 4)))
        noise = rng.normal(0, 8, size=(SIZE, SIZE, 3))
        pixels = np.clip(np.asarray(image, dtype="float32") + noise, 0, 255).astype("uint8")
        name = f"files/{index:05d}.png"
        Image.fromarray(pixels).save(os.path.join(out, name))
        rows.append((name, "|".join(kinds)))
    return ("path", "labels"), rows


def dots(out, count, rng):
    """Images with 1 to 9 dots of random size and brightness; the target is how many."""
    from PIL import Image, ImageDraw

    rows = []
    for index in range(count):
        image = Image.new("L", (SIZE, SIZE), int(rng.randint(0, 60)))
        draw = ImageDraw.Draw(image)
        number, placed = int(rng.randint(1, 10)), []
        while len(placed) < number:
            radius = int(rng.randint(2, 5))
            x, y = (int(v) for v in rng.randint(radius, SIZE - radius, size=2))
            if all(math.hypot(x - a, y - b) > radius + r + 2 for a, b, r in placed):
                placed.append((x, y, radius))
                draw.ellipse((x - radius, y - radius, x + radius, y + radius),
                             fill=int(rng.randint(150, 256)))
        noise = rng.normal(0, 10, size=(SIZE, SIZE))
        pixels = np.clip(np.asarray(image, dtype="float32") + noise, 0, 255).astype("uint8")
        name = f"files/{index:05d}.png"
        Image.fromarray(pixels).save(os.path.join(out, name))
        rows.append((name, number))
    return ("path", "dots"), rows


def tones(out, count, rng, rate=16000):
    """One-second tones of a random frequency in 200-2,000 Hz, with noise; the target is Hz."""
    import soundfile

    rows = []
    time = np.arange(rate) / rate
    for index in range(count):
        hz = float(rng.uniform(200, 2000))
        wave = 0.5 * np.sin(2 * np.pi * hz * time + rng.uniform(0, 2 * np.pi))
        wave = wave * rng.uniform(0.3, 1.0) + rng.normal(0, 0.05, size=rate)
        name = f"files/{index:05d}.wav"
        soundfile.write(os.path.join(out, name), np.clip(wave, -1, 1).astype("float32"), rate,
                        subtype="PCM_16")
        rows.append((name, f"{hz:.2f}"))
    return ("path", "hz"), rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("shapes", "dots", "tones"))
    parser.add_argument("out")
    parser.add_argument("--count", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.RandomState(args.seed)
    os.makedirs(os.path.join(args.out, "files"), exist_ok=True)
    make = {"shapes": shapes, "dots": dots, "tones": tones}[args.kind]
    count = args.count or (1000 if args.kind == "tones" else 3000)
    header, rows = make(args.out, count, rng)
    splits = rng.permutation(np.repeat(["train", "val", "test"],
                                       [count - 2 * int(0.15 * count)] + [int(0.15 * count)] * 2))
    with open(os.path.join(args.out, "labels.csv"), "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow((*header, "split"))
        writer.writerows((*row, split) for row, split in zip(rows, splits))
    print(f"{count} {args.kind} examples in {args.out}")


if __name__ == "__main__":
    main()
