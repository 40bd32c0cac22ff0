"""`automl evaluate`, `Predictor.evaluate` and `predict` hold a serving batch of decoded
examples at a time, and score as the whole data at once does."""

import csv
import json
import os
import weakref

import numpy as np
import pytest

from conftest import invoke

BATCH = 4


@pytest.fixture(scope="module")
def small_run(image_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("streaming") / "run"
    result = invoke("search", "--task", "image", "--data", image_folder, "--out", out,
                    "--max-trials", 1, "--epochs", 1)
    assert result.exit_code == 0, result.output
    return str(out)


class Watched:
    """Counts the decoded examples of `exported` alive at once, and the examples of each
    call to its SavedModel."""

    def __init__(self, exported):
        self.decoded, self.peak, self.served = [], 0, []
        decode, serve = exported.task.decode_file, exported._serve

        def decode_file(path):
            example = decode(path)
            self.decoded.append(weakref.ref(example))
            self.peak = max(self.peak, sum(ref() is not None for ref in self.decoded))
            return example

        def counted(inputs):
            self.served.append(int(inputs.shape[0]))
            return serve(inputs=inputs)

        exported.task.decode_file, exported._serve = decode_file, counted


def _all_at_once(exported, folder):
    """Scores of every example of the class folder tree `folder`, decoded together."""
    from automl.data import sources

    files = [f for entries in sources.list_folder(folder, (".png",)).values() for f in entries]
    return exported.score([exported.task.decode_file(f) for f, _ in files],
                          [label for _, label in files])


def _rounded(value):
    """`value` with its floats rounded (a batch's size changes the last float bits)."""
    return json.loads(json.dumps(value), parse_float=lambda text: round(float(text), 4))


def _manifest(folder, path):
    """A CSV manifest of the class folder tree `folder`, written at `path`."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label"])
        for label in sorted(os.listdir(folder)):
            for name in sorted(os.listdir(os.path.join(folder, label))):
                writer.writerow([os.path.relpath(os.path.join(folder, label, name),
                                                 os.path.dirname(path)), label])
    return str(path)


def test_evaluate_decodes_a_batch_at_a_time_and_scores_as_the_whole_data(small_run,
                                                                          image_folder, tmp_path):
    from automl.export.predictor import ExportedModel

    test = os.path.join(image_folder, "test")
    expected = _all_at_once(ExportedModel(small_run), test)
    for source in (test, _manifest(test, tmp_path / "test.csv")):
        exported = ExportedModel(small_run, batch_size=BATCH)
        watched = Watched(exported)
        scores = exported.evaluate(source, options={"allow_outside_paths": True})
        assert _rounded(scores) == _rounded(expected) and scores["examples"] == 12
        assert len(watched.decoded) == 12 and 0 < watched.peak <= BATCH
        assert sum(watched.served) == 12 and max(watched.served) <= BATCH


def test_the_cli_evaluates_in_bounded_batches(small_run, image_folder, monkeypatch):
    from automl.export import predictor

    peaks = []
    made = predictor.ExportedModel.__init__

    def watched_init(self, *args, **kwargs):
        made(self, *args, **kwargs)
        self.batch_size = BATCH
        peaks.append(Watched(self))

    monkeypatch.setattr(predictor.ExportedModel, "__init__", watched_init)
    result = invoke("evaluate", small_run, os.path.join(image_folder, "test"), "--json")
    assert result.exit_code == 0, result.output
    watched, = peaks
    assert len(watched.decoded) == 12 and 0 < watched.peak <= BATCH


def test_the_python_api_predicts_and_evaluates_in_bounded_batches(small_run, image_folder):
    import automl

    test = os.path.join(image_folder, "test")
    whole = automl.load(small_run)
    expected = whole.predict(test)
    predictor = automl.load(small_run)
    predictor._exported.batch_size = BATCH
    watched = Watched(predictor._exported)
    got = predictor.predict(test)
    np.testing.assert_allclose(got.probabilities, expected.probabilities, rtol=1e-5, atol=1e-6)
    assert list(got.labels) == list(expected.labels) and len(got.labels) == 12
    assert len(watched.decoded) == 12 and 0 < watched.peak <= BATCH

    files = predictor.files(test)
    labels = [os.path.basename(os.path.dirname(f)) for f in files]
    watched.decoded.clear()
    watched.peak = 0
    assert _rounded(predictor.evaluate((files, labels))) == \
        _rounded(whole.evaluate((files, labels)))
    assert len(watched.decoded) == 12 and 0 < watched.peak <= BATCH

    task, calls = predictor._exported.task, []
    decode_arrays = task.decode_arrays

    def counted(values, options):
        calls.append(len(values))
        return decode_arrays(values, options)

    task.decode_arrays = counted
    images = np.stack([whole._exported.task.decode_file(f) for f in files])
    np.testing.assert_allclose(predictor.predict_proba(images), expected.probabilities,
                               rtol=1e-5, atol=1e-6)
    assert sum(calls) == 12 and max(calls) <= BATCH
