"""The references the search is measured against, one function per modality and kind.

Every reference takes (data folder, budget seconds, seed) and returns
(true labels, predicted labels, details) on the test split:

- simple: the modality's simple hand-written baseline: the Keras simple MNIST convnet
  (`image_glyphs.simple_convnet`), TF-IDF word 1-2 grams + logistic regression, the
  TensorFlow simple-audio CNN (`audio_keywords.tutorial_cnn`, which reports accuracy only);
- expert: a fixed recipe, no search, its schedule sized to the budget: the batch-normalised
  convnet of `image_glyphs.expert_recipe`; TF-IDF word 1-2 + char 2-5 grams with logistic
  regression's C chosen on val; a batch-normalised log-mel CNN with time and frequency
  masking, one warm-up epoch then cosine decay over the epochs that fit 85% of the budget.
"""

import contextlib
import csv
import os
import sys
import time

import numpy as np

BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, BENCHMARKS)
import audio_keywords  # noqa: E402
import image_glyphs  # noqa: E402

SPLITS = ("train", "val", "test")
MIN_SIDE = 28  # the MNIST images the Keras simple convnet was written for


def load_images(data):
    """[(x, y)] of train, val and test, resized to the largest side and at least
    `MIN_SIDE` (the Keras simple convnet's valid convolutions leave nothing of 8x8 images)."""
    from PIL import Image

    files = {split: [(index, os.path.join(data, split, label, name))
                     for index, label in enumerate(sorted(os.listdir(os.path.join(data, "train"))))
                     for name in sorted(os.listdir(os.path.join(data, split, label)))]
             for split in SPLITS}
    side = max(MIN_SIDE, *(max(Image.open(path).size) for _, path in files["train"]))
    splits = []
    for split in SPLITS:
        images = [np.asarray(Image.open(path).resize((side, side))) for _, path in files[split]]
        x = np.stack([image[..., None] if image.ndim == 2 else image for image in images])
        splits.append((x.astype("float32"), np.asarray([index for index, _ in files[split]])))
    return splits


@contextlib.contextmanager
def kept_predictions():
    """Swap image_glyphs' `accuracy(model, x, y)` scorer for one that keeps its predictions."""
    kept, original = [], image_glyphs.accuracy

    def accuracy(model, x, y):
        predicted = model.predict(x, batch_size=512, verbose=0).argmax(-1)
        kept.append((y, predicted))
        return float(np.mean(predicted == y))

    image_glyphs.accuracy = accuracy
    try:
        yield kept
    finally:
        image_glyphs.accuracy = original


def image_reference(recipe):
    def reference(data, budget, seed):
        with kept_predictions() as kept:
            _, details = recipe(load_images(data), budget, seed)
        return (*kept[-1], details)

    return reference


def read_csv(data, split):
    with open(os.path.join(data, f"{split}.csv"), encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], np.asarray([r["label"] for r in rows])


