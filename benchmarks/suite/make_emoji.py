"""Emoji by Unicode subgroup: colour renderings of Noto Color Emoji, up to 100 classes.

Usage: python benchmarks/suite/make_emoji.py OUT [--renders 4] [--size 48] [--seed 0]

The classes are the subgroups of Unicode's emoji-test.txt (face-smiling, animal-bird,
transport-ground, ...) with at least six emoji; a class keeps at most 40 of them. Each
emoji is drawn `--renders` times at a random scale and position on a random background
colour, RGB PNG of `--size` pixels. The source group is the emoji with its skin-tone
variants: a group never crosses splits (70/15/15 of each subgroup's emoji).

Needs: apt-get install -y fonts-noto-color-emoji unicode-data (and Pillow).
"""

import argparse
import collections
import random

from PIL import Image, ImageDraw, ImageFont

from layout import class_path, report, split_within

EMOJI_TEST = "/usr/share/unicode/emoji/emoji-test.txt"
FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
SKIN_TONES = "".join(chr(c) for c in range(0x1F3FB, 0x1F400))


def emoji_by_subgroup():
    """{subgroup: {base emoji: [fully-qualified sequences]}} from emoji-test.txt."""
    found = collections.defaultdict(lambda: collections.defaultdict(list))
    subgroup = None
    for line in open(EMOJI_TEST, encoding="utf-8"):
        if line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif "; fully-qualified" in line:
            sequence = "".join(chr(int(c, 16)) for c in line.split(";")[0].split())
            base = "".join(c for c in sequence if c not in SKIN_TONES)
            found[subgroup][base].append(sequence)
    return found


def glyph(sequence, font):
    """The emoji drawn once at the font's bitmap size, cropped to its ink, RGBA."""
    canvas = Image.new("RGBA", (160, 160))
    ImageDraw.Draw(canvas).text((16, 16), sequence, font=font, embedded_color=True)
    return canvas.crop(canvas.getbbox())


def render(drawn, size, rng):
    image = Image.new("RGB", (size, size), tuple(rng.randint(0, 255) for _ in range(3)))
    side = int(size * rng.uniform(0.55, 0.95))
    scaled = drawn.resize((side, side), Image.LANCZOS)
    image.paste(scaled, (rng.randint(0, size - side), rng.randint(0, size - side)), scaled)
    return image


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--renders", type=int, default=4)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    font = ImageFont.truetype(FONT, 109)
    rng = random.Random(args.seed)
    groups = 0
    for subgroup, bases in sorted(emoji_by_subgroup().items()):
        if len(bases) < 6:
            continue
        chosen = sorted(random.Random(f"{args.seed}/{subgroup}").sample(sorted(bases), min(len(bases), 40)))
        groups += len(chosen)
        for base, split in split_within(chosen, args.seed).items():
            sequence = random.Random(f"{args.seed}/{base}").choice(bases[base])
            drawn = glyph(sequence, font)
            code = "-".join(f"{ord(c):x}" for c in base)
            for n in range(args.renders):
                render(drawn, args.size, rng).save(class_path(args.out, split, subgroup, f"{code}_{n}.png"))
    report(args.out, f"{groups} emoji (skin-tone variants together)")


if __name__ == "__main__":
    main()
