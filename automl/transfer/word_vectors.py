"""Pretrained word vectors (GloVe or fastText text format) as a text model's first embedding.

The file holds one word a line followed by its vector's numbers, separated by
spaces; a fastText file's first line (`COUNT DIM`) is skipped. Only the words of the
model's vocabulary are kept in memory.
"""

import dataclasses

import numpy as np

from automl.errors import AutomlError

LICENCE = "as the file's provider states (GloVe: PDDL 1.0; fastText: CC BY-SA 3.0)"


@dataclasses.dataclass(frozen=True)
class WordVectors:
    """The vectors of a file: their dimension and `{word: vector}` for the words read."""

    path: str
    dim: int
    vectors: dict

    def matrix(self, vocabulary, seed=0):
        """An embedding matrix, one row per vocabulary entry (in order).

        Words the file has take its vector (tried as written, then lower-cased); the
        padding entry (`""`) is zeros; other words get small random vectors at the
        file's scale.
        """
        known = np.stack(list(self.vectors.values())) if self.vectors else np.zeros((1, self.dim))
        scale = float(known.std()) or 0.1
        rows = np.random.default_rng(seed).normal(0.0, scale, (len(vocabulary), self.dim))
        for index, word in enumerate(vocabulary):
            vector = self.vectors.get(word, self.vectors.get(str(word).lower()))
            if word == "":
                rows[index] = 0.0
            elif vector is not None:
                rows[index] = vector
        return rows.astype("float32")

    def coverage(self, vocabulary):
        """The share of `vocabulary`'s words (padding and unknown aside) the file has."""
        words = [w for w in vocabulary if w not in ("", "[UNK]")]
        found = sum(1 for w in words if w in self.vectors or str(w).lower() in self.vectors)
        return found / max(len(words), 1)


def read(path, words=None):
    """The vectors of the file at `path`; with `words`, only theirs (and their lower case).

    Raises `AutomlError` naming the line where the file is not in the text format.
    """
    wanted = None if words is None else set(words) | {str(w).lower() for w in words}
    vectors, dim = {}, None
    try:
        handle = open(path, encoding="utf-8", errors="replace")
    except OSError as error:
        raise AutomlError(f"word vectors not readable: {path} ({error.strerror})") from None
    with handle:
        for number, line in enumerate(handle, 1):
            parts = line.rstrip("\n").rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # fastText's header: word count and dimension
            if len(parts) < 2:
                continue
            if dim is None:
                dim = len(parts) - 1
            if len(parts) - 1 != dim:
                raise AutomlError(f"word vectors {path} line {number}: {len(parts) - 1} numbers "
                                  f"where earlier lines have {dim}")
            if wanted is not None and parts[0] not in wanted:
                continue
            try:
                vectors[parts[0]] = np.asarray(parts[1:], dtype="float32")
            except ValueError:
                raise AutomlError(f"word vectors {path} line {number}: not a word followed by "
                                  f"numbers (GloVe or fastText text format)") from None
    if dim is None:
        raise AutomlError(f"word vectors {path} hold no vectors")
    return WordVectors(path, dim, vectors)


def dimension(path):
    """The vector dimension of the file at `path`, read from its first vectors."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            parts = line.rstrip().split(" ")
            if len(parts) == 2 and all(p.isdigit() for p in parts):
                return int(parts[1])
            if len(parts) >= 2:
                return len(parts) - 1
    raise AutomlError(f"word vectors {path} hold no vectors")
