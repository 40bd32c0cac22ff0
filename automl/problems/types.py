"""The problem types: heads, losses, metrics and scores of each."""

import math

import numpy as np

from automl.errors import AutomlError
from automl.problems import inference, keras_metrics
from automl.problems.scores import classification_scores, log_loss


class Problem:
    """What one problem type does at each step of a search (see the module docstring)."""

    name = None
    output = "probabilities"         # the name of the model's head layer and main output
    objectives = ()                   # the objectives it takes, the default first
    label_dtype = "int64"

    # Labels ------------------------------------------------------------------

    def check(self, splits, separator):
        """The sorted class (or label) names of `splits` ({"train", "val", "test"}: label
        cells), refusing labels this problem cannot learn from."""
        raise NotImplementedError

    def encode(self, labels, classes, separator):
        """The label cells `labels` as this problem's training targets (an array)."""
        raise NotImplementedError

    def split_strata(self, labels):
        """The key of each label cell that carving val and test splits keeps the shares of."""
        return list(labels)

    def strata(self, y):
        """A key per example that a class-balanced subsample keeps the shares of, or None."""
        return None

    def targets(self, tf, y, classes):
        """A batch of stored labels as the loss takes them."""
        return tf.cast(y, "float32")

    # The model ---------------------------------------------------------------

    def head(self, hp, keras, features, dataset):
        raise NotImplementedError

    def loss(self, hp, keras, dataset, prior=None):
        """The training loss; `prior`, each class's share of the split trained on, where
        the classes are to count the same (classification only)."""
        raise NotImplementedError

    def keras_metrics(self, objective, keras, classes):
        """The metrics a trial's model is compiled with, for the search `objective`."""
        raise NotImplementedError

    def default_objective(self, class_weight):
        return self.objectives[0]

    def check_objective(self, name, classes):
        if name not in self.objectives:
            raise AutomlError(f"objective '{name}' does not fit a {self.name} search "
                              f"(choose one of: {', '.join(self.objectives)})")

    # Scores ------------------------------------------------------------------

    def score(self, objective, predictions, y):
        """`objective`'s value of `predictions` against stored labels `y` (its own direction)."""
        raise NotImplementedError

    def selection_loss(self, predictions, y):
        """The loss an ensemble's greedy selection lowers (lower is better)."""
        raise NotImplementedError

    def scores(self, y, predictions, classes, thresholds=None):
        """The card's test (or evaluation) metrics."""
        raise NotImplementedError

    def headline(self, scores):
        """`(name, value)`: the one figure a search's last line shows."""
        raise NotImplementedError

    def baseline(self, train_y, y, scores):
        """`(figure, near)`: what a model that learned nothing scores, and whether the
        model's `scores` are that close to it."""
        raise NotImplementedError


