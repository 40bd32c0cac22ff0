"""Accuracy of a run's SavedModel, called with plain TensorFlow on a labelled folder.

Usage: python benchmarks/score_savedmodel.py RUN DATA_DIR/test
Images are fed as float32 [N, H, W, C] pixel values, WAV clips as float32 [N, samples],
.txt files and CSV rows as strings: the documented serving contract, nothing more.
"""

import csv
import json
import os
import sys

import numpy as np
import tensorflow as tf


def load_folder(path):
    examples, labels = [], []
    for label in sorted(os.listdir(path)):
        folder = os.path.join(path, label)
        for name in sorted(os.listdir(folder)):
            file = os.path.join(folder, name)
            if name.endswith(".wav"):
                audio, _ = tf.audio.decode_wav(tf.io.read_file(file), desired_channels=1)
                examples.append(audio[:, 0].numpy())
            elif name.endswith(".txt"):
                examples.append(open(file, encoding="utf-8").read())
            else:
                image = tf.io.decode_image(tf.io.read_file(file), expand_animations=False)
                examples.append(image.numpy().astype("float32"))
            labels.append(label)
    return examples, labels


def load_csv(path):
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def main(run, data):
    card = json.load(open(os.path.join(run, "model", "model_card.json")))
    serve = tf.saved_model.load(os.path.join(run, "model", "saved_model")).signatures["serving_default"]
    examples, labels = load_csv(data) if data.endswith(".csv") else load_folder(data)
    if card["input"]["dtype"] == "string":
        batch = tf.constant(examples)
    else:
        if card["task"] == "audio":
            samples = card["input"]["shape"][1]
            examples = [np.pad(e[:samples], (0, max(0, samples - len(e)))) for e in examples]
        batch = tf.constant(np.stack(examples).astype("float32"))
    predicted = []
    for start in range(0, len(labels), 512):
        out = serve(inputs=batch[start:start + 512])
        predicted += [s.decode() for s in out["label"].numpy()]
    accuracy = float(np.mean([p == t for p, t in zip(predicted, labels)]))
    print(json.dumps({"examples": len(labels), "accuracy": round(accuracy, 4)}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
