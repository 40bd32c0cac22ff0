"""Image benchmark: keras-automl against three hand-written baselines, side by side.

Usage: python benchmarks/image_glyphs.py DATA_DIR [--budgets 60,120,300] [--seeds 0,1,2]
       [--only automl,simple,tuner,expert] [--out results.jsonl]

DATA_DIR holds train/, val/ and test/ class folders of images (`make_glyphs.py`). For
each budget and seed, in one process after another (never two at once):

- keras-automl: `automl search --task image --data DATA_DIR --time-budget B --seed S`,
  scored through its SavedModel on test with plain TensorFlow;
- (a) the Keras "simple MNIST convnet" example (Conv32-Pool-Conv64-Pool-Dropout-Dense,
  Adam, batch 128) with early stopping on val, trained on train;
- (b) a KerasTuner RandomSearch over a small conv net (1-3 blocks of 16-128 filters,
  dense 64-256, dropout, learning rate), stopped at 65% of the budget, its best
  configuration retrained on train+val in the rest;
- (c) a fixed expert recipe, no search: a batch-normalised conv net (32, 64-64,
  128-128 filters, max-pooling between stages, global average pooling, dropout 0.3),
  random translation by 10%, label smoothing 0.1, AdamW (weight decay 5e-4), one
  warm-up epoch to 3e-3 then cosine decay over as many epochs as fit in 85% of the
  budget (the first epoch timed), batch 128, trained on train+val.

Each run prints one JSON line (system, budget, seed, test accuracy, wall seconds and
details); the summary gives medians and spreads per system and budget.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def load_split(folder):
    import numpy as np
    from PIL import Image

    classes = sorted(os.listdir(folder))
    images, labels = [], []
    for index, label in enumerate(classes):
        for name in sorted(os.listdir(os.path.join(folder, label))):
            image = np.asarray(Image.open(os.path.join(folder, label, name)))
            images.append(image[..., None] if image.ndim == 2 else image)
            labels.append(index)
    return np.stack(images).astype("float32"), np.asarray(labels), classes


def load(data):
    return [load_split(os.path.join(data, split))[:2] for split in ("train", "val", "test")]


def accuracy(model, x, y):
    import numpy as np

    return float(np.mean(model.predict(x, batch_size=512, verbose=0).argmax(-1) == y))


def simple_convnet(splits, budget, seed):
    """(a) The Keras example's convnet, with early stopping on val."""
    import keras
    from keras import layers

    (x, y), (xv, yv), (xt, yt) = splits
    keras.utils.set_random_seed(seed)
    classes = int(y.max()) + 1
    model = keras.Sequential([
        keras.Input(x.shape[1:]), layers.Rescaling(1 / 255),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dropout(0.5), layers.Dense(classes, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    started = time.time()
    history = model.fit(x, y, batch_size=128, epochs=30, validation_data=(xv, yv), verbose=0,
                        callbacks=[keras.callbacks.EarlyStopping(
                            monitor="val_accuracy", patience=3, restore_best_weights=True),
                            Deadline(started + budget)])
    epoch = (time.time() - started) / len(history.history["loss"])
    return accuracy(model, xt, yt), {"epochs": len(history.history["loss"]),
                                     "seconds_per_epoch": round(epoch, 2)}


class Deadline:
    """A Keras callback that stops training at a wall-clock deadline."""

    def __new__(cls, deadline):
        import keras

        class Stop(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if time.time() >= deadline:
                    self.model.stop_training = True

        return Stop()


def tuner_search(splits, budget, seed):
    """(b) KerasTuner RandomSearch, stopped at 65% of the budget; the best retrained on train+val."""
    import keras
    import keras_tuner as kt
    import numpy as np
    from keras import layers

    (x, y), (xv, yv), (xt, yt) = splits
    classes = int(y.max()) + 1
    started = time.time()
    search_end = started + 0.65 * budget

    def build(hp):
        model = keras.Sequential([keras.Input(x.shape[1:]), layers.Rescaling(1 / 255)])
        for block in range(hp.Int("blocks", 1, 3)):
            model.add(layers.Conv2D(hp.Int(f"filters_{block}", 16, 128, step=16), 3,
                                    padding="same", activation="relu"))
            model.add(layers.MaxPooling2D())
        model.add(layers.Flatten())
        model.add(layers.Dense(hp.Int("dense", 64, 256, step=64), activation="relu"))
        model.add(layers.Dropout(hp.Float("dropout", 0.0, 0.5, step=0.1)))
        model.add(layers.Dense(classes, activation="softmax"))
        model.compile(keras.optimizers.Adam(hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")),
                      "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    with tempfile.TemporaryDirectory() as folder:
        tuner = kt.RandomSearch(build, objective="val_accuracy", max_trials=1, seed=seed,
                                directory=folder, project_name="b", overwrite=True)
        while time.time() < search_end:
            tuner.oracle.max_trials = len(tuner.oracle.trials) + 1
            tuner.search(x, y, epochs=10, batch_size=128, validation_data=(xv, yv), verbose=0,
                         callbacks=[keras.callbacks.EarlyStopping(monitor="val_accuracy",
                                                                  patience=2),
                                    Deadline(search_end)])
        best_trial = tuner.oracle.get_best_trials(1)[0]
        best = best_trial.hyperparameters
        epochs = max(1, int(best_trial.best_step) + 1)
        trials = len(tuner.oracle.trials)
    keras.utils.set_random_seed(seed)
    model = build(best)
    model.fit(np.concatenate([x, xv]), np.concatenate([y, yv]), batch_size=128, epochs=epochs,
              verbose=0, callbacks=[Deadline(started + budget)])
    return accuracy(model, xt, yt), {"trials": trials, "retrain_epochs": epochs}


def expert_recipe(splits, budget, seed):
    """(c) The fixed expert recipe on train+val, its epochs from the first one's time."""
    import keras
    import numpy as np
    from keras import layers

    (x, y), (xv, yv), (xt, yt) = splits
    keras.utils.set_random_seed(seed)
    started = time.time()
    classes = int(y.max()) + 1
    train_x, train_y = np.concatenate([x, xv]), np.concatenate([y, yv])

    def conv(t, filters):
        t = layers.Conv2D(filters, 3, padding="same", use_bias=False)(t)
        return layers.ReLU()(layers.BatchNormalization(momentum=0.9)(t))

    inputs = keras.Input(x.shape[1:])
    t = layers.RandomTranslation(0.1, 0.1)(layers.Rescaling(1 / 255)(inputs))
    t = conv(t, 32)
    t = conv(conv(layers.MaxPooling2D()(t), 64), 64)
    t = conv(conv(layers.MaxPooling2D()(t), 128), 128)
    t = layers.Dropout(0.3)(layers.GlobalAveragePooling2D()(t))
    model = keras.Model(inputs, layers.Dense(classes, activation="softmax")(t))
    optimizer = keras.optimizers.AdamW(3e-4, weight_decay=5e-4)
    model.compile(optimizer, keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
                  metrics=["accuracy"])
    steps = -(-len(train_x) // 128)
    plan = {"epochs": 1}

    class Schedule(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            step = int(self.model.optimizer.iterations.numpy())
            if step < steps:  # warm-up: the first epoch
                rate = 3e-3 * (step + 1) / steps
            else:
                total = max((plan["epochs"] - 1) * steps, 1)
                rate = 3e-3 * 0.5 * (1 + np.cos(np.pi * min(step - steps, total) / total))
            self.model.optimizer.learning_rate.assign(rate)

    labels = keras.utils.to_categorical(train_y, classes)
    model.fit(train_x, labels, batch_size=128, epochs=1, verbose=0, callbacks=[Schedule()])
    first = time.time() - started
    plan["epochs"] = max(1, int(0.85 * budget / first))
    if plan["epochs"] > 1:
        model.fit(train_x, labels, batch_size=128, initial_epoch=1, epochs=plan["epochs"],
                  verbose=0, callbacks=[Schedule()])
    return accuracy(model, xt, yt), {"epochs": plan["epochs"], "first_epoch_seconds": round(first, 1)}


def automl_search(data, budget, seed):
    """keras-automl's own search, through the command line; scored through its SavedModel."""
    with tempfile.TemporaryDirectory() as folder:
        run = os.path.join(folder, "run")
        command = [sys.executable, "-m", "automl", "search", "--task", "image", "--data", data,
                   "--out", run, "--time-budget", str(budget), "--seed", str(seed)]
        started = time.time()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        wall = time.time() - started
        scored = subprocess.run([sys.executable, os.path.join(HERE, "score_savedmodel.py"), run,
                                 os.path.join(data, "test")], check=True, capture_output=True,
                                text=True).stdout
        card = json.load(open(os.path.join(run, "model", "model_card.json")))
        history = [json.load(open(os.path.join(run, "search", name, "trial.json")))
                   for name in sorted(os.listdir(os.path.join(run, "search")))
                   if name.startswith("trial_")]
    search = card["search"]
    rungs = {}
    best_curve, best = [], None
    for trial in history:
        values = trial["hyperparameters"]["values"]
        rungs[values.get("tuner/rung", 0)] = rungs.get(values.get("tuner/rung", 0), 0) + 1
        metrics = trial["metrics"]["metrics"]
        if trial["score"] is not None and "finished_at" in metrics:
            best = trial["score"] if best is None else max(best, trial["score"])
            finished = metrics["finished_at"]["observations"][0]["value"][0]
            best_curve.append([round(finished, 1), round(best, 4)])
    details = {"wall": round(wall, 1), "card_test_accuracy": card["metrics"]["test"]["accuracy"],
               "trials": search["trials"], "trials_per_rung": rungs,
               "rungs": search["scheduler"].get("rungs"),
               "examples_seen": search["examples_seen"], "retrain_mode": search["retrain_mode"],
               "skipped": search["skipped"], "probe": search["probe"],
               "exported": {k: v for k, v in card["hyperparameters"].items()
                            if k.startswith("image/")},
               "test_time_augmentation": card.get("test_time_augmentation"),
               "best_val_by_time": best_curve, "seconds": search["seconds"]}
    return json.loads(scored.strip().splitlines()[-1])["accuracy"], details


SYSTEMS = {"automl": automl_search, "simple": simple_convnet, "tuner": tuner_search,
           "expert": expert_recipe}


def run_one(system, data, budget, seed):
    """Run one system in a fresh process (each baseline has the machine to itself)."""
    command = [sys.executable, __file__, data, "--one", system, "--budgets", str(budget),
               "--seeds", str(seed)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--budgets", default="60,120,300")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--only", default=",".join(SYSTEMS))
    parser.add_argument("--out", default=None, help="append each result as a JSON line")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.one:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        started = time.time()
        if args.one == "automl":
            score, details = automl_search(args.data, budgets[0], seeds[0])
        else:
            score, details = SYSTEMS[args.one](load(args.data), budgets[0], seeds[0])
        details.setdefault("wall", round(time.time() - started, 1))
        print(json.dumps({"system": args.one, "budget": budgets[0], "seed": seeds[0],
                          "test_accuracy": round(score, 4), **details}))
        return
    sys.path.insert(0, HERE)
    from common import machine

    print(f"# image benchmark on {args.data}, {time.strftime('%Y-%m-%d %H:%M')}, {machine()}",
          flush=True)
    results = []
    for budget in budgets:
        for seed in seeds:
            for system in args.only.split(","):
                result = run_one(system, args.data, budget, seed)
                results.append(result)
                print(json.dumps(result), flush=True)
                if args.out:
                    with open(args.out, "a", encoding="utf-8") as handle:
                        handle.write(json.dumps(result) + "\n")
    print("# median (min to max) test accuracy and wall seconds")
    for budget in budgets:
        for system in args.only.split(","):
            scores = [r["test_accuracy"] for r in results
                      if r["system"] == system and r["budget"] == budget]
            walls = [r["wall"] for r in results if r["system"] == system and r["budget"] == budget]
            print(f"{budget:4d}s {system:7s} {statistics.median(scores):.4f} "
                  f"({min(scores):.4f} to {max(scores):.4f}), wall {statistics.median(walls):.0f}s "
                  f"over seeds {','.join(map(str, seeds))}")


if __name__ == "__main__":
    main()
