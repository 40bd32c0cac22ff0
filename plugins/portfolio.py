"""Known-good configurations as data: `portfolio.json`, by task and training-set size.

Each task holds bands of training-set sizes (`up_to` training examples, null: any
size), each with its configurations best first and why they were chosen (on the
development half of the benchmark suite, `benchmarks/suite/`).
"""

import json
import os

PATH = os.path.join(os.path.dirname(__file__), "portfolio.json")


def configurations(task, train_examples):
    """The known-good configurations of `task` for `train_examples` training examples."""
    with open(PATH, encoding="utf-8") as handle:
        bands = json.load(handle)[task]
    band = next(b for b in bands if b["up_to"] is None or train_examples <= b["up_to"])
    return [dict(values) for values in band["configurations"]]
