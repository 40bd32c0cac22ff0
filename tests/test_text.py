"""The text task: CSV and .txt data, every family, string serving, bad CSVs."""

import csv
import json
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

from conftest import assert_one_line_error, invoke

KEYWORDS = {"cooking": ["recipe", "oven", "flour", "simmer"],
            "football": ["goal", "striker", "penalty", "league"],
            "weather": ["rain", "forecast", "storm", "sunny"]}
FILLER = ["the", "a", "today", "really", "quite", "we", "über", "naïve", "日本", "and"]


def synthetic_texts(count, seed):
    rng = np.random.RandomState(seed)
    rows = []
    for i in range(count):
        label = sorted(KEYWORDS)[i % 3]
        words = list(rng.choice(FILLER, size=rng.randint(2, 8)))
        words += list(rng.choice(KEYWORDS[label], size=2))
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return rows


def write_csv(path, rows, header=("text", "label")):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_search_learns_keywords_and_records_the_text_contract(keyword_text_run):
    card = json.load(open(os.path.join(keyword_text_run, "model", "model_card.json")))
    assert card["classes"] == ["cooking", "football", "weather"]
    assert card["input"] == {"name": "inputs", "shape": [None], "dtype": "string"}
    assert card["hyperparameters"]["text/family"] == "bag"
    assert card["metrics"]["test"]["accuracy"] >= 0.8


