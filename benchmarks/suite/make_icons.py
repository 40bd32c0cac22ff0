"""Desktop icons by category: the GNOME and Oxygen icon themes' 48-pixel PNGs.

Usage: python benchmarks/suite/make_icons.py OUT [--size 48] [--seed 0]

The classes are the themes' category folders (actions, apps, categories, devices,
mimetypes, places, status); each icon is flattened onto two random background colours,
RGB PNG of `--size` pixels. The source group is the icon's name: an icon drawn by both
themes (say `folder`) lands in one split whole, 70/15/15 by name. The categories keep
their natural sizes, capped at ten times the smallest.

Needs: apt-get install -y gnome-icon-theme oxygen-icon-theme (and Pillow).
"""

import argparse
import collections
import glob
import os
import random

from PIL import Image

from layout import class_path, report, split_of

THEMES = {"gnome": "/usr/share/icons/gnome/48x48", "oxygen": "/usr/share/icons/oxygen/base/48x48"}
CATEGORIES = ("actions", "apps", "categories", "devices", "mimetypes", "places", "status")


def icons():
    """{category: [(theme, name, path)]}, one entry per icon file."""
    found = collections.defaultdict(list)
    for theme, folder in THEMES.items():
        for category in CATEGORIES:
            for path in sorted(glob.glob(os.path.join(folder, category, "*.png"))):
                name = os.path.splitext(os.path.basename(path))[0]
                found[category].append((theme, name, path))
    return found


def flatten(path, size, rng):
    icon = Image.open(path).convert("RGBA").resize((size, size), Image.LANCZOS)
    image = Image.new("RGB", (size, size), tuple(rng.randint(0, 255) for _ in range(3)))
    image.paste(icon, (0, 0), icon)
    return image


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    found = icons()
    cap = 10 * min(len(entries) for entries in found.values())
    rng = random.Random(args.seed)
    names = set()
    for category, entries in sorted(found.items()):
        for theme, name, path in sorted(random.Random(f"{args.seed}/{category}").sample(
                entries, min(cap, len(entries)))):
            names.add(name)
            for n in range(2):
                flatten(path, args.size, rng).save(class_path(
                    args.out, split_of(name, args.seed), category, f"{theme}_{name}_{n}.png"))
    report(args.out, f"{len(names)} icon names")


if __name__ == "__main__":
    main()