class Classification(Problem):
    name = "classification"
    objectives = ("val_accuracy", "val_loss", "val_balanced_accuracy", "val_macro_f1", "val_auc",
                  "accuracy", "loss")

    def check(self, splits, separator):
        classes = sorted(set(splits["train"].labels))
        if len(classes) < 2:
            found = classes[0] if classes else "none"
            raise AutomlError(f"need at least two classes to classify, found one ({found})")
        inference.refuse_unknown(splits, classes)
        return classes

    def encode(self, labels, classes, separator):
        index = {name: i for i, name in enumerate(classes)}
        return np.asarray([index[label] for label in labels], dtype="int64")

    def strata(self, y):
        return y

    def targets(self, tf, y, classes):
        return tf.one_hot(y, len(classes))

    def head(self, hp, keras, features, dataset):
        features = _head_dropout(hp, keras, features)
        return keras.layers.Dense(len(dataset.classes), activation="softmax", dtype="float32",
                                  name="probabilities")(features)

    def loss(self, hp, keras, dataset, prior=None):
        smoothing = hp.Choice("optimizer/label_smoothing", [0.0, 0.1], default=0.0)
        if prior is None:
            return keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
        return keras_metrics.LogitAdjustedCrossentropy(prior, label_smoothing=smoothing)

    def default_objective(self, class_weight):
        return "val_balanced_accuracy" if class_weight == "balanced" else "val_accuracy"

    def check_objective(self, name, classes):
        super().check_objective(name, classes)
        if name == "val_auc" and len(classes) != 2:
            raise AutomlError(f"objective 'val_auc' needs two classes, the data has {len(classes)} "
                              "(use val_macro_f1 or val_balanced_accuracy)")

    def keras_metrics(self, objective, keras, classes):
        compiled = [keras.metrics.CategoricalAccuracy(name="accuracy")]
        metric = objective.removeprefix("val_")
        if metric == "balanced_accuracy":
            compiled.append(keras_metrics.BalancedAccuracy(len(classes), name=metric))
        elif metric == "macro_f1":
            compiled.append(keras.metrics.F1Score(average="macro", name=metric))
        elif metric == "auc":
            compiled.append(keras_metrics.PositiveClassAUC(name=metric))
        return compiled

    def score(self, objective, predictions, y):
        from sklearn import metrics

        predicted = np.argmax(predictions, axis=-1)
        metric = objective.removeprefix("val_")
        if metric == "balanced_accuracy":
            return float(metrics.balanced_accuracy_score(y, predicted))
        if metric == "macro_f1":
            return float(metrics.f1_score(y, predicted, average="macro", zero_division=0))
        if metric == "auc" and len(np.unique(y)) == 2:
            return float(metrics.roc_auc_score(y, predictions[:, 1]))
        if metric == "loss":
            return self.selection_loss(predictions, y)
        return float(np.mean(predicted == y))

    def selection_loss(self, predictions, y):
        return log_loss(predictions, y)

    def scores(self, y, predictions, classes, thresholds=None):
        return classification_scores(y, predictions, classes)

    def headline(self, scores):
        return "accuracy", scores["accuracy"]

    def baseline(self, train_y, y, scores):
        counts = np.bincount(np.asarray(y))
        chance = float(counts.max() / counts.sum()) if counts.sum() else 0.0
        error = math.sqrt(max(chance * (1 - chance), 1e-12) / max(len(y), 1))
        return chance, scores["accuracy"] <= chance + max(0.05, 2 * error)


