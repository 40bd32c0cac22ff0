"""Images from a numpy array: scikit-learn's 8x8 digits, searched, loaded and served.

    python examples/digits_from_arrays.py
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import automl


def main(limit=None, **settings):
    digits = load_digits()
    x = (digits.images * 255 / 16).astype("uint8")[..., np.newaxis]  # [N, 8, 8, 1], 0-255
    y = digits.target                                                # integers 0-9
    if limit:
        x, y = x[:limit], y[:limit]
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0,
                                                        stratify=y)
    settings.setdefault("time_budget", 60)
    result = automl.search("image", (x_train, y_train), test_data=(x_test, y_test),
                           class_names=[str(d) for d in range(10)], **settings)
    print(result)
    print("test accuracy (model card):", result.card["metrics"]["test"]["accuracy"])

    predictor = automl.load(result.run_dir)
    labels, probabilities = predictor.predict(x_test)
    print("test accuracy (predict):   ", np.mean(labels.astype(int) == y_test))
    print("first five:", list(labels[:5]), probabilities[:5].max(axis=1).round(3))
    return result


if __name__ == "__main__":
    main()
