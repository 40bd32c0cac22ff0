"""The input pipelines of a search: `tf.data` datasets of each split, built once.

Labels are fed one-hot, so the shared loss can smooth them. A trial at a lower
fidelity trains on a fixed, class-balanced share of the training split.
"""

import numpy as np


class Feeds:
    """Training and evaluation pipelines over a `Dataset`'s splits."""

    def __init__(self, task, dataset, seed, tf):
        self.task, self.dataset, self.seed, self.tf = task, dataset, seed, tf
        self._sources = {}

    def count(self, split, fraction=1.0):
        return len(self._indices(split, fraction))

    def _indices(self, split, fraction):
        """Example indices of `split` ("train", "val", "test" or "train+val") at `fraction`."""
        labels = np.concatenate([self.dataset.split(name).y for name in split.split("+")])
        if fraction >= 1.0:
            return np.arange(len(labels))
        rng = np.random.RandomState(self.seed)
        chosen = []
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            keep = max(1, int(round(len(members) * fraction)))
            chosen.extend(rng.permutation(members)[:keep])
        return np.sort(np.asarray(chosen))

    def source(self, split, fraction=1.0):
        """The split (at `fraction`) as a cached `tf.data.Dataset` of (example, label)."""
        key = (split, round(fraction, 4))
        if key not in self._sources:
            tf = self.tf
            parts = [self.dataset.split(name) for name in split.split("+")]
            index = self._indices(split, fraction)
            x = np.concatenate([p.x for p in parts])[index]
            y = np.concatenate([p.y for p in parts])[index]
            if x.dtype.kind in "OUS":
                x = tf.constant([str(v) for v in x])
            self._sources[key] = (tf.data.Dataset.from_tensor_slices((x, y)), len(y))
        return self._sources[key]

    def pipeline(self, split, hp, batch_size, training, fraction=1.0):
        """Batches of (example, one-hot label); shuffled and augmented when `training`."""
        tf = self.tf
        ds, count = self.source(split, fraction)
        classes = len(self.dataset.classes)
        if training:
            ds = ds.shuffle(count, seed=self.seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size)
        augment = self.task.augment if training else (lambda hp, x: x)
        ds = ds.map(lambda x, y: (augment(hp, x), tf.one_hot(y, classes)),
                    num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    def steps(self, split, batch_size, fraction=1.0):
        """Batches per epoch of `split` at `fraction`."""
        return max(1, -(-self.count(split, fraction) // batch_size))
