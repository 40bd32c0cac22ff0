"""Text benchmark: keras-automl against TF-IDF + logistic regression and a fastText-style
Keras model, on the Rotten Tomatoes snippets, measured side by side in one run.

Usage: python benchmarks/text_rotten_tomatoes.py [DATA_DIR] [--budget 600] [--seeds 0]
DATA_DIR holds train.csv, val.csv, test.csv (default ../shared/data/rotten_tomatoes).
"""

import csv
import os
import time

import numpy as np

from common import benchmark_args, machine, report_baseline, report_searches


def read(path):
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def tfidf_logistic(train, val, test):
    """Word 1-2 gram TF-IDF and logistic regression; C chosen on val, refit on train+val."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    def fit(texts, labels, c):
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        model = LogisticRegression(max_iter=3000, C=c).fit(vectorizer.fit_transform(texts), labels)
        return lambda x: model.predict(vectorizer.transform(x))

    def accuracy(predict, split):
        return float(np.mean(predict(split[0]) == np.asarray(split[1])))

    best = max((1.0, 2.0, 4.0, 8.0, 16.0), key=lambda c: accuracy(fit(*train, c), val))
    return accuracy(fit(list(train[0]) + list(val[0]), list(train[1]) + list(val[1]), best), test)


def fasttext_keras(train, val, test):
    import keras
    import tensorflow as tf

    classes = sorted(set(train[1]))
    encode = lambda labels: np.asarray([classes.index(v) for v in labels])  # noqa: E731
    vectorize = keras.layers.TextVectorization(max_tokens=20000, ngrams=2, output_sequence_length=64)
    vectorize.adapt(tf.constant(train[0]))
    inputs = keras.Input(shape=(), dtype="string")
    x = keras.layers.Embedding(20000, 64)(vectorize(inputs))
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(len(classes), activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(tf.constant(train[0]), encode(train[1]), validation_data=(tf.constant(val[0]), encode(val[1])),
              epochs=10, batch_size=32, verbose=0,
              callbacks=[keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True,
                                                       monitor="val_accuracy")])
    return float(model.evaluate(tf.constant(test[0]), encode(test[1]), verbose=0)[1])


def main():
    args = benchmark_args(os.path.join(
        os.path.dirname(__file__), "..", "..", "shared", "data", "rotten_tomatoes"))
    train, val, test = (read(os.path.join(args.data, f"{s}.csv")) for s in ("train", "val", "test"))
    print(f"# text benchmark, {time.strftime('%Y-%m-%d')}, {machine()}")
    report_baseline("tfidf+logistic regression", tfidf_logistic, train, val, test)
    report_baseline("fastText-style Keras", fasttext_keras, train, val, test)
    report_searches("text", args.data, os.path.join(args.data, "test.csv"), args.budget, args.seeds)


if __name__ == "__main__":
    main()
