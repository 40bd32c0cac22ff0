"""Audio from a numpy array of waveforms at a known sample rate; export the model.

    python examples/tones_from_arrays.py
"""

import numpy as np

import automl

RATE = 16000
PITCHES = {"low": 220.0, "mid": 660.0, "high": 1760.0}


def tones(per_class, seed=0, seconds=0.5):
    """`[N, samples]` float waveforms in [-1, 1] and their labels."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(RATE * seconds)) / RATE
    waves, labels = [], []
    for label, pitch in PITCHES.items():
        for _ in range(per_class):
            wave = 0.5 * np.sin(2 * np.pi * pitch * rng.uniform(0.97, 1.03) * t)
            waves.append(wave + 0.05 * rng.standard_normal(len(t)))
            labels.append(label)
    return np.asarray(waves, dtype="float32"), np.asarray(labels)


def main(per_class=40, export_to="tones-model", **settings):
    x, y = tones(per_class)
    settings.setdefault("time_budget", 60)
    model = automl.AudioClassifier(sample_rate=RATE, **settings).fit(x, y)
    x_new, y_new = tones(5, seed=1)
    print("accuracy on new tones:", model.evaluate(x_new, y_new)["accuracy"])
    print(model.predict(x_new[:3]), "truth:", list(y_new[:3]))
    print("SavedModel and model card in", model.export(export_to))
    return model


if __name__ == "__main__":
    main()
