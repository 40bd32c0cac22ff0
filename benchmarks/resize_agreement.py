"""How often an image SavedModel answers the same at twice the training resolution.

Usage: python benchmarks/resize_agreement.py RUN FOLDER [--per-class 5]

Takes the first images of each class folder under FOLDER, resizes them to the
training size recorded in the card, and serves them as they are and scaled up 2x
(bilinear); prints the share of images whose label agrees.
"""

import argparse
import json
import os

import numpy as np
import tensorflow as tf


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run")
    parser.add_argument("folder")
    parser.add_argument("--per-class", type=int, default=5)
    args = parser.parse_args()
    card = json.load(open(os.path.join(args.run, "model", "model_card.json")))
    size = (card["data"]["height"], card["data"]["width"])
    serve = tf.saved_model.load(os.path.join(args.run, "model", "saved_model")).signatures[
        "serving_default"]
    images = []
    for label in sorted(os.listdir(args.folder)):
        names = sorted(os.listdir(os.path.join(args.folder, label)))[:args.per_class]
        for name in names:
            data = tf.io.read_file(os.path.join(args.folder, label, name))
            image = tf.io.decode_image(data, channels=card["data"]["channels"],
                                       expand_animations=False)
            images.append(tf.image.resize(tf.cast(image, tf.float32), size))
    batch = tf.stack(images)
    twice = tf.image.resize(batch, (2 * size[0], 2 * size[1]))
    at_size = serve(inputs=batch)["label"].numpy()
    at_twice = serve(inputs=twice)["label"].numpy()
    agreement = float(np.mean(at_size == at_twice))
    print(json.dumps({"images": len(images), "training_size": size,
                      "served_size": [2 * size[0], 2 * size[1]], "agreement": agreement}))


if __name__ == "__main__":
    main()
