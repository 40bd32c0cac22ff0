"""The input pipelines of a search: `tf.data` datasets of each split.

Examples stream from the data cache (or from memory for a dataset built in
memory), shuffled with a bounded buffer, batched, cast to the model's input type
and prefetched. Labels are fed as the problem type's loss takes them (one-hot
classes, so the loss can smooth them; multi-hot rows; values); with balanced
classes the loss is given the class prior of the split it trains on (`prior_of`). A trial at a lower
fidelity trains on a fixed share of the training split, class-balanced for
classification.
"""

import numpy as np

from automl import capabilities, problems
from automl.data.cache import without_autotune
from automl.problems import class_weights

SHUFFLE_BYTES = 64 << 20    # most memory the shuffle buffer of a training pipeline holds


class Feeds:
    """Training and evaluation pipelines over a `Dataset`'s splits."""

    def __init__(self, task, dataset, seed, tf, class_weight=None):
        self.task, self.dataset, self.seed, self.tf = task, dataset, seed, tf
        self.input_dtype = task.input_spec(dataset.meta)[1]
        self.problem = problems.get(dataset.problem)
        self.class_weight = class_weight

    def count(self, split, fraction=1.0):
        return len(self._indices(split, fraction))

    def _labels(self, split):
        return np.concatenate([self.dataset.split(name).y for name in split.split("+")])

    def _indices(self, split, fraction):
        """Example indices of `split` ("train", "val", "test" or "train+val") at `fraction`."""
        labels = self._labels(split)
        if fraction >= 1.0:
            return np.arange(len(labels))
        rng = np.random.RandomState(self.seed)
        strata = self.problem.strata(labels)
        if strata is None:
            keep = max(1, int(round(len(labels) * fraction)))
            return np.sort(rng.permutation(len(labels))[:keep])
        chosen = []
        for label in np.unique(strata):
            members = np.flatnonzero(strata == label)
            keep = max(1, int(round(len(members) * fraction)))
            chosen.extend(rng.permutation(members)[:keep])
        return np.sort(np.asarray(chosen))

    def source(self, split, fraction=1.0):
        """The split (at `fraction`) as a `tf.data.Dataset` of (example, label), in order."""
        tf = self.tf
        parts = [self.dataset.split(name) for name in split.split("+")]
        examples = parts[0].stream()
        for part in parts[1:]:
            examples = examples.concatenate(part.stream())
        labels = self._labels(split)
        pairs = tf.data.Dataset.zip(examples, tf.data.Dataset.from_tensor_slices(labels))
        index = self._indices(split, fraction)
        if len(index) < len(labels):
            keep = np.zeros(len(labels), dtype=bool)
            keep[index] = True
            keep = tf.constant(keep)
            pairs = pairs.enumerate().filter(lambda i, pair: keep[i]).map(lambda i, pair: pair)
        # A known length lets Keras count an epoch's batches instead of running out of data.
        return pairs.apply(tf.data.experimental.assert_cardinality(len(index))), len(index)

    def shuffle_buffer(self, split, count):
        """Examples the shuffle buffer holds: all of them, or as many as `SHUFFLE_BYTES` allow."""
        size = max(self.dataset.split(name).example_bytes() for name in split.split("+"))
        return int(max(1, min(count, SHUFFLE_BYTES // max(size, 1))))

    def pipeline(self, split, hp, batch_size, training, fraction=1.0):
        """Batches of (example, target); shuffled and augmented when `training`.

        Classification batches are mixed (`capabilities.Augmentation.mix`) too.
        """
        tf = self.tf
        ds, count = self.source(split, fraction)
        classes, problem = self.dataset.classes, self.problem
        mixes = problem.name == "classification"
        if training:
            ds = ds.shuffle(self.shuffle_buffer(split, count), seed=self.seed,
                            reshuffle_each_iteration=True)
        ds = ds.batch(batch_size)
        dtype = self.input_dtype
        task = self.task

        def feed(x, y):
            if dtype != "string" and x.dtype != dtype:
                x = tf.cast(x, dtype)
            y = problem.targets(tf, y, classes)
            if not training:
                return x, y
            x = capabilities.augment(task, hp, x)
            if mixes:
                x, y = capabilities.mix(task, hp, x, y)
            return x, y

        ds = ds.map(feed, num_parallel_calls=tf.data.AUTOTUNE)
        return without_autotune(tf, ds.prefetch(tf.data.AUTOTUNE))

    def prior_of(self, split):
        """Each class's share of `split` (train, or train+val for a retrain) where the
        classes are balanced (`automl.problems.class_weights`), else None."""
        return class_weights.prior(self.class_weight, self._labels(split),
                                   len(self.dataset.classes))

    def steps(self, split, batch_size, fraction=1.0):
        """Batches per epoch of `split` at `fraction`."""
        return max(1, -(-self.count(split, fraction) // batch_size))