class Multilabel(Problem):
    name = "multilabel"
    objectives = ("val_micro_f1", "val_macro_f1", "val_auc", "val_subset_accuracy", "val_loss",
                  "loss")
    label_dtype = "float32"

    def check(self, splits, separator):
        classes = sorted({part for cell in splits["train"].labels
                          for part in inference.split_cell(cell, separator)})
        if len(classes) < 2:
            raise AutomlError(f"need at least two labels for a multilabel search, found "
                              f"{len(classes)} ({', '.join(classes) or 'none'})")
        inference.refuse_unknown(splits, classes, separator)
        return classes

    def encode(self, labels, classes, separator):
        index = {name: i for i, name in enumerate(classes)}
        rows = np.zeros((len(labels), len(classes)), dtype=self.label_dtype)
        for row, cell in enumerate(labels):
            for part in inference.split_cell(cell, separator):
                rows[row, index[part]] = 1.0
        return rows

    def head(self, hp, keras, features, dataset):
        features = _head_dropout(hp, keras, features)
        return keras.layers.Dense(len(dataset.classes), activation="sigmoid", dtype="float32",
                                  name="probabilities")(features)

    def loss(self, hp, keras, dataset, prior=None):
        return keras.losses.BinaryCrossentropy()

    def keras_metrics(self, objective, keras, classes):
        compiled = [keras.metrics.F1Score(average="micro", threshold=0.5, name="micro_f1")]
        metric = objective.removeprefix("val_")
        if metric == "macro_f1":
            compiled.append(keras.metrics.F1Score(average="macro", threshold=0.5, name=metric))
        elif metric == "auc":
            compiled.append(keras.metrics.AUC(multi_label=True, num_labels=len(classes),
                                              name=metric))
        elif metric == "subset_accuracy":
            compiled.append(keras_metrics.SubsetAccuracy(name=metric))
        return compiled

    def score(self, objective, predictions, y, thresholds=0.5):
        from sklearn import metrics

        metric = objective.removeprefix("val_")
        predicted = predictions >= thresholds
        if metric == "loss":
            return self.selection_loss(predictions, y)
        if metric == "auc":
            present = [i for i in range(y.shape[1]) if 0 < y[:, i].sum() < len(y)]
            return float(np.mean([metrics.roc_auc_score(y[:, i], predictions[:, i])
                                  for i in present])) if present else 0.5
        if metric == "subset_accuracy":
            return float(np.mean(np.all(predicted == (y > 0.5), axis=1)))
        average = "macro" if metric == "macro_f1" else "micro"
        return float(metrics.f1_score(y > 0.5, predicted, average=average, zero_division=0))

    def selection_loss(self, predictions, y):
        p = np.clip(predictions, 1e-7, 1 - 1e-7)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    def thresholds(self, predictions, y):
        """Per-label decision thresholds that maximise each label's F1 on `predictions`."""
        candidates = np.round(np.arange(0.05, 0.96, 0.05), 2)
        chosen = []
        for label in range(y.shape[1]):
            truth = y[:, label] > 0.5
            best, best_f1 = 0.5, -1.0
            for threshold in candidates:
                said = predictions[:, label] >= threshold
                hits = float(np.sum(said & truth))
                f1 = 2 * hits / max(float(said.sum() + truth.sum()), 1.0)
                if f1 > best_f1 + 1e-12 or (abs(f1 - best_f1) <= 1e-12
                                            and abs(threshold - 0.5) < abs(best - 0.5)):
                    best, best_f1 = float(threshold), f1
            chosen.append(best)
        return chosen

    def scores(self, y, predictions, classes, thresholds=None):
        from sklearn.metrics import f1_score, precision_recall_fscore_support

        cut = np.asarray(thresholds if thresholds is not None else [0.5] * len(classes))
        truth, said = np.asarray(y) > 0.5, np.asarray(predictions) >= cut
        precision, recall, f1, support = precision_recall_fscore_support(
            truth, said, zero_division=0)
        return {
            "micro_f1": float(f1_score(truth, said, average="micro", zero_division=0)),
            "macro_f1": float(f1_score(truth, said, average="macro", zero_division=0)),
            "subset_accuracy": float(np.mean(np.all(truth == said, axis=1))) if len(truth) else 0.0,
            "examples": int(len(truth)),
            "thresholds": {name: float(t) for name, t in zip(classes, cut)},
            "per_label": {
                name: {"precision": float(precision[i]), "recall": float(recall[i]),
                       "f1": float(f1[i]), "support": int(support[i])}
                for i, name in enumerate(classes)
            },
        }

    def headline(self, scores):
        return "micro F1", scores["micro_f1"]

    def baseline(self, train_y, y, scores):
        """The best micro F1 of answering the same labels for every example: the `k` most
        common in training, for the best `k`."""
        from sklearn.metrics import f1_score

        order = np.argsort(-np.asarray(train_y).mean(axis=0))
        truth, figure = np.asarray(y) > 0.5, 0.0
        for k in range(1, len(order) + 1):
            said = np.zeros(truth.shape, dtype=bool)
            said[:, order[:k]] = True
            figure = max(figure, float(f1_score(truth, said, average="micro", zero_division=0)))
        return figure, scores["micro_f1"] <= figure + 0.05


