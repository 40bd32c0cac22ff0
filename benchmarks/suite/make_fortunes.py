"""Fortune cookies labelled with their fortune file: 20 classes of texts from one line to
a page.

Usage: python benchmarks/suite/make_fortunes.py OUT [--largest 600] [--seed 0]

Reads the `fortunes` and `fortunes-min` databases (/usr/share/games/fortunes) and keeps
the 20 files of 120 or more cookies, at most `--largest` each (about 5:1 at the
extremes). The source group is the attribution line (`-- Mark Twain`) where a cookie
has one, else the cookie itself, 70/15/15 by it: an author's cookies share a split.
Writes OUT/{train,val,test}.csv (text,label).

Needs: apt-get install -y fortunes fortunes-min.
"""

import argparse
import os
import random
import re

from layout import SPLITS, report, split_of, write_csv

FOLDER = "/usr/share/games/fortunes"
FILES = ("art", "computers", "definitions", "education", "food", "fortunes", "humorists",
         "kids", "law", "linux", "literature", "love", "men-women", "people", "platitudes",
         "politics", "riddles", "science", "songs-poems", "wisdom")
AUTHOR = re.compile(r"^\s*--\s*(.+?)\s*(,.*)?$", re.MULTILINE)


def cookies(name):
    with open(os.path.join(FOLDER, name), encoding="utf-8", errors="replace") as handle:
        texts = [" ".join(c.split()) for c in handle.read().split("\n%\n")]
    return [t for t in texts if t]


def group_of(text):
    author = AUTHOR.search(text.replace(" -- ", "\n-- "))
    return author.group(1).lower() if author else text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--largest", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = {split: [] for split in SPLITS}
    groups = set()
    for name in FILES:
        texts = cookies(name)
        for text in random.Random(f"{args.seed}/{name}").sample(texts, min(args.largest, len(texts))):
            groups.add(group_of(text))
            rows[split_of(group_of(text), args.seed)].append((text, name))
    for split, members in rows.items():
        random.Random(f"{args.seed}/{split}").shuffle(members)
        write_csv(args.out, split, members)
    report(args.out, f"{len(groups)} authors or single cookies")


if __name__ == "__main__":
    main()
