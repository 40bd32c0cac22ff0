"""Peak memory and wall time of a search against data size; cache build; input throughput.

Usage: python benchmarks/data_cache.py [--sizes 3000,12000,48000] [--work /tmp/cachebench]

For each size, a folder of synthetic 96x96 RGB PNGs in 10 classes (unsplit) is made
once, then `automl search --max-trials 1 --epochs 1 --time-budget B` (B = 180 s up to
12,000 images, 600 s above: one epoch of 48,000 needs more) runs twice in a fresh
process: with an empty data cache (decode and write it) and with the cache it
left (reuse). Printed per run: the process's peak resident memory (ru_maxrss), wall
time, and the card's data-phase seconds. Then, on the smallest size, training examples
per second of one known-good image model over two epochs, fed from the cache against
the same examples held in memory, median of three alternating repetitions.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from common import HERE, machine

RUN_AND_MEASURE = ("import resource, subprocess, sys; "
                   "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
                   "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")


def folder_of(work, size):
    folder = os.path.join(work, f"images{size}")
    if not os.path.isdir(folder):
        subprocess.run([sys.executable, os.path.join(HERE, "make_image_folder.py"), folder,
                        "--count", str(size)], check=True)
    return folder


def measured_search(data, out, cache, budget):
    """`(peak RSS in MiB, wall seconds, card)` of one search in its own process."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-c", RUN_AND_MEASURE, sys.executable, "-m", "automl", "search",
               "--task", "image", "--data", data, "--out", out, "--max-trials", "1",
               "--epochs", "1", "--time-budget", str(budget), "--cache-dir", cache]
    started = time.time()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.time() - started
    card = json.load(open(os.path.join(out, "model", "model_card.json")))
    return int(result.stdout.split()[-1]) / 1024, wall, card


def throughput(data, cache):
    """Median training examples/s from the cache and from memory (three alternations)."""
    os.environ["AUTOML_CACHE_DIR"] = cache
    from automl.runtime import env
    from automl.data.sources import Dataset, Split
    from automl.data.feeds import Feeds
    from automl.settings import from_mapping
    from automl.tuning.hypermodel import TaskHyperModel
    from automl_plugins.image import ImageTask

    tf, keras = env.import_tensorflow()
    import keras_tuner as kt

    task = ImageTask()
    cached = task.load(from_mapping({"task": "image", "data": data, "out": "unused"}))
    train = cached.train
    in_memory = Dataset(cached.classes, Split(train.head(len(train)), train.y, train.ids),
                        cached.val, cached.test, cached.source, cached.meta)
    hp = kt.HyperParameters()
    hp.values.update(task.known_good(cached.training_only())[0])
    rates = {"cache": [], "memory": []}
    for _ in range(3):
        for name, dataset in (("cache", cached), ("memory", in_memory)):
            feeds = Feeds(task, dataset, 0, tf)
            model = TaskHyperModel(task, dataset, keras).build(hp)
            batches = feeds.pipeline("train", hp, 32, training=True)
            model.fit(batches, epochs=1, verbose=0)  # warm-up: tracing, first reads
            started = time.time()
            model.fit(batches, epochs=1, verbose=0)
            rates[name].append(len(train) / (time.time() - started))
    return {name: statistics.median(values) for name, values in rates.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="3000,12000,48000")
    parser.add_argument("--work", default="/tmp/cachebench")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"machine: {machine()}")
    for size in sizes:
        data = folder_of(args.work, size)
        cache = os.path.join(args.work, f"cache{size}")
        shutil.rmtree(cache, ignore_errors=True)
        for state in ("cold", "warm"):
            budget = 180 if size <= 12000 else 600
            peak, wall, card = measured_search(data, os.path.join(args.work, f"run{size}"), cache,
                                               budget)
            print(f"{size} images, {budget}s budget, {state} cache: peak RSS {peak:.0f} MiB, wall {wall:.0f}s, "
                  f"data phase {card['search']['seconds'].get('data', 0):.1f}s, "
                  f"test accuracy {card['metrics']['test']['accuracy']:.4f}")
    smallest = folder_of(args.work, min(sizes))
    rates = throughput(smallest, os.path.join(args.work, f"cache{min(sizes)}"))
    print(f"training throughput on {min(sizes)} images: {rates['cache']:.0f} examples/s from "
          f"the cache, {rates['memory']:.0f} from memory "
          f"(ratio {rates['cache'] / rates['memory']:.2f})")


if __name__ == "__main__":
    main()