class Regression(Problem):
    name = "regression"
    output = "value"
    objectives = ("val_mae", "val_rmse", "val_loss", "loss")
    label_dtype = "float32"

    def check(self, splits, separator):
        for name in ("train", "val", "test"):
            for label in splits[name].labels:
                if inference.number(label) is None:
                    raise AutomlError(f"a regression target must be a number; the {name} split "
                                      f"has the label '{label}'")
        if len({float(label) for label in splits["train"].labels}) < 2:
            raise AutomlError("need at least two distinct target values for a regression search")
        return []

    def encode(self, labels, classes, separator):
        return np.asarray([float(label) for label in labels], dtype=self.label_dtype)

    def split_strata(self, labels):
        """Ten quantile bins of the target, so each split spans its range."""
        values = [inference.number(label) for label in labels]
        known = [v for v in values if v is not None]
        if not known:
            return [0] * len(values)
        edges = np.quantile(known, np.linspace(0.1, 0.9, 9))
        return [-1 if v is None else int(np.searchsorted(edges, v)) for v in values]

    def targets(self, tf, y, classes):
        return tf.reshape(tf.cast(y, "float32"), (-1, 1))

    def head(self, hp, keras, features, dataset):
        mean, std = standardisation(dataset.train.y)
        features = _head_dropout(hp, keras, features)
        standard = keras.layers.Dense(1, dtype="float32", name="standardised")(features)
        return keras.layers.Rescaling(std, offset=mean, dtype="float32", name="value")(standard)

    def loss(self, hp, keras, dataset, prior=None):
        mean, std = standardisation(dataset.train.y)
        kind = hp.Choice("head/loss", ["huber", "mse"], default="huber")
        return keras_metrics.StandardisedError(kind, mean, std)

    def keras_metrics(self, objective, keras, classes):
        return [keras.metrics.MeanAbsoluteError(name="mae"),
                keras.metrics.RootMeanSquaredError(name="rmse")]

    def score(self, objective, predictions, y):
        error = np.asarray(predictions, dtype="float64").reshape(-1) - np.asarray(y)
        if objective.removeprefix("val_") == "rmse":
            return float(np.sqrt(np.mean(error ** 2)))
        if objective.removeprefix("val_") == "loss":
            return float(np.mean(error ** 2))
        return float(np.mean(np.abs(error)))

    def selection_loss(self, predictions, y):
        return self.score("val_rmse", predictions, y)

    def scores(self, y, predictions, classes, thresholds=None):
        y = np.asarray(y, dtype="float64")
        predicted = np.asarray(predictions, dtype="float64").reshape(-1)
        error = predicted - y
        spread = float(np.sum((y - y.mean()) ** 2)) if len(y) else 0.0
        return {
            "mae": float(np.mean(np.abs(error))) if len(y) else 0.0,
            "rmse": float(np.sqrt(np.mean(error ** 2))) if len(y) else 0.0,
            "r2": float(1 - np.sum(error ** 2) / spread) if spread else 0.0,
            "examples": int(len(y)),
            "residuals": _residual_sample(y, predicted),
        }

    def headline(self, scores):
        return "MAE", scores["mae"]

    def baseline(self, train_y, y, scores):
        """MAE of always predicting the training mean; near when the model is within 5% of it."""
        figure = float(np.mean(np.abs(np.asarray(y) - float(np.mean(train_y)))))
        return figure, scores["mae"] >= 0.95 * figure


def standardisation(values):
    """`(mean, std)` of training targets; std 1 where they are all equal."""
    values = np.asarray(values, dtype="float64")
    std = float(values.std())
    return float(values.mean()), std if std > 0 else 1.0


def _residual_sample(y, predicted, limit=2000):
    """Up to `limit` `[true, predicted]` pairs for the report's plots, evenly drawn."""
    step = max(1, -(-len(y) // limit))
    return [[round(float(t), 6), round(float(p), 6)] for t, p in zip(y[::step], predicted[::step])]


def _head_dropout(hp, keras, features):
    rate = hp.Float("head/dropout", 0.0, 0.5, step=0.1, default=0.2)
    if rate:
        features = keras.layers.Dropout(rate, name="head_dropout")(features)
    return features


_PROBLEMS = {problem.name: problem for problem in (Classification(), Multilabel(), Regression())}


def get(name):
    """The `Problem` of the type `name`."""
    inference.check_name(name)
    return _PROBLEMS[name or "classification"]
