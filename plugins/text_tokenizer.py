"""Token ids for a text model's LiteRT file, in pure Python (no TensorFlow, no numpy).

A text `.tflite` takes token ids, since string processing does not run on LiteRT's
built-in ops. This file reproduces the model's Keras `TextVectorization` layers
exactly: ASCII lowercasing, punctuation stripping, splitting on ASCII whitespace or
into characters, n-grams joined by a space, vocabulary lookup with the layer's
out-of-vocabulary and padding ids. `tokenizer.json`, written beside the model,
describes one input per vectorizer.

    tokenizer = Tokenizer.load("tokenizer.json")
    ids = tokenizer.encode("a fine film")   # {input name: [ids]}

Sequence inputs are `sequence_length` ids, zero-padded or cut at the end. Bag
inputs are the ids of the text's n-grams, each once (`multi_hot`) or once per
occurrence (`tf_idf`), any length, `pad_id` alone for a text with none.
"""

import json
import re

PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")
ASCII_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class Vectorizer:
    """One `TextVectorization` layer's text-to-ids mapping."""

    def __init__(self, spec):
        self.name = spec["input"]
        self.standardize = spec["standardize"]
        self.split = spec["split"]
        self.ngrams = spec["ngrams"]
        self.mode = spec["output_mode"]
        self.sequence_length = spec.get("sequence_length")
        self.oov_id = spec["oov_id"]
        self.pad_id = spec["pad_id"]
        self.index = {token: i for i, token in enumerate(spec["vocabulary"])
                      if i not in (self.oov_id, self.pad_id)}

    def tokens(self, text):
        """The strings the layer looks up: standardised, split, then n-grams."""
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            text = text.translate(ASCII_UPPER)
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            text = PUNCTUATION.sub("", text)
        if self.split == "whitespace":
            pieces = [piece for piece in WHITESPACE.split(text) if piece]
        elif self.split == "character":
            pieces = list(text)
        else:
            pieces = [text]
        if not self.ngrams:
            return pieces
        return [" ".join(pieces[start:start + width]) for width in self.ngrams
                for start in range(len(pieces) - width + 1)]

    def encode(self, text):
        """The ids the model's input takes for `text`."""
        ids = [self.index.get(token, self.oov_id) for token in self.tokens(text)]
        if self.mode == "int":
            ids = ids[:self.sequence_length]
            return ids + [self.pad_id] * (self.sequence_length - len(ids))
        if self.mode == "multi_hot":
            ids = sorted(set(ids))
        return ids or [self.pad_id]


class Tokenizer:
    """Every input of a text model: `encode(text)` gives `{input name: ids}`."""

    def __init__(self, specs):
        self.vectorizers = [Vectorizer(spec) for spec in specs]

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as handle:
            return cls(json.load(handle)["inputs"])

    def encode(self, text):
        return {v.name: v.encode(text) for v in self.vectorizers}
