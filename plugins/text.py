"""Text classification: raw strings in, vocabulary and tokenisation inside the model."""

import csv
import os

import numpy as np

import automl
from automl.transfer import word_vectors
from automl_plugins import keras_private, portfolio
from automl_plugins.text_tokenizer import Tokenizer

SEQUENCE_LENGTHS = (32, 64, 128, 256, 512)
CHARACTER_LENGTHS = (16, 32, 64, 128, 256, 512, 1024)
VOCABULARY_SIZES = (10000, 20000, 50000)
CHARACTER_NGRAMS = (2, 3, 4, 5)
UNSEEN_WORDS = 0.5       # share of unseen words in new texts above which characters lead
UNSEEN_SAMPLE = 20000    # training texts that share is measured on


def read_csv(path, text_column, label_column):
    """`LabelledExamples` from a UTF-8 CSV file with a text and a label column (an empty
    label cell is no labels in multilabel data, refused otherwise)."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            missing = [c for c in (text_column, label_column) if c not in columns]
            if missing:
                raise automl.AutomlError(
                    f"{path} has no column {', '.join(repr(c) for c in missing)} "
                    f"(columns: {', '.join(columns) or 'none'}); "
                    "name others with --text-column / --label-column")
            texts, labels, ids = [], [], []
            name = os.path.basename(path)
            for line, row in enumerate(reader, start=2):
                texts.append(row.get(text_column) or "")
                labels.append((row.get(label_column) or "").strip())
                ids.append(f"{name}:{line}")
    except UnicodeDecodeError:
        raise automl.AutomlError(f"cannot decode {path}: not UTF-8 text") from None
    except csv.Error as error:
        raise automl.AutomlError(f"malformed CSV {path}: {error}") from None
    return automl.LabelledExamples(texts, labels, ids)


def unseen_word_share(texts):
    """The share of the words of every other text that the remaining texts never use.

    Half the texts stand in for new ones: near 0 where texts share their words
    (sentences of one language), near 1 where each text is a word of its own.
    """
    def words(half):
        return [w for text in half for w in str(text).lower().split()]

    seen = set(words(texts[0::2]))
    new = words(texts[1::2])
    return sum(w not in seen for w in new) / len(new) if new else 0.0


def _token_counts(texts):
    return np.asarray([len(text.split()) for text in texts] or [0])


class TextTask(automl.Task, automl.KnownGood, automl.CostEstimate, automl.Initialization,
               automl.TrainingTwin, automl.OnDevice):
    """Raw UTF-8 strings in, class probabilities out."""

    name = "text"
    description = "Text classification: bag of n-grams, fastText, CNN, RNN and transformer networks."
    default_epochs = 12
    default_batch_size = 32
    patience = 2
    ensemble_size = 3
    file_extensions = (".txt",)
    problem_types = ("classification", "multilabel", "regression")
    tfds_feature = ("text", "description", "sentence", "content")
    string_examples = True
    options = (
        automl.Option("text_column", str, "text", "CSV column with the text."),
        automl.Option("label_column", str, "label", "CSV column with the label."),
    )

    def __init__(self):
        self._dataset = None
        self._cache = {}
        self._word_vectors = None
        self._read_vectors = {}

    def load(self, settings):
        self._word_vectors = settings.word_vectors
        return super().load(settings)

    # Data --------------------------------------------------------------------

    def read_path(self, path, settings):
        columns = (settings.options["text_column"], settings.options["label_column"])
        if os.path.isfile(path):
            if not path.lower().endswith(".csv"):
                raise automl.AutomlError(f"expected a CSV file or a data folder, got {path}")
            return {"all": read_csv(path, *columns)}
        aliases = automl.SPLIT_ALIASES
        files = {aliases[n[:-4].lower()]: os.path.join(path, n) for n in sorted(os.listdir(path))
                 if n.lower().endswith(".csv") and n[:-4].lower() in aliases}
        if files:
            return {split: read_csv(file, *columns) for split, file in files.items()}
        return super().read_path(path, settings)

    def decode_file(self, path):
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except UnicodeDecodeError:
            raise automl.AutomlError(f"cannot decode {path}: not UTF-8 text") from None

    def decode_tfds(self, value):
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    def decode_arrays(self, values, options):
        """Texts from a list, array or Series of strings."""
        texts = []
        for value in values:
            if isinstance(value, bytes):
                value = value.decode("utf-8", errors="replace")
            if not isinstance(value, str):
                raise automl.AutomlError(f"texts must be strings, got {type(value).__name__}")
            texts.append(value)
        return texts

    def describe(self, train_examples, settings):
        counts = _token_counts(train_examples)
        return {"words_median": int(np.median(counts)),
                "words_p95": int(np.percentile(counts, 95))}

    def prepare(self, examples, meta):
        return np.asarray([str(e) for e in examples], dtype=object)

    def input_spec(self, meta):
        return (), "string"

    # On devices (LiteRT) -------------------------------------------------------

    def device_model(self, model, meta, folder):
        """Token ids in, the vectorizers described in `folder/tokenizer.json`
        (`automl_plugins.text_device`)."""
        from automl_plugins.text_device import device_model

        return device_model(model, folder)

    def device_inputs(self, prepared, meta, folder):
        """Each text's ids from the pure-Python tokenizer written beside the model."""
        tokenizer = Tokenizer.load(os.path.join(folder, "tokenizer.json"))
        return [{name: np.asarray([ids], dtype="int32")
                 for name, ids in tokenizer.encode(str(text)).items()} for text in prepared]

    # Search space --------------------------------------------------------------

    def known_good(self, dataset):
        """The portfolio's configurations (`automl_plugins.portfolio`); a bag without its
        own weighting takes the data's default one.

        Where most words of a new text are words training never saw (single words,
        names, codes: `unseen_word_share`), a model of words can only memorise, so the
        character models move ahead of the word models.
        """
        train = len(dataset.train) if dataset else 0
        configurations = portfolio.configurations("text", train)
        if dataset and self._unseen_word_share(dataset) > UNSEEN_WORDS:
            configurations.sort(key=lambda values: "characters" not in (
                values.get("text/bag/tokens"), values.get("text/sequence_tokens")))
        return [{"text/bag/weighting": _weightings(dataset)[-1], **values}
                for values in configurations]

    def _unseen_word_share(self, dataset):
        return self._derived(dataset, "unseen_word_share",
                             lambda: unseen_word_share(dataset.train.head(UNSEEN_SAMPLE)))

    def example_cost(self, hp, dataset, network):
        """Unknown: bags train through sparse twins that cost far less than their dense export."""
        return None

    def batch_size(self, hp):
        """Bags of n-grams train on large batches: a step costs about the same at any size."""
        if hp.values.get("text/family", "bag") == "bag":
            return 4 * self.default_batch_size
        return self.default_batch_size

    def sequence_lengths(self, dataset):
        """Sequence lengths on offer: up to the 95th percentile of training lengths."""
        bound = max(dataset.meta["words_p95"], 1)
        lengths = [n for n in SEQUENCE_LENGTHS if n < bound] + [
            next((n for n in SEQUENCE_LENGTHS if n >= bound), SEQUENCE_LENGTHS[-1])]
        return lengths[-3:]

    def character_length(self, dataset):
        """A character sequence's length: the 95th percentile of training texts' lengths,
        rounded up to a power of two (at most 1,024)."""
        bound = self._derived(dataset, "characters_p95", lambda: np.percentile(
            [len(str(text)) for text in dataset.train.head(UNSEEN_SAMPLE)] or [0], 95))
        return next((n for n in CHARACTER_LENGTHS if n >= bound), CHARACTER_LENGTHS[-1])

    def vectorizer(self, dataset, max_tokens, tokens="words", ngrams=1, weighting="multi_hot",
                   sequence_length=None):
        """A new TextVectorization layer, set from a vocabulary adapted once on the training texts.

        `tokens` is "words" or "characters" (in a bag, character n-grams of 2 to 5,
        spaces included; in a sequence, single characters). `weighting` gives a bag's
        values: "multi_hot" (0 or 1), "tf_idf" (count times inverse document
        frequency), or "naive_bayes" (count times the token's largest absolute
        log-count ratio between a class and the rest, on training labels: the feature
        scaling of NBSVM, Wang and Manning 2012). Without a weighting the layer outputs token ids padded to
        `sequence_length`.

        One vocabulary per token kind and n-gram order, adapted at the largest size
        and cut to `max_tokens` (most frequent first), and its weights are cached; the layer
        itself is new for every model, since a layer called in several models keeps
        every one of them alive.
        """
        from keras import layers

        split = _split(tokens, ngrams, sequence=sequence_length is not None)
        vocabulary, idf = self._vocabulary(dataset, split, max_tokens)
        if sequence_length is not None:
            # In "int" mode max_tokens counts the padding and OOV tokens.
            layer = layers.TextVectorization(max_tokens=max_tokens, output_mode="int",
                                             output_sequence_length=sequence_length,
                                             name="vectorize", **split)
            layer.set_vocabulary(vocabulary[:max_tokens - 2])
            return layer
        vocabulary = vocabulary[:max_tokens - 1]
        if weighting == "multi_hot":
            weights = None
        elif weighting == "tf_idf":
            weights = idf[:len(vocabulary)]
        else:
            weights = _naive_bayes_scale(self._ratios(dataset, tokens, ngrams)[:len(vocabulary)])
        layer = layers.TextVectorization(
            max_tokens=max_tokens, output_mode="multi_hot" if weights is None else "tf_idf",
            name="vectorize", **split)
        layer.set_vocabulary(vocabulary, idf_weights=weights)
        return layer

    def _vocabulary(self, dataset, split, max_tokens):
        vocabulary, idf = self._derived(
            dataset, _cache_key(split),
            lambda: _adapt(dataset, max(max_tokens, *VOCABULARY_SIZES), split))
        return vocabulary[:max_tokens - 1], idf[:max_tokens - 1]

    def _ratios(self, dataset, tokens, ngrams):
        split = _split(tokens, ngrams)
        vocabulary, _ = self._vocabulary(dataset, split, VOCABULARY_SIZES[-1])
        return self._derived(dataset, (*_cache_key(split), "naive_bayes"),
                             lambda: _log_count_ratios(dataset, vocabulary, split))

    def _derived(self, dataset, key, compute):
        """What this task derives from `dataset` under `key` (a vocabulary, weights, a word
        statistic), computed once per search by `compute()`: a new dataset starts an empty cache."""
        if self._dataset is not dataset:
            self._dataset, self._cache = dataset, {}
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def initialize(self, hp, model, dataset):
        """A linear bag of naive-Bayes-weighted n-grams starts as the naive Bayes classifier.

        Its head kernel holds each n-gram's log-count ratios divided by the n-gram's
        weight in the bag, so the first logits are the naive Bayes log-odds and
        training refines them (as NBSVM interpolates towards naive Bayes).
        """
        values = hp.values
        if self._word_vectors and values.get("text/family", "bag") != "bag":
            if values.get("text/sequence_tokens", "words") == "words":
                self._start_from_word_vectors(model)
            return
        if (values.get("text/family") != "bag" or values.get("text/depth", 0)
                or values.get("text/bag/weighting") != "naive_bayes"):
            return
        tokens, ngrams = values["text/bag/tokens"], values.get("text/bag/ngrams")
        ratios = self._ratios(dataset, tokens, ngrams)
        head = model.get_layer("probabilities")
        kernel, bias = (np.zeros(tuple(w.shape), "float32") for w in head.weights)
        rows = min(len(ratios), kernel.shape[0] - 1)  # row 0 is the unknown token
        scale = _naive_bayes_scale(ratios[:rows])
        kernel[1:rows + 1] = ratios[:rows] / np.where(scale > 0, scale, 1.0)[:, None]
        head.set_weights([kernel, bias])

    def _start_from_word_vectors(self, model):
        """The embedding starts from the `--word-vectors` file's vectors of the model's
        vocabulary (`automl.transfer.word_vectors`); words it lacks start random."""
        vocabulary = model.get_layer("vectorize").get_vocabulary()
        key = tuple(vocabulary)
        if key not in self._read_vectors:
            self._read_vectors = {key: word_vectors.read(self._word_vectors, vocabulary)}
        embedding = model.get_layer("embedding")
        matrix = np.zeros(tuple(embedding.weights[0].shape), "float32")
        rows = self._read_vectors[key].matrix(vocabulary)[:matrix.shape[0]]
        matrix[:len(rows)] = rows
        embedding.set_weights([matrix])

    def training_model(self, hp, model, dataset):
        """Bags of n-grams train on sparse bags (`automl_plugins.sparse_bags`), 5-7x faster."""
        if hp.values.get("text/family") != "bag":
            return None
        from automl_plugins.sparse_bags import training_twin

        dropout = "bag_dropout" if hp.values.get("text/bag/input_dropout") else None
        return training_twin(model, dropout or "as_float", dropout_name=dropout)

    def build(self, hp, inputs, dataset):
        from keras import layers

        family = hp.Choice("text/family", ["bag", "embedding", "cnn", "rnn", "transformer"],
                           default="bag")
        max_tokens = hp.Choice("text/max_tokens", list(VOCABULARY_SIZES), default=20000)
        if family == "bag":
            x = self._bag(hp, inputs, dataset, max_tokens)
        else:
            with hp.conditional_scope("text/family", ["embedding", "cnn", "rnn", "transformer"]):
                # Characters see where a word starts and ends (the padding around it),
                # which bags of character n-grams cannot.
                kind = hp.Choice("text/sequence_tokens", ["words", "characters"],
                                 default="words")
                with hp.conditional_scope("text/sequence_tokens", ["words"]):
                    length = hp.Choice("text/sequence_length", self.sequence_lengths(dataset),
                                       default=self.sequence_lengths(dataset)[-1])
                dims = [word_vectors.dimension(self._word_vectors)] if self._word_vectors \
                    else [32, 64, 128]
                dim = hp.Choice("text/embedding_dim", dims, default=dims[len(dims) // 2])
            if kind == "characters":
                length = self.character_length(dataset)
            elif self._word_vectors:
                dim = dims[0]  # the vectors' own, whatever a known-good configuration names
            vectorize = self.vectorizer(dataset, max_tokens, tokens=kind, sequence_length=length)
            x = layers.Embedding(vectorize.vocabulary_size(), dim, mask_zero=True,
                                 name="embedding")(vectorize(inputs))
            x = getattr(self, f"_{family}")(hp, x, dim)
        depth = hp.Int("text/depth", 0, 2, default=0)
        if depth:
            with hp.conditional_scope("text/depth", [1, 2]):
                width = hp.Choice("text/width", [64, 128, 256], default=64)
                rate = hp.Float("text/dropout", 0.0, 0.5, step=0.1, default=0.3)
        for index in range(depth):
            x = layers.Dense(width, activation="relu", name=f"dense{index + 1}")(x)
            x = layers.Dropout(rate, name=f"dense{index + 1}_dropout")(x)
        return x

    def _bag(self, hp, inputs, dataset, max_tokens):
        from keras import layers

        with hp.conditional_scope("text/family", ["bag"]):
            tokens = hp.Choice("text/bag/tokens", ["words", "characters"], default="words")
            with hp.conditional_scope("text/bag/tokens", ["words"]):
                ngrams = hp.Choice("text/bag/ngrams", [1, 2, 3], default=2)
            weighting = hp.Choice("text/bag/weighting", _weightings(dataset),
                                  default=_weightings(dataset)[-1])
            rate = hp.Float("text/bag/input_dropout", 0.0, 0.6, step=0.1, default=0.5)
        x = self.vectorizer(dataset, max_tokens, tokens=tokens, ngrams=ngrams,
                            weighting=weighting)(inputs)
        # multi_hot vectors come out as int64 in training; Dropout needs floats.
        x = layers.Rescaling(1.0, name="as_float")(x)
        return layers.Dropout(rate, name="bag_dropout")(x) if rate else x

    def _embedding(self, hp, x, dim):
        from keras import layers

        return layers.GlobalAveragePooling1D(name="average")(x)

    def _cnn(self, hp, x, dim):
        from keras import layers

        with hp.conditional_scope("text/family", ["cnn"]):
            filters = hp.Choice("text/cnn/filters", [64, 128, 256], default=128)
            kernel = hp.Choice("text/cnn/kernel_size", [3, 5, 7], default=5)
            blocks = hp.Int("text/cnn/blocks", 1, 2, default=1)
        for index in range(blocks):
            x = layers.Conv1D(filters, kernel, padding="same", activation="relu",
                              name=f"conv{index + 1}")(x)
            if index < blocks - 1:
                x = layers.MaxPooling1D(2, name=f"conv{index + 1}_pool")(x)
        return layers.GlobalMaxPooling1D(name="max_over_time")(x)

    def _rnn(self, hp, x, dim):
        from keras import layers

        with hp.conditional_scope("text/family", ["rnn"]):
            cell = hp.Choice("text/rnn/cell", ["gru", "lstm"], default="gru")
            units = hp.Choice("text/rnn/units", [32, 64], default=32)
        recurrent = layers.GRU if cell == "gru" else layers.LSTM
        return layers.Bidirectional(recurrent(units), name="bidirectional")(x)

    def _transformer(self, hp, x, dim):
        from keras import layers

        with hp.conditional_scope("text/family", ["transformer"]):
            heads = hp.Choice("text/transformer/heads", [2, 4], default=2)
        # A convolution mixes neighbouring tokens, giving attention a sense of order; added
        # to its input, the padding mask carries on to attention and pooling.
        mixed = layers.Conv1D(dim, 3, padding="same", name="local_mixing")(x)
        x = layers.Add(name="local_mixing_add")([x, mixed])
        attended = layers.MultiHeadAttention(heads, max(dim // heads, 8), name="attention")(x, x)
        x = layers.LayerNormalization(name="attention_norm")(layers.Add(name="attention_add")([x, attended]))
        hidden = layers.Dense(2 * dim, activation="relu", name="ffn_hidden")(x)
        hidden = layers.Dense(dim, name="ffn_out")(hidden)
        x = layers.LayerNormalization(name="ffn_norm")(layers.Add(name="ffn_add")([x, hidden]))
        return layers.GlobalAveragePooling1D(name="average")(x)


def _adapt(dataset, max_tokens, split):
    """`(vocabulary, idf weights)` of the training texts, most frequent token first."""
    from keras import layers

    adapted = layers.TextVectorization(max_tokens=max_tokens, output_mode="tf_idf", **split)
    adapted.adapt(dataset.train.stream().batch(512))
    vocabulary = adapted.get_vocabulary(include_special_tokens=False)
    # Keras keeps adapted IDF weights only in this attribute, special tokens first.
    idf = np.asarray(keras_private.idf_weights(adapted))[-len(vocabulary):]
    kept = [i for i, token in enumerate(vocabulary) if _one_line(token)]
    return [vocabulary[i] for i in kept], idf[kept]


def _one_line(token):
    """Whether `token` survives `model.keras`, which stores a vocabulary a line per token.

    A token holding a line break (a character n-gram across a newline) would come
    back as several, so such tokens stay out of the vocabulary (out-of-vocabulary).
    """
    return token.splitlines() == [token]


def _split(tokens, ngrams, sequence=False):
    """TextVectorization arguments for word n-grams, or for characters: 2- to 5-grams in a
    bag, single ones in a sequence."""
    if tokens == "characters":
        return {"split": "character", "ngrams": None if sequence else CHARACTER_NGRAMS,
                "standardize": "lower"}
    return {"ngrams": ngrams}


def _cache_key(split):
    """A vocabulary depends only on how texts are split: `_split`'s arguments, as a key."""
    return tuple(sorted(split.items()))


def _naive_bayes_scale(ratios):
    """Each token's weight in a naive-Bayes bag: its largest |log-count ratio|."""
    return np.abs(ratios).max(axis=1).astype("float32")


def _weightings(dataset):
    """Bag weightings the search tries, the default last: naive Bayes needs single-label classes."""
    if dataset.problem == "classification":
        return ["multi_hot", "tf_idf", "naive_bayes"]
    return ["multi_hot", "tf_idf"]


def _log_count_ratios(dataset, vocabulary, split):
    """`[tokens, classes]` log-count ratios of each class against the rest, on train only.

    Counts are document frequencies smoothed by one.
    """
    import tensorflow as tf
    from keras import layers

    presence = layers.TextVectorization(output_mode="multi_hot", sparse=True, **split)
    presence.set_vocabulary(vocabulary)
    classes = len(dataset.classes)
    labels = tf.data.Dataset.from_tensor_slices(np.asarray(dataset.train.y, dtype="int32"))
    counts = np.zeros((len(vocabulary) + 1, classes))
    for texts, batch_labels in tf.data.Dataset.zip(dataset.train.stream().batch(512),
                                                   labels.batch(512)):
        bags = tf.cast(presence(texts), tf.float32)
        counts += tf.sparse.sparse_dense_matmul(
            bags, tf.one_hot(batch_labels, classes), adjoint_a=True).numpy()
    rest = counts.sum(axis=1, keepdims=True) - counts + 1.0
    counts += 1.0
    ratios = np.log(counts / counts.sum(axis=0)) - np.log(rest / rest.sum(axis=0))
    return ratios[1:].astype("float32")  # row 0 counts unknown tokens
