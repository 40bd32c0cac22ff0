"""Single words labelled with their language (by default 12, about 50,000 training words).

Usage: python benchmarks/suite/make_words.py OUT [--per-language 6000] [--seed 0]
                                                 [--languages faroese,irish,...]

Reads the Debian word lists (/usr/share/dict) of twelve languages (or of
`--languages`, from `LISTS`), drops possessives
and every word that more than one language spells the same, and samples
`--per-language` words of each. The source group is a word's first four letters, so
inflections of one stem (`house`, `houses`) share a split, 70/15/15 by it. Writes
OUT/{train,val,test}.csv (text,label).

Needs: apt-get install -y wamerican wngerman wfrench witalian wspanish wportuguese
       wdutch wswedish wdanish wnorwegian wpolish wcatalan (the twelve), and wfaroese
       wirish wgaelic wmanx wesperanto wgalician-minimos wbulgarian wukrainian (the
       development set's eight).
"""

import argparse
import collections
import random

from layout import SPLITS, report, split_of, write_csv

LISTS = {"english": "american-english", "german": "ngerman", "french": "french",
         "italian": "italian", "spanish": "spanish", "portuguese": "portuguese",
         "dutch": "dutch", "swedish": "swedish", "danish": "danish", "norwegian": "bokmaal",
         "polish": "polish", "catalan": "catalan",
         "faroese": "faroese", "irish": "irish", "scottish-gaelic": "gaelic", "manx": "manx",
         "esperanto": "esperanto", "galician": "galician-minimos", "bulgarian": "bulgarian",
         "ukrainian": "ukrainian"}
TWELVE = ("english", "german", "french", "italian", "spanish", "portuguese", "dutch",
          "swedish", "danish", "norwegian", "polish", "catalan")
LATIN_1 = ("swedish", "bokmaal", "manx")  # the other lists are UTF-8


def words(name):
    encoding = "latin-1" if name in LATIN_1 else "utf-8"
    with open(f"/usr/share/dict/{name}", encoding=encoding) as handle:
        return {w.strip() for w in handle if w.strip() and "'" not in w}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--per-language", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--languages", default=",".join(TWELVE),
                        help=f"comma-separated, from: {', '.join(LISTS)}")
    args = parser.parse_args()
    lists = {language: words(LISTS[language]) for language in args.languages.split(",")}
    spellings = collections.Counter(w.lower() for found in lists.values() for w in found)
    rows = {split: [] for split in SPLITS}
    stems = set()
    for language, found in lists.items():
        unique = sorted(w for w in found if spellings[w.lower()] == 1)
        for word in random.Random(f"{args.seed}/{language}").sample(unique, args.per_language):
            stems.add(word[:4].lower())
            rows[split_of(word[:4].lower(), args.seed)].append((word, language))
    for split, members in rows.items():
        random.Random(f"{args.seed}/{split}").shuffle(members)
        write_csv(args.out, split, members)
    report(args.out, f"{len(stems)} four-letter stems")


if __name__ == "__main__":
    main()
