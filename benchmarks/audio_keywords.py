"""Audio benchmark: keras-automl against the TensorFlow simple-audio tutorial CNN on the
spoken-keyword set of ../shared/data/make_keywords.py, measured side by side in one run.

Usage: python benchmarks/audio_keywords.py DATA_DIR [--budget 600] [--seeds 0,1]
DATA_DIR is the output of make_keywords.py (train/val/test/<word>/*.wav, 16 kHz, 1 s).
"""

import os
import time

import numpy as np

from common import benchmark_args, machine, report_baseline, report_searches


def load(folder):
    import soundfile

    waves, labels = [], []
    for label in sorted(os.listdir(folder)):
        for name in sorted(os.listdir(os.path.join(folder, label))):
            wave, _ = soundfile.read(os.path.join(folder, label, name), dtype="float32")
            waves.append(np.pad(wave[:16000], (0, max(0, 16000 - len(wave)))))
            labels.append(label)
    return np.stack(waves), labels


def tutorial_cnn(data):
    """The "simple audio recognition" tutorial model: STFT magnitude, resize, small CNN."""
    import keras
    import tensorflow as tf

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (load(os.path.join(data, s))
                                                            for s in ("train", "val", "test"))
    classes = sorted(set(y_train))
    encode = lambda labels: np.asarray([classes.index(v) for v in labels])  # noqa: E731
    spectrogram = lambda x: tf.abs(tf.signal.stft(x, frame_length=255, frame_step=128))[..., None]  # noqa: E731
    s_train, s_val, s_test = (spectrogram(tf.constant(x)).numpy() for x in (x_train, x_val, x_test))
    norm = keras.layers.Normalization()
    norm.adapt(s_train)
    model = keras.Sequential([
        keras.Input(shape=s_train.shape[1:]), keras.layers.Resizing(32, 32), norm,
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(), keras.layers.Dropout(0.25), keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"), keras.layers.Dropout(0.5),
        keras.layers.Dense(len(classes))])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(s_train, encode(y_train), validation_data=(s_val, encode(y_val)), epochs=10, verbose=0,
              callbacks=[keras.callbacks.EarlyStopping(verbose=0, patience=2)])
    return float(model.evaluate(s_test, encode(y_test), verbose=0)[1])


def main():
    args = benchmark_args()
    print(f"# audio benchmark, {time.strftime('%Y-%m-%d')}, {machine()}")
    report_baseline("simple-audio tutorial CNN", tutorial_cnn, args.data)
    report_searches("audio", args.data, os.path.join(args.data, "test"), args.budget, args.seeds)


if __name__ == "__main__":
    main()
