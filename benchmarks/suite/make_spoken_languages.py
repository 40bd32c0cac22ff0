"""Spoken numbers labelled with their language: espeak-ng reads 0 to 99 in ten languages.

Usage: python benchmarks/suite/make_spoken_languages.py OUT [--seed 0]

Each number is read once in each language by a voice of random variant, speed and pitch,
through the shared keyword synthesiser (../shared/data/make_keywords.py: 16 kHz mono
WAV, 1.0 s, faint noise): OUT/{train,val,test}/<language>/<number>.wav. The source group
is the number, 70/15/15 by it, so test hears numbers never heard in training.

Needs: apt-get install -y espeak-ng sox.
"""

import argparse
import os
import pathlib
import random
import sys
import tempfile

from layout import class_path, report, split_of

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "shared", "data"))
from make_keywords import VARIANTS, synth  # noqa: E402

LANGUAGES = {"english": "en", "german": "de", "french": "fr", "spanish": "es", "italian": "it",
             "portuguese": "pt", "dutch": "nl", "swedish": "sv", "polish": "pl", "czech": "cs"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        for language, voice in LANGUAGES.items():
            for number in range(100):
                profile = (voice, rng.choice(VARIANTS), rng.randint(120, 210), rng.randint(25, 75))
                synth(str(number), profile, pathlib.Path(class_path(
                    args.out, split_of(str(number), args.seed), language, f"{number:02d}.wav")),
                    rng, pathlib.Path(folder))
    report(args.out, "100 numbers")


if __name__ == "__main__":
    main()
