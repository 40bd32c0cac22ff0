"""Cost per example of each image backbone on this machine: multiply-adds and seconds.

For each keras.applications family of `automl.transfer.backbones` (random weights:
the speed does not depend on them), at its input size under a new 10-class head:
the multiply-adds `automl.cost` counts (what the planner uses), and the measured
milliseconds per example to train (head and body, after tracing) and to predict,
batch 32. Prints a Markdown table; writes JSON with `--json PATH`.

    python benchmarks/transfer_costs.py [--steps 5] [--json results.json]
"""

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from automl.cost import example_cost  # noqa: E402
from automl.transfer import backbones  # noqa: E402

BATCH = 32


def measure(family, steps):
    """`{"multiply_adds", "train_ms", "predict_ms"}` per example of `family`."""
    keras.utils.set_random_seed(0)
    size = family.input_size
    inputs = keras.Input((size, size, 3))
    body = family.build(keras)
    features = keras.layers.GlobalAveragePooling2D()(body(inputs, training=False))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(features))
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.uniform(0, 255, (BATCH * steps, size, size, 3)).astype("float32")
    y = np.random.randint(0, 10, BATCH * steps)
    model.fit(x[:BATCH], y[:BATCH], batch_size=BATCH, epochs=1, verbose=0)  # tracing
    started = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    train = (time.perf_counter() - started) / len(x)
    model.predict(x[:BATCH], batch_size=BATCH, verbose=0)
    started = time.perf_counter()
    model.predict(x, batch_size=BATCH, verbose=0)
    predict = (time.perf_counter() - started) / len(x)
    return {"input_size": size, "multiply_adds": family.cost,
            "counted": example_cost(body), "train_ms": round(1000 * train, 2),
            "predict_ms": round(1000 * predict, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="batches timed per measurement")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    results = {name: measure(family, args.steps)
               for name, family in backbones.IMAGE_FAMILIES.items()}
    print(f"{platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    print("| backbone | input | multiply-adds | train ms/example | predict ms/example |")
    print("|---|---|---|---|---|")
    for name, row in results.items():
        print(f"| {name} | {row['input_size']} | {row['multiply_adds'] / 1e6:.0f} M "
              f"| {row['train_ms']} | {row['predict_ms']} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"machine": platform.node(), "cores": os.cpu_count(),
                       "date": time.strftime("%Y-%m-%d"), "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()
