"""The audio task: WAV formats, resampling, every family, waveform serving."""

import json
import os

import numpy as np
import pytest
import soundfile
import tensorflow_datasets as tfds

from conftest import assert_one_line_error, invoke

RATE = 8000
PITCHES = {"high": 1760.0, "low": 220.0, "mid": 660.0}


def tone(pitch, rate=RATE, seconds=0.25, seed=0):
    rng = np.random.RandomState(seed)
    t = np.arange(int(rate * seconds)) / rate
    wave = 0.5 * np.sin(2 * np.pi * pitch * (1 + 0.02 * rng.randn()) * t + rng.uniform(0, 6))
    return (wave + 0.02 * rng.randn(len(t))).astype("float32")


def write_clips(root, per_class=(8, 3, 3)):
    seed = 0
    for split, count in zip(("train", "val", "test"), per_class):
        for label, pitch in PITCHES.items():
            folder = os.path.join(root, split, label)
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                seed += 1
                soundfile.write(os.path.join(folder, f"{i}.wav"), tone(pitch, seed=seed), RATE,
                                subtype=("PCM_16", "PCM_24", "FLOAT", "PCM_32")[i % 4])
    return str(root)


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    root = write_clips(tmp_path_factory.mktemp("clips"))
    stereo = np.stack([tone(220.0, seed=99), tone(220.0, seed=98)], axis=1)
    soundfile.write(os.path.join(root, "train", "low", "stereo.wav"), stereo, RATE)
    soundfile.write(os.path.join(root, "train", "high", "fast.wav"),
                    tone(1760.0, rate=16000, seed=97), 16000)
    return root