def linear_text(vectorizer, costs):
    """TF-IDF features (`vectorizer()` builds them) and logistic regression, C chosen on
    val among `costs`, refit on train+val."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    def reference(data, budget, seed):
        (x, y), (xv, yv), (xt, yt) = (read_csv(data, split) for split in SPLITS)

        def fit(texts, labels, cost):
            model = make_pipeline(vectorizer(), LogisticRegression(C=cost, max_iter=3000))
            return model.fit(texts, labels)

        best = max(costs, key=lambda cost: np.mean(fit(x, y, cost).predict(xv) == yv))
        model = fit(x + xv, np.concatenate([y, yv]), best)
        return yt, model.predict(xt), {"C": best}

    return reference


def word_tfidf():
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)


def word_and_char_tfidf():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    return make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                      TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                      min_df=2))


def tutorial_audio_cnn(data, budget, seed):
    """The simple-audio tutorial CNN: accuracy only (the audio sets are balanced)."""
    import keras

    keras.utils.set_random_seed(seed)
    return None, audio_keywords.tutorial_cnn(data), {}


def load_clips(data):
    """[(waveforms, labels)] of train, val and test, padded to the longest training clip."""
    import soundfile

    classes = sorted(os.listdir(os.path.join(data, "train")))
    splits = [[(soundfile.read(os.path.join(data, split, label, name), dtype="float32")[0], index)
               for index, label in enumerate(classes)
               for name in sorted(os.listdir(os.path.join(data, split, label)))] for split in SPLITS]
    samples = max(len(wave) for wave, _ in splits[0])
    return [(np.stack([np.pad(w[:samples], (0, samples - len(w[:samples]))) for w, _ in split]),
             np.asarray([label for _, label in split])) for split in splits]


def log_mel(waves):
    """40-bin log-mel spectrograms, [N, 40, frames, 1], of 16 kHz waveforms."""
    from keras import layers

    mel = layers.MelSpectrogram(num_mel_bins=40, sampling_rate=16000, sequence_stride=160,
                                fft_length=512)
    return np.concatenate([mel(waves[i:i + 256]).numpy() for i in range(0, len(waves), 256)])[..., None]


def log_mel_cnn(data, budget, seed):
    """Batch-normalised log-mel CNN with time and frequency masking, trained on train+val."""
    import keras
    import tensorflow as tf
    from keras import layers

    keras.utils.set_random_seed(seed)
    started = time.time()
    (x, y), (xv, yv), (xt, yt) = load_clips(data)
    train_x, train_y, test_x = log_mel(np.concatenate([x, xv])), np.concatenate([y, yv]), log_mel(xt)
    classes = int(train_y.max()) + 1

    def mask(spectrogram, label):
        for axis, widest in ((0, 8), (1, spectrogram.shape[1] // 8)):
            size = tf.shape(spectrogram)[axis]
            width = tf.random.uniform([], 0, widest + 1, tf.int32)
            start = tf.random.uniform([], 0, size - width + 1, tf.int32)
            keep = tf.logical_or(tf.range(size) < start, tf.range(size) >= start + width)
            shape = [-1, 1, 1] if axis == 0 else [1, -1, 1]
            spectrogram = spectrogram * tf.reshape(tf.cast(keep, spectrogram.dtype), shape)
        return spectrogram, label

    normalise = layers.Normalization()
    normalise.adapt(train_x)
    inputs = keras.Input(train_x.shape[1:])
    t = normalise(inputs)
    for filters in (32, 64, 128, 128):
        t = layers.Conv2D(filters, 3, padding="same", use_bias=False)(t)
        t = layers.MaxPooling2D()(layers.ReLU()(layers.BatchNormalization(momentum=0.9)(t)))
    t = layers.Dropout(0.3)(layers.GlobalAveragePooling2D()(t))
    model = keras.Model(inputs, layers.Dense(classes, activation="softmax")(t))
    model.compile(keras.optimizers.AdamW(1e-3, weight_decay=1e-3),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    batches = (tf.data.Dataset.from_tensor_slices((train_x, train_y)).shuffle(len(train_x), seed=seed)
               .map(mask).batch(64).prefetch(2))
    schedule = warmup_cosine(peak=3e-3, steps_per_epoch=-(-len(train_x) // 64))
    model.fit(batches, epochs=1, verbose=0, callbacks=[schedule])
    schedule.epochs = max(1, int((0.85 * budget - (time.time() - started)) / (time.time() - started)) + 1)
    if schedule.epochs > 1:
        model.fit(batches, initial_epoch=1, epochs=schedule.epochs, verbose=0, callbacks=[schedule])
    predicted = model.predict(test_x, batch_size=256, verbose=0).argmax(-1)
    return yt, predicted, {"epochs": schedule.epochs}


def warmup_cosine(peak, steps_per_epoch):
    """A callback: one epoch of linear warm-up to `peak`, then cosine decay to its `epochs`."""
    import keras

    class Schedule(keras.callbacks.Callback):
        epochs = 1

        def on_train_batch_begin(self, batch, logs=None):
            step = int(self.model.optimizer.iterations.numpy())
            if step < steps_per_epoch:
                rate = peak * (step + 1) / steps_per_epoch
            else:
                total = max((self.epochs - 1) * steps_per_epoch, 1)
                rate = peak * 0.5 * (1 + np.cos(np.pi * min(step - steps_per_epoch, total) / total))
            self.model.optimizer.learning_rate.assign(rate)

    return Schedule()


REFERENCES = {
    "image": {"simple": image_reference(image_glyphs.simple_convnet),
              "expert": image_reference(image_glyphs.expert_recipe)},
    "text": {"simple": linear_text(word_tfidf, (1.0, 2.0, 4.0, 8.0, 16.0)),
             "expert": linear_text(word_and_char_tfidf, (1.0, 4.0, 16.0))},
    "audio": {"simple": tutorial_audio_cnn, "expert": log_mel_cnn},
}
