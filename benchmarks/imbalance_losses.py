"""Balancing losses on imbalanced digits, one fixed model, no search.

    python benchmarks/imbalance_losses.py --seeds 0-11 --epochs 40

The 8x8 digits (70/30 split), classes 5-9 cut to 12 training examples. Per seed one
batch-normalised convnet is trained with each loss: plain cross-entropy, loss
weights `n / (k * n_c)`, and the logit-adjusted cross-entropy `--class-weight
balanced` uses; prints the test balanced accuracy of each and the medians.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def convnet(keras, seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    x = inputs
    for filters in (32, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    x = keras.layers.Dropout(0.3)(keras.layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0-11")
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    first, _, last = args.seeds.partition("-")
    seeds = range(int(first), int(last or first) + 1)

    import keras
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from automl.problems.keras_metrics import LogitAdjustedCrossentropy

    digits = load_digits()
    x, y = digits.images[..., None].astype("float32") / 16, digits.target
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0,
                                                        stratify=y)
    keep = np.concatenate([np.flatnonzero(y_train == c)[:None if c < 5 else 12]
                           for c in range(10)])
    x_train, y_train = x_train[keep], y_train[keep]
    counts = np.bincount(y_train, minlength=10)
    prior = counts / counts.sum()
    results = {"plain": [], "weights": [], "logit-adjusted": []}
    for seed in seeds:
        for method, values in results.items():
            model = convnet(keras, seed)
            loss = (LogitAdjustedCrossentropy(prior) if method == "logit-adjusted"
                    else keras.losses.CategoricalCrossentropy())
            model.compile(keras.optimizers.Adam(3e-3), loss)
            weights = (len(y_train) / (10 * counts))[y_train] if method == "weights" else None
            model.fit(x_train, keras.utils.to_categorical(y_train, 10), sample_weight=weights,
                      epochs=args.epochs, batch_size=32, verbose=0)
            predicted = model.predict(x_test, verbose=0).argmax(axis=1)
            values.append(float(np.mean([np.mean(predicted[y_test == c] == c)
                                         for c in range(10)])))
            print(f"seed {seed} {method}: test balanced accuracy {values[-1]:.4f}", flush=True)
    for method, values in results.items():
        print(f"{method}: median {np.median(values):.4f} (min {min(values):.4f}, "
              f"max {max(values):.4f})")


if __name__ == "__main__":
    main()
