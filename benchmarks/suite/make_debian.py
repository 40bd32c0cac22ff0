"""Debian package descriptions labelled with their archive section: 8 classes at 6:1.

Usage: python benchmarks/suite/make_debian.py OUT [--largest 2000] [--ratio 6] [--seed 0]

Reads `apt-cache dumpavail` (the package lists `apt-get update` fetched) and keeps each
binary package's one-line description, labelled with its section among utils, net,
science, admin, games, sound, graphics and mail. The k-th section keeps at most
`largest * ratio^(-k/7)` descriptions, so the classes run from 1:1 down to 6:1. The
source group is the source package (`libfoo1`, `libfoo-dev` and `foo-doc` together),
70/15/15 by name. Writes OUT/{train,val,test}.csv (text,label).
"""

import argparse
import random
import subprocess

from layout import SPLITS, report, split_of, write_csv

SECTIONS = ("utils", "net", "science", "admin", "games", "sound", "graphics", "mail")


def packages():
    """(source, section, description) of every binary package apt knows, once per text."""
    stanzas = subprocess.run(["apt-cache", "dumpavail"], check=True, capture_output=True,
                             text=True).stdout.split("\n\n")
    seen = {}
    for stanza in stanzas:
        fields = dict(line.split(": ", 1) for line in stanza.splitlines()
                      if ": " in line and not line.startswith(" "))
        if "Description" in fields and "Section" in fields:
            source = fields.get("Source", fields.get("Package", "")).split(" ")[0]
            seen.setdefault(fields["Description"], (source, fields["Section"].split("/")[-1]))
    return [(source, section, text) for text, (source, section) in seen.items()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--largest", type=int, default=2000)
    parser.add_argument("--ratio", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    found = packages()
    rows = {split: [] for split in SPLITS}
    sources = set()
    for k, section in enumerate(SECTIONS):
        members = sorted(p for p in found if p[1] == section)
        keep = int(args.largest * args.ratio ** (-k / (len(SECTIONS) - 1)))
        for source, _, text in random.Random(f"{args.seed}/{section}").sample(members, min(keep, len(members))):
            sources.add(source)
            rows[split_of(source, args.seed)].append((text, section))
    for split, members in rows.items():
        random.Random(f"{args.seed}/{split}").shuffle(members)
        write_csv(args.out, split, members)
    report(args.out, f"{len(sources)} source packages")


if __name__ == "__main__":
    main()