def test_saved_models_of_a_model_and_an_ensemble_serve_raw_strings_like_keras(
        keyword_text_run, text_ensemble_run, tensorflow_alone):
    """Keras and TensorFlow alone check both exports."""
    code = f"""
import csv, json, sys, numpy as np, tensorflow as tf, keras
run = {keyword_text_run!r}
texts = ["the oven and flour", "a late penalty goal", "storm and rain today", "", "日本 über 😀"]
serve = tf.saved_model.load(run + "/model/saved_model").signatures["serving_default"]
spec = serve.structured_input_signature[1]["inputs"]
assert spec.shape.as_list() == [None] and spec.dtype == tf.string, spec
out = serve(inputs=tf.constant(texts))
model = keras.saving.load_model(run + "/model/model.keras")
expected = model.predict(tf.constant(texts), verbose=0)
np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5)
classes = ["cooking", "football", "weather"]
labels = [s.decode() for s in out["label"].numpy()]
assert labels == [classes[i] for i in expected.argmax(-1)], labels

run, data = {text_ensemble_run.run!r}, {text_ensemble_run.data!r}
rows = list(csv.DictReader(open(data + "/test.csv")))
texts = tf.constant([r["text"] for r in rows])
card = json.load(open(run + "/model/model_card.json"))
serve = tf.saved_model.load(run + "/model/saved_model").signatures["serving_default"]
served = [s.decode() for s in serve(inputs=texts)["label"].numpy()]
model = keras.saving.load_model(run + "/model/model.keras")
keras_labels = [card["classes"][i] for i in model.predict(texts, verbose=0).argmax(-1)]
assert served == keras_labels, (served, keras_labels)
accuracy = np.mean([s == r["label"] for s, r in zip(served, rows)])
assert abs(accuracy - card["metrics"]["test"]["accuracy"]) < 1e-6, accuracy
assert not any(name.startswith("automl") for name in sys.modules)
print("ok")
"""
    result = tensorflow_alone(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


def test_a_text_ensemble_exports_one_model_of_its_members(text_ensemble_run):
    run = text_ensemble_run.run
    card = json.load(open(os.path.join(run, "model", "model_card.json")))
    members = card["search"]["ensemble"]
    assert len(members) > 1, card["search"]
    trials = csv.DictReader(open(os.path.join(run, "report", "trials.csv")))
    rows = {r["trial_id"]: r for r in trials}
    assert card["metrics"]["val"]["ensemble_accuracy"] >= float(
        rows[members[0]]["val_accuracy"]) - 1e-6


def test_predict_text_and_files(keyword_text_run, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("rain storm forecast sunny rain storm", encoding="utf-8")
    result = invoke("predict", keyword_text_run, note, "--text", "goal striker penalty league goal")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split("\t")[0] == str(note) and lines[0].split("\t")[1].startswith("weather")
    assert lines[1].split("\t")[0] == "goal striker penalty league goal"
    assert lines[1].split("\t")[1].startswith("football")


def test_folders_of_txt_files_per_class(tmp_path):
    for i, (text, label) in enumerate(synthetic_texts(36, 3)):
        folder = tmp_path / "data" / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.txt").write_text(text, encoding="utf-8")
    from automl.settings import from_mapping
    from automl_plugins.text import TextTask

    dataset = TextTask().load(from_mapping({"task": "text", "data": str(tmp_path / "data"),
                                            "out": "unused"}))
    assert dataset.classes == ["cooking", "football", "weather"]
    assert len(dataset.train) + len(dataset.val) + len(dataset.test) == 36
    texts = dataset.train.head(50)
    assert texts.dtype == object and all(isinstance(t, str) for t in texts)


def _family_model(family, values=None, with_hypermodel=False):
    """A text model of `family` built by the search's hypermodel on synthetic texts."""
    import keras_tuner as kt

    from automl.runtime import env
    from automl.data.sources import Dataset, Split
    from automl.tuning.hypermodel import TaskHyperModel
    from automl_plugins.text import TextTask

    tf, keras = env.import_tensorflow()
    rows = synthetic_texts(12, 4)
    x = np.asarray([t for t, _ in rows], dtype=object)
    y = np.asarray([sorted(KEYWORDS).index(label) for _, label in rows])
    task = TextTask()
    dataset = Dataset(["cooking", "football", "weather"], Split(x, y), Split(x, y), Split(x, y),
                      source="memory", meta=task.describe(list(x), None))
    hp = kt.HyperParameters()
    hp.values.update({"text/family": family, **(values or {})})
    hypermodel = TaskHyperModel(task, dataset, keras)
    model = hypermodel.build(hp)
    return (model, hp, x, y, hypermodel) if with_hypermodel else (model, hp, x, y)


@pytest.mark.parametrize("family", ["bag", "embedding", "cnn", "rnn", "transformer"])
def test_each_family_builds_and_trains(family):
    from automl.runtime import env

    tf, keras = env.import_tensorflow()
    model, hp, x, y = _family_model(family)
    assert hp.values["text/family"] == family
    history = model.fit(tf.constant(list(x)), keras.utils.to_categorical(y, 3), epochs=1,
                        batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(tf.constant(["", "goal"]), verbose=0).shape == (2, 3)


def test_a_character_convolution_reads_each_text_as_a_padded_sequence_of_characters():
    from automl.runtime import env

    tf, keras = env.import_tensorflow()
    model, hp, x, y = _family_model("cnn", {"text/sequence_tokens": "characters"})
    assert "text/sequence_length" not in hp.values  # set by the texts' lengths, not searched
    vectorize = model.get_layer("vectorize")
    config = vectorize.get_config()
    usual = np.percentile([len(text) for text in x], 95)
    assert (config["split"], config["ngrams"]) == ("character", None)
    assert usual <= config["output_sequence_length"] < 2 * usual
    assert model.get_layer("embedding").input_dim == vectorize.vocabulary_size() < 100
    ids = np.asarray(vectorize(tf.constant(["ab", "ba"])))
    assert ids[0, 0] == ids[1, 1] and ids[0, 1] == ids[1, 0] and not ids[:, 2:].any()
    history = model.fit(tf.constant(list(x)), keras.utils.to_categorical(y, 3), epochs=1,
                        batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_csv_missing_columns_are_named(tmp_path):
    write_csv(tmp_path / "data.csv", synthetic_texts(30, 5), header=("review", "sentiment"))
    result = invoke("search", "--task", "text", "--data", tmp_path / "data.csv", "--out", tmp_path / "run")
    assert_one_line_error(result, "no column 'text', 'label'", "columns: review, sentiment")
    assert not (tmp_path / "run").exists()


def test_evaluate_takes_the_column_names_its_error_advises(keyword_text_run, tmp_path):
    write_csv(tmp_path / "more.csv", synthetic_texts(12, 7), header=("review", "sentiment"))
    result = invoke("evaluate", keyword_text_run, tmp_path / "more.csv")
    assert_one_line_error(result, "no column 'text', 'label'", "--text-column / --label-column")
    result = invoke("evaluate", keyword_text_run, tmp_path / "more.csv", "--text-column", "review",
                    "--label-column", "sentiment", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["examples"] == 12


def test_csv_columns_can_be_named(tmp_path):
    write_csv(tmp_path / "data.csv", synthetic_texts(45, 5), header=("review", "sentiment"))
    from automl.settings import from_mapping
    from automl_plugins.text import TextTask

    settings = from_mapping({"task": "text", "data": str(tmp_path / "data.csv"), "out": "unused",
                             "text_column": "review", "label_column": "sentiment"})
    dataset = TextTask().load(settings)
    assert dataset.classes == ["cooking", "football", "weather"]


def test_csv_that_is_not_utf8_is_named(tmp_path):
    (tmp_path / "data.csv").write_bytes(b"text,label\n\xff\xfe broken,a\nfine,b\n")
    result = invoke("search", "--task", "text", "--data", tmp_path / "data.csv", "--out", tmp_path / "run")
    assert_one_line_error(result, "data.csv", "not UTF-8")


def test_csv_row_without_label(tmp_path):
    write_csv(tmp_path / "data.csv", synthetic_texts(6, 5) + [("orphan text", "")])
    result = invoke("search", "--task", "text", "--data", tmp_path / "data.csv", "--out", tmp_path / "run")
    assert_one_line_error(result, "data.csv:8 has no label")


def test_imdb_recipe_runs_under_mock_data(tmp_path):
    recipe = os.path.join(os.path.dirname(__file__), "..", "recipes", "imdb.yaml")
    with tfds.testing.mock_data(num_examples=16):
        result = invoke("run", recipe, "--set", f"out={tmp_path / 'run'}", "--set", "max_trials=1",
                        "--set", "epochs=1")
    assert result.exit_code == 0, result.output
    card = json.load(open(tmp_path / "run" / "model" / "model_card.json"))
    assert card["task"] == "text" and card["data"]["source"] == "tfds:imdb_reviews"


@pytest.mark.parametrize("ours, keras_options", [
    ({"ngrams": 2, "weighting": "multi_hot"}, {"ngrams": 2, "output_mode": "multi_hot"}),
    ({"ngrams": 2, "weighting": "tf_idf"}, {"ngrams": 2, "output_mode": "tf_idf"}),
    ({"sequence_length": 8}, {"output_mode": "int", "output_sequence_length": 8}),
    ({"tokens": "characters", "weighting": "multi_hot"},
     {"split": "character", "ngrams": (2, 3, 4, 5), "standardize": "lower",
      "output_mode": "multi_hot"}),
    ({"tokens": "characters", "sequence_length": 40},
     {"split": "character", "standardize": "lower", "output_mode": "int",
      "output_sequence_length": 40})])
def test_each_model_gets_its_own_vectorizer_equal_to_an_adapted_one(ours, keras_options):
    import tensorflow as tf
    from keras import layers

    from automl.data.sources import Dataset, Split
    from automl_plugins.text import TextTask

    rows = synthetic_texts(40, 5)
    x = np.asarray([t for t, _ in rows], dtype=object)
    y = np.zeros(len(x), dtype="int64")
    dataset = Dataset(["a", "b"], Split(x, y), Split(x, y), Split(x, y), source="memory")
    task = TextTask()
    first, second = task.vectorizer(dataset, 12, **ours), task.vectorizer(dataset, 12, **ours)
    assert first is not second
    adapted = layers.TextVectorization(max_tokens=12, **keras_options)
    adapted.adapt(tf.data.Dataset.from_tensor_slices(tf.constant(list(x))).batch(8))
    texts = tf.constant(list(x[:10]) + ["", "goal goal unseen"])
    np.testing.assert_allclose(np.asarray(first(texts)), np.asarray(adapted(texts)), atol=1e-6)


def test_naive_bayes_weights_favour_tokens_that_tell_classes_apart():
    from automl.data.sources import Dataset, Split
    from automl_plugins.text import TextTask

    x = np.asarray(["good film"] * 10 + ["bad film"] * 10, dtype=object)
    y = np.asarray([0] * 10 + [1] * 10)
    dataset = Dataset(["a", "b"], Split(x, y), Split(x, y), Split(x, y), source="memory")
    layer = TextTask().vectorizer(dataset, 10, ngrams=1, weighting="naive_bayes")
    weights = dict(zip(layer.get_vocabulary(), np.asarray(layer(["good bad film"]))[0]))
    assert weights["film"] == pytest.approx(0.0, abs=1e-6)
    assert weights["good"] == pytest.approx(np.log(11), rel=1e-4)
    assert weights["good"] == pytest.approx(weights["bad"])


def test_character_bags_lead_where_new_texts_are_words_training_never_saw():
    from automl.data.sources import Dataset, Split
    from automl_plugins import portfolio
    from automl_plugins.text import TextTask, unseen_word_share

    sentences = np.repeat(np.asarray(["the film was good", "the film was bad"] * 5, dtype=object), 2)
    words = np.asarray([f"word{i}" for i in range(20)], dtype=object)
    assert unseen_word_share(sentences) == 0.0 and unseen_word_share(words) == 1.0
    first = {}
    for name, x in (("sentences", sentences), ("words", words)):
        y = np.arange(20) % 2
        dataset = Dataset(["a", "b"], Split(x, y), None, None, source="memory")
        first[name] = [(values["text/family"], values.get("text/bag/tokens",
                                                           values.get("text/sequence_tokens")))
                       for values in TextTask().known_good(dataset)[:2]]
    assert portfolio.configurations("text", 20)[0]["text/bag/tokens"] == "words"
    assert first == {"sentences": [("bag", "words"), ("bag", "characters")],
                     "words": [("bag", "characters"), ("cnn", "characters")]}


def test_naive_bayes_bag_starts_as_the_naive_bayes_classifier():
    from automl.runtime import env

    tf, _ = env.import_tensorflow()
    model, hp, x, y = _family_model("bag")
    assert hp.values["text/bag/weighting"] == "naive_bayes" and hp.values["text/depth"] == 0
    untrained = model.predict(tf.constant(list(x)), verbose=0).argmax(axis=1)
    assert np.mean(untrained == y) >= 0.9
    assert not model.get_layer("probabilities").kernel.numpy()[0].any()  # unknown token


@pytest.mark.parametrize("values", [
    {},
    {"text/bag/weighting": "tf_idf", "text/depth": 1, "text/bag/input_dropout": 0.0},
    {"text/bag/weighting": "multi_hot", "text/bag/tokens": "characters", "head/dropout": 0.3},
])
def test_bags_train_through_a_sparse_twin_that_shares_the_model_weights(values):
    from automl.runtime import env
    from automl.tuning.space import TrainingPlan

    tf, keras = env.import_tensorflow()
    model, hp, x, y, hypermodel = _family_model("bag", values, with_hypermodel=True)
    # Character bags take 2- to 5-grams: the n-gram order is searched for words only.
    assert ("text/bag/ngrams" in hp.values) == (hp.values["text/bag/tokens"] == "words")
    trainer = hypermodel.trainer(hp, model, TrainingPlan())
    assert trainer is not model
    assert trainer.get_layer("sparse_vectorize").get_config()["sparse"]
    assert {w.path for w in trainer.trainable_weights} == {w.path for w in model.trainable_weights}
    texts = tf.constant(list(x) + ["", "unseen words only"])
    np.testing.assert_allclose(trainer.predict(texts, verbose=0), model.predict(texts, verbose=0),
                               atol=1e-5)
    before = [w.numpy().copy() for w in model.trainable_weights]
    trainer.fit(tf.constant(list(x)), keras.ops.one_hot(y, 3), epochs=2, batch_size=4, verbose=0)
    assert all(np.abs(w.numpy() - b).max() > 1e-4  # training the twin trained the model
               for w, b in zip(model.trainable_weights, before))
    np.testing.assert_allclose(trainer.predict(texts, verbose=0), model.predict(texts, verbose=0),
                               atol=1e-5)


def test_sequence_models_train_as_they_are():
    from automl.tuning.space import TrainingPlan

    model, hp, _, _, hypermodel = _family_model("embedding", with_hypermodel=True)
    assert hypermodel.trainer(hp, model, TrainingPlan()) is model


@pytest.mark.parametrize("family", ["embedding", "rnn"])
def test_sequence_models_ignore_padding(family):
    from automl.runtime import env

    tf, _ = env.import_tensorflow()
    model, hp, _, _ = _family_model(family)
    assert "text/bag/ngrams" not in hp.values and "text/width" not in hp.values
    texts = tf.constant(["goal match", "rain"])
    before = model.predict(texts, verbose=0)
    embedding = model.get_layer("embedding")
    table = embedding.embeddings.numpy()
    table[0] = 100.0  # the padding token's vector
    embedding.embeddings.assign(table)
    np.testing.assert_allclose(model.predict(texts, verbose=0), before, atol=1e-5)


def test_character_bags_of_any_ngrams_setting_share_one_adapted_vocabulary():
    from automl.data.sources import Dataset, Split
    from automl_plugins.text import TextTask

    rows = synthetic_texts(20, 5)
    x = np.asarray([t for t, _ in rows], dtype=object)
    y = np.asarray([i % 2 for i in range(len(x))])
    dataset = Dataset(["a", "b"], Split(x, y), Split(x, y), Split(x, y), source="memory")
    task = TextTask()
    layers = [task.vectorizer(dataset, 12, tokens="characters", ngrams=n, weighting="naive_bayes")
              for n in (1, 2, 3)]
    assert len({tuple(layer.get_vocabulary()) for layer in layers}) == 1
    assert len(task._cache) == 2  # one vocabulary and its naive Bayes ratios


@pytest.mark.parametrize("tokens", ["characters", "words"])
def test_vocabularies_of_texts_with_line_breaks_survive_model_keras(tokens, tmp_path):
    import keras
    import tensorflow as tf

    from automl.data.sources import Dataset, Split
    from automl_plugins.text import TextTask

    rows = synthetic_texts(30, 5)
    x = np.asarray([t.replace(" ", breaks, 1) for (t, _), breaks in
                    zip(rows, ["\n", "\r\n", "\u2028", "\x85 ", "\x0c"] * 6)], dtype=object)
    y = np.asarray([i % 2 for i in range(len(x))])
    dataset = Dataset(["a", "b"], Split(x, y), Split(x, y), Split(x, y), source="memory")
    vectorize = TextTask().vectorizer(dataset, 2000, tokens=tokens, weighting="tf_idf")
    assert all(len(token.splitlines()) == 1 for token in vectorize.get_vocabulary()[1:])
    inputs = keras.Input((), dtype="string")
    model = keras.Model(inputs, keras.layers.Dense(2)(vectorize(inputs)))
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    texts = tf.constant(list(x[:8]))
    np.testing.assert_allclose(loaded.predict(texts, verbose=0), model.predict(texts, verbose=0),
                               atol=1e-6)
