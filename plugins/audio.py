"""Audio classification: waveforms in, spectrogram front end inside the model."""

import collections
import math
import os

import numpy as np

import automl
from automl_plugins import portfolio

DEFAULT_RATE = 16000


def resample(waveform, rate, target):
    """Polyphase resampling from `rate` to `target` Hz (anti-aliased)."""
    if rate == target:
        return waveform
    from scipy.signal import resample_poly

    divisor = math.gcd(int(rate), int(target))
    return resample_poly(waveform, target // divisor, rate // divisor).astype("float32")


def fit_length(waveform, samples):
    """Crop or zero-pad a clip to exactly `samples` samples."""
    if len(waveform) >= samples:
        return waveform[:samples]
    return np.pad(waveform, (0, samples - len(waveform)))


class AudioTask(automl.Task, automl.KnownGood, automl.Augmentation, automl.OnDevice):
    """Float waveforms in [-1, 1] at one sample rate in, class probabilities out."""

    name = "audio"
    description = "Audio classification: log-mel and STFT CNNs and raw-waveform 1-D CNNs."
    default_epochs = 20
    default_batch_size = 32
    patience = 4
    ensemble_size = 3
    file_extensions = (".wav", ".flac", ".ogg")
    problem_types = ("classification", "multilabel", "regression")
    tfds_feature = "audio"
    options = (
        automl.Option("sample_rate", int, None,
                      "Target sample rate in Hz.  [default: the training clips' most common]",
                      minimum=1000),
        automl.Option("duration", float, None,
                      "Clip length in seconds.  [default: 95th percentile of training clips]",
                      minimum=0.01),
    ) + automl.MANIFEST_OPTIONS

    # In an int8 LiteRT model the spectrogram stays float: its power spans a range
    # that 8 bits cannot hold before the logarithm.
    device_float_layers = ("log_mel", "log_stft")

    def __init__(self):
        self._statistics = {}

    # Data --------------------------------------------------------------------

    def read_source(self, settings):
        if settings.data.startswith("tfds:"):
            import tensorflow_datasets as tfds

            builder = tfds.builder(settings.data[len("tfds:"):], data_dir=settings.data_dir)
            rate = int(getattr(builder.info.features["audio"], "sample_rate", None) or DEFAULT_RATE)
            convert = lambda value: (_to_float(value), rate)  # noqa: E731
            return automl.load_tfds(settings.data[len("tfds:"):], "audio", settings.data_dir,
                                    settings.download, convert)
        return super().read_source(settings)

    def decode_file(self, path):
        import soundfile

        if path.lower().endswith(".wav"):
            _check_wav_length(path)
        waveform, rate = soundfile.read(path, dtype="float32", always_2d=True)
        if not len(waveform):
            raise automl.AutomlError(f"cannot decode {path}: the clip is empty")
        return waveform.mean(axis=1), int(rate)

    def decode_arrays(self, values, options):
        """Clips from an `[N, samples]` array or a list of 1-D arrays, at `sample_rate` Hz.

        Floats are taken as they are ([-1, 1]); integer samples are scaled by their
        type's range (int16 by 32768).
        """
        rate = options["sample_rate"]
        if not rate:
            raise automl.AutomlError("audio arrays need sample_rate= (their sample rate in Hz)")
        clips = []
        for value in values:
            clip = np.asarray(value)
            if clip.ndim != 1:
                raise automl.AutomlError(f"audio clips must be 1-D arrays of samples, got shape "
                                         f"{tuple(clip.shape)}")
            clips.append((_to_float(clip), int(rate)))
        return clips

    def describe(self, train_examples, settings):
        rates = collections.Counter(rate for _, rate in train_examples)
        rate = settings.options["sample_rate"] or rates.most_common(1)[0][0]
        if settings.options["duration"]:
            samples = int(round(settings.options["duration"] * rate))
        else:
            lengths = [len(w) * rate / r for w, r in train_examples]
            samples = int(np.percentile(lengths, 95))
        return {"sample_rate": int(rate), "samples": max(samples, 256),
                "duration": round(max(samples, 256) / rate, 4)}

    def prepare(self, examples, meta):
        rate, samples = meta["sample_rate"], meta["samples"]
        stacked = np.zeros((len(examples), samples), dtype="float32")
        for i, example in enumerate(examples):
            waveform, source_rate = example if isinstance(example, tuple) else (example, rate)
            stacked[i] = fit_length(resample(np.asarray(waveform, "float32"), source_rate, rate),
                                    samples)
        return np.clip(stacked, -1.0, 1.0)

    def input_spec(self, meta):
        return (meta["samples"],), "float32"

    # Search space --------------------------------------------------------------

    def known_good(self, dataset):
        """The portfolio's configurations (`automl_plugins.portfolio`)."""
        train = len(dataset.train) if dataset else 0
        return portfolio.configurations("audio", train)

    def build(self, hp, inputs, dataset):
        from keras import layers

        meta = dataset.meta
        family = hp.Choice("audio/family", ["mel_cnn", "stft_cnn", "wave_cnn"], default="mel_cnn")
        if family == "wave_cnn":
            return self._wave_cnn(hp, inputs, meta)
        with hp.conditional_scope("audio/family", ["mel_cnn", "stft_cnn"]):
            frame_ms = hp.Choice("audio/frame_ms", [25, 32, 64], default=25)
            step_ms = hp.Choice("audio/step_ms", [10, 16], default=10)
        rate = meta["sample_rate"]
        frame = int(rate * frame_ms / 1000)
        step = int(rate * step_ms / 1000)
        fft = 2 ** math.ceil(math.log2(frame))
        if family == "mel_cnn":
            with hp.conditional_scope("audio/family", ["mel_cnn"]):
                bins = hp.Choice("audio/mel_bins", [40, 64, 80], default=40)
            front = layers.MelSpectrogram(
                fft_length=fft, sequence_stride=step, sequence_length=frame,
                sampling_rate=rate, num_mel_bins=bins, name="log_mel")
            x = front(inputs)
        else:
            front = layers.STFTSpectrogram(mode="log", frame_length=frame, frame_step=step,
                                           fft_length=fft, name="log_stft")
            x = front(layers.Reshape((meta["samples"], 1), name="as_channel")(inputs))
        x = layers.Reshape((*x.shape[1:], 1), name="as_image")(x)
        mean, variance = self._front_end_statistics(front, dataset, family, frame, step, fft)
        x = layers.Normalization(mean=mean, variance=variance, axis=None, name="normalize")(x)
        return self._cnn_2d(hp, x)

    def _front_end_statistics(self, front, dataset, *key):
        """Mean and variance of the front end's output over (a sample of) train clips."""
        key = (id(dataset), *key, getattr(front, "num_mel_bins", None))
        if key not in self._statistics:
            clips = dataset.train.head(512)
            if front.name == "log_stft":
                clips = clips[..., None]
            values = np.concatenate([np.asarray(front(clips[i:i + 64])).ravel()
                                     for i in range(0, len(clips), 64)])
            self._statistics[key] = (float(values.mean()), float(values.var()) + 1e-6)
        return self._statistics[key]

    def _cnn_2d(self, hp, x):
        from keras import layers

        stages = hp.Int("audio/stages", 2, 4, default=4)
        filters = hp.Choice("audio/filters", [16, 32, 48], default=32)
        kernel = hp.Choice("audio/kernel_size", [3, 5], default=3)
        pooling = hp.Choice("audio/pooling", ["max", "avg"], default="max")
        pool = layers.MaxPooling2D if pooling == "max" else layers.AveragePooling2D
        for stage in range(stages):
            width = min(filters * 2**stage, 128)
            x = layers.Conv2D(width, kernel, padding="same", use_bias=False,
                              name=f"stage{stage + 1}_conv")(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"stage{stage + 1}_bn")(x)
            x = layers.ReLU(name=f"stage{stage + 1}_relu")(x)
            if x.shape[1] >= 4 and x.shape[2] >= 4:
                x = pool(2, name=f"stage{stage + 1}_pool")(x)
        return layers.GlobalAveragePooling2D(name="global_pool")(x)

    def _wave_cnn(self, hp, inputs, meta):
        from keras import layers

        with hp.conditional_scope("audio/family", ["wave_cnn"]):
            blocks = hp.Int("audio/wave_blocks", 3, 5, default=4)
        filters = hp.Choice("audio/filters", [16, 32, 48], default=32)
        x = layers.Reshape((meta["samples"], 1), name="as_channel")(inputs)
        x = layers.Conv1D(filters, 80, strides=4, padding="same", use_bias=False, name="wave_stem")(x)
        x = layers.BatchNormalization(momentum=0.9, name="wave_stem_bn")(x)
        x = layers.ReLU(name="wave_stem_relu")(x)
        for block in range(blocks):
            x = layers.MaxPooling1D(4 if x.shape[1] >= 64 else 1, name=f"wave{block + 1}_pool")(x)
            x = layers.Conv1D(min(filters * 2**block, 128), 3, padding="same", use_bias=False,
                              name=f"wave{block + 1}_conv")(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"wave{block + 1}_bn")(x)
            x = layers.ReLU(name=f"wave{block + 1}_relu")(x)
        return layers.GlobalAveragePooling1D(name="global_pool")(x)

    # Training-only augmentation (tf.data) --------------------------------------

    def augment(self, hp, x):
        mode = hp.Choice("audio/augment", ["none", "shift_noise", "masking"], default="none")
        if mode == "none":
            return x
        x = _time_shift(x, 0.1)
        x = _add_noise(x)
        if mode == "masking":
            x = _time_mask(x, 0.1)
            x = _frequency_mask(x, 0.1)
        return x


def _to_float(value):
    value = np.asarray(value)
    if value.dtype.kind in "iu":
        return (value.astype("float32") / float(np.iinfo(value.dtype).max + 1)).ravel()
    return value.astype("float32").ravel()


def _time_shift(x, fraction):
    import tensorflow as tf

    samples = tf.shape(x)[1]
    limit = tf.cast(tf.cast(samples, tf.float32) * fraction, tf.int32)
    shift = tf.random.uniform([], -limit, limit + 1, dtype=tf.int32)
    return tf.roll(x, shift, axis=1)


def _add_noise(x):
    import tensorflow as tf

    level = tf.random.uniform([tf.shape(x)[0], 1], 0.0, 0.01)
    return tf.clip_by_value(x + level * tf.random.normal(tf.shape(x)), -1.0, 1.0)


def _random_band(length, fraction):
    """A boolean [length] mask that is False on one random band of up to `fraction`."""
    import tensorflow as tf

    width = tf.random.uniform([], 0, tf.maximum(tf.cast(tf.cast(length, tf.float32) * fraction,
                                                        tf.int32), 1), dtype=tf.int32)
    start = tf.random.uniform([], 0, tf.maximum(length - width, 1), dtype=tf.int32)
    index = tf.range(length)
    return tf.logical_or(index < start, index >= start + width)


def _time_mask(x, fraction):
    import tensorflow as tf

    keep = _random_band(tf.shape(x)[1], fraction)
    return x * tf.cast(keep, x.dtype)[None, :]


def _frequency_mask(x, fraction):
    """Remove one random band of frequencies from every clip of the batch."""
    import tensorflow as tf

    samples = tf.shape(x)[1]
    spectrum = tf.signal.rfft(x)
    keep = _random_band(tf.shape(spectrum)[1], fraction)
    spectrum = spectrum * tf.cast(keep, spectrum.dtype)[None, :]
    return tf.signal.irfft(spectrum, fft_length=[samples])


def _check_wav_length(path):
    """Refuse a WAV file shorter than its header says (libsndfile reads what is there)."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] not in (b"RIFF", b"RIFX") or header[8:12] != b"WAVE":
            return  # not plain RIFF WAVE: left to libsndfile
        order = "little" if header[:4] == b"RIFF" else "big"
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                raise automl.AutomlError(f"cannot decode {path}: truncated WAV file (no data)")
            length = int.from_bytes(chunk[4:], order)
            if chunk[:4] == b"data":
                streamed = length in (0, 0xFFFFFFFF)  # size left open by a streaming writer
                if not streamed and handle.tell() + length > size:
                    raise automl.AutomlError(
                        f"cannot decode {path}: truncated WAV file ({size} bytes, the header "
                        f"promises {handle.tell() + length})")
                return
            handle.seek(length + (length & 1), 1)