@pytest.fixture(scope="module")
def audio_run(clip_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "audio"
    result = invoke("search", "--task", "audio", "--data", clip_folder, "--out", out,
                    "--max-trials", 1, "--epochs", 1)
    assert result.exit_code == 0, result.output
    return str(out)


def test_card_records_rate_duration_and_waveform_input(audio_run):
    card = json.load(open(os.path.join(audio_run, "model", "model_card.json")))
    assert card["classes"] == ["high", "low", "mid"]
    assert card["data"]["sample_rate"] == RATE
    assert card["data"]["samples"] == 2000 and card["data"]["duration"] == 0.25
    assert card["input"] == {"name": "inputs", "shape": [None, 2000], "dtype": "float32"}
    assert card["hyperparameters"]["audio/family"] == "mel_cnn"


def test_saved_model_serves_waveforms_like_the_keras_model(audio_run, tensorflow_alone):
    code = f"""
import sys, numpy as np, tensorflow as tf, keras
run = {audio_run!r}
rng = np.random.RandomState(0)
x = np.clip(rng.randn(4, 2000) * 0.3, -1, 1).astype("float32")
serve = tf.saved_model.load(run + "/model/saved_model").signatures["serving_default"]
out = serve(inputs=tf.constant(x))
model = keras.saving.load_model(run + "/model/model.keras")
np.testing.assert_allclose(out["probabilities"].numpy(), model.predict(x, verbose=0), atol=1e-4)
assert out["label"].shape == (4,)
assert not any(name.startswith("automl") for name in sys.modules)
print("ok")
"""
    result = tensorflow_alone(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


def test_predict_a_clip_at_another_rate(audio_run, tmp_path):
    path = tmp_path / "clip.flac"
    soundfile.write(path, tone(220.0, rate=22050, seed=5), 22050)
    result = invoke("predict", audio_run, path, "--top-k", 2)
    assert result.exit_code == 0, result.output
    path_out, ranked = result.output.strip().split("\t")
    assert path_out == str(path) and len(ranked.split()) == 4


def test_mixed_rates_and_stereo_are_resampled_and_mixed_down(clip_folder):
    from automl.settings import from_mapping
    from automl_plugins.audio import AudioTask

    task = AudioTask()
    dataset = task.load(from_mapping({"task": "audio", "data": clip_folder, "out": "unused"}))
    assert dataset.meta["sample_rate"] == RATE
    assert dataset.train.head(4).shape[1:] == (2000,)
    # 16 kHz -> 8 kHz: 220 Hz stays, 5 kHz (above the new Nyquist) is filtered, not aliased to 3 kHz
    t = np.arange(4000) / 16000
    mixture = (0.4 * np.sin(2 * np.pi * 220 * t) + 0.4 * np.sin(2 * np.pi * 5000 * t)).astype("float32")
    clip = task.prepare([(mixture, 16000)], dataset.meta)[0]
    spectrum = np.abs(np.fft.rfft(clip))
    frequencies = np.fft.rfftfreq(len(clip), 1 / RATE)
    assert abs(frequencies[np.argmax(spectrum)] - 220) < 10
    alias = spectrum[np.abs(frequencies - 3000) < 20].max()
    assert alias < 0.05 * spectrum.max(), alias
    stereo = task.decode_file(os.path.join(clip_folder, "train", "low", "stereo.wav"))
    assert stereo[0].ndim == 1 and stereo[1] == RATE


def test_a_corrupt_wav_is_named(tmp_path):
    root = write_clips(tmp_path / "data", per_class=(3, 1, 1))
    with open(os.path.join(root, "train", "mid", "broken.wav"), "wb") as handle:
        handle.write(b"RIFF\x10\x00\x00\x00WAVEfmt garbage")
    result = invoke("search", "--task", "audio", "--data", root, "--out", tmp_path / "run")
    assert_one_line_error(result, "broken.wav")
    assert not (tmp_path / "run").exists()


def family_model(family):
    """`(task, untrained model of `family`, clips x, labels y, meta)` on three tones."""
    import keras_tuner as kt

    from automl.runtime import env
    from automl.data.sources import Dataset, Split
    from automl.tuning.hypermodel import TaskHyperModel
    from automl_plugins.audio import AudioTask

    _, keras = env.import_tensorflow()
    x = np.stack([tone(p, seed=i) for i, p in enumerate(PITCHES.values())] * 2)
    y = np.asarray([0, 1, 2] * 2)
    meta = {"sample_rate": RATE, "samples": 2000, "duration": 0.25}
    dataset = Dataset(sorted(PITCHES), Split(x, y), Split(x, y), Split(x, y), "memory", meta)
    hp = kt.HyperParameters()
    hp.values["audio/family"] = family
    task = AudioTask()
    return task, TaskHyperModel(task, dataset, keras).build(hp), x, y, meta


@pytest.mark.parametrize("family", ["mel_cnn", "stft_cnn", "wave_cnn"])
def test_each_family_builds_and_trains(family):
    import keras

    _, model, x, y, _ = family_model(family)
    history = model.fit(x, keras.utils.to_categorical(y, 3), epochs=1, batch_size=3, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(x[:2], verbose=0).shape == (2, 3)


def test_augmentation_changes_training_batches_only_in_shape_preserving_ways():
    import keras_tuner as kt
    import tensorflow as tf

    from automl_plugins.audio import AudioTask

    x = tf.constant(np.stack([tone(440.0, seed=s) for s in range(4)]))
    task = AudioTask()
    for mode in ("none", "shift_noise", "masking"):
        hp = kt.HyperParameters()
        hp.values["audio/augment"] = mode
        out = task.augment(hp, x)
        assert out.shape == x.shape
        assert float(tf.reduce_max(tf.abs(out))) <= 1.0 + 1e-5
        changed = not np.allclose(out.numpy(), x.numpy())
        assert changed == (mode != "none")


def test_speech_commands_recipe_runs_under_mock_data(tmp_path):
    recipe = os.path.join(os.path.dirname(__file__), "..", "recipes", "speech_commands.yaml")
    with tfds.testing.mock_data(num_examples=12):
        result = invoke("run", recipe, "--set", f"out={tmp_path / 'run'}", "--set", "max_trials=1",
                        "--set", "epochs=1", "--set", "duration=0.1")
    assert result.exit_code == 0, result.output
    card = json.load(open(tmp_path / "run" / "model" / "model_card.json"))
    assert card["data"]["sample_rate"] == 16000 and card["input"]["shape"] == [None, 1600]


def test_first_trial_records_the_first_known_good_values(audio_run):
    """Warm-start values apply also where a hyperparameter is registered outside `build`."""
    from automl_plugins.audio import AudioTask

    trial = json.load(open(os.path.join(audio_run, "search", "trial_0", "trial.json")))
    values = trial["hyperparameters"]["values"]
    first = AudioTask().known_good(None)[0]
    assert {k: values[k] for k in first} == first
    assert values["audio/augment"] == "shift_noise"


def test_a_truncated_wav_is_refused_by_name(tmp_path):

    root = write_clips(tmp_path / "clips")
    whole = open(os.path.join(root, "train", "low", "0.wav"), "rb").read()
    with open(os.path.join(root, "train", "low", "cut.wav"), "wb") as handle:
        handle.write(whole[:100])
    result = invoke("search", "--task", "audio", "--data", root, "--out", tmp_path / "run",
                    "--max-trials", 1, "--epochs", 1)
    assert_one_line_error(result, "cut.wav", "truncated WAV")
    assert not (tmp_path / "run").exists()
