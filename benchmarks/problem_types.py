"""Multilabel and regression searches beside a hand-written convnet and a learned-nothing baseline.

    python benchmarks/make_problem_sets.py shapes /tmp/shapes   # and dots, tones
    python benchmarks/problem_types.py shapes /tmp/shapes --budget 120 --seeds 0,1,2
    python benchmarks/problem_types.py dots /tmp/dots --budget 120 --seeds 0,1,2
    python benchmarks/problem_types.py tones /tmp/tones --budget 120 --seeds 0,1,2

Per seed: `automl search` on the CSV manifest (its test split untouched), and for
images a hand-written Keras convnet (Conv32-Pool-Conv64-Pool-Conv128-GAP-Dense, Adam,
batch 64, early stopping on val, at most 20 epochs) with the same head and loss
type. Prints each figure and the median with its range: shapes, test micro F1 at the
card's thresholds (the convnet at 0.5); dots and tones, test MAE, with the MAE of
always predicting the training mean.
"""

import csv
import os
import statistics
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import benchmark_args, machine, timed_search  # noqa: E402

SETTINGS = {"shapes": ("image", ["--problem", "multilabel"]),
            "dots": ("image", ["--problem", "regression", "--label-column", "dots"]),
            "tones": ("audio", ["--problem", "regression", "--label-column", "hz"])}


def read_manifest(folder):
    with open(os.path.join(folder, "labels.csv"), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    target = [c for c in rows[0] if c not in ("path", "split")][0]
    return {split: [(os.path.join(folder, r["path"]), r[target]) for r in rows
                    if r["split"] == split] for split in ("train", "val", "test")}


def convnet(kind, splits, seed):
    """The hand-written model's test figure (micro F1 or MAE) and its seconds."""
    import keras
    from PIL import Image
    from sklearn.metrics import f1_score

    keras.utils.set_random_seed(seed)
    labels = sorted({p for _, cell in splits["train"] for p in cell.split("|")})

    def arrays(rows):
        x = np.stack([np.asarray(Image.open(path), dtype="float32") for path, _ in rows])
        x = x[..., None] if x.ndim == 3 else x
        if kind == "shapes":
            y = np.array([[float(name in cell.split("|")) for name in labels] for _, cell in rows])
        else:
            y = np.array([float(cell) for _, cell in rows])
        return x / 255.0, y

    started = time.time()
    (x, y), (xv, yv), (xt, yt) = (arrays(splits[s]) for s in ("train", "val", "test"))
    inputs = keras.Input(x.shape[1:])
    h = inputs
    for filters in (32, 64):
        h = keras.layers.Conv2D(filters, 3, activation="relu", padding="same")(h)
        h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(128, 3, activation="relu", padding="same")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    h = keras.layers.Dense(128, activation="relu")(h)
    if kind == "shapes":
        outputs, loss = keras.layers.Dense(len(labels), activation="sigmoid")(h), "binary_crossentropy"
        scale, offset = 1.0, 0.0
    else:
        offset, scale = float(y.mean()), float(y.std())
        outputs, loss = keras.layers.Dense(1)(h), "mse"
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(1e-3), loss)
    target = y if kind == "shapes" else (y - offset) / scale
    val_target = yv if kind == "shapes" else (yv - offset) / scale
    model.fit(x, target, validation_data=(xv, val_target), batch_size=64, epochs=20, verbose=0,
              callbacks=[keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)])
    predicted = model.predict(xt, verbose=0)
    if kind == "shapes":
        figure = f1_score(yt > 0.5, predicted >= 0.5, average="micro", zero_division=0)
    else:
        figure = float(np.mean(np.abs(predicted[:, 0] * scale + offset - yt)))
    return float(figure), time.time() - started


def summary(name, values):
    return (f"{name}: median {statistics.median(values):.4f} (min {min(values):.4f}, "
            f"max {max(values):.4f}) over {len(values)} seeds")


def main():
    kind = sys.argv.pop(1)
    args = benchmark_args()
    task, extra = SETTINGS[kind]
    splits = read_manifest(args.data)
    manifest = os.path.join(args.data, "labels.csv")
    print(f"{kind}: {machine()}; budget {args.budget}s; seeds {args.seeds}")
    ours, theirs = [], []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as folder:
            wall, card = timed_search(task, manifest, os.path.join(folder, "run"), args.budget,
                                      seed, *extra)
        test = card["metrics"]["test"]
        figure = test["micro_f1"] if kind == "shapes" else test["mae"]
        baseline = test.get("baseline_micro_f1", test.get("baseline_mae"))
        ours.append(figure)
        line = (f"seed {seed}: keras-automl {figure:.4f} ({card['search']['trials']} trials, "
                f"wall {wall:.0f}s), learned-nothing baseline {baseline:.4f}")
        if task == "image":
            mine, seconds = convnet(kind, splits, seed)
            theirs.append(mine)
            line += f", hand-written convnet {mine:.4f} ({seconds:.0f}s)"
        print(line, flush=True)
    metric = "test micro F1" if kind == "shapes" else "test MAE"
    print(summary(f"keras-automl {metric}", ours))
    if theirs:
        print(summary(f"hand-written convnet {metric}", theirs))


if __name__ == "__main__":
    main()
