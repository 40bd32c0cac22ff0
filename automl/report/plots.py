"""Figures of a search, drawn with matplotlib and returned as inline SVG text.

Each function takes plain records (see `automl.report.trial_records`) and returns
one `<svg>` element, or None when there is nothing to draw.
"""

import io
import math
import re

WIDTH, HEIGHT = 6.0, 3.2  # inches at 96 dpi: about 580 x 300 px


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    pyplot.rcParams.update({"font.size": 9, "svg.fonttype": "none", "axes.grid": True,
                            "grid.alpha": 0.3})
    return pyplot


def _svg(figure):
    pyplot = _pyplot()
    buffer = io.StringIO()
    figure.tight_layout()
    figure.savefig(buffer, format="svg")
    pyplot.close(figure)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    # Inline SVG in HTML needs no namespaces or metadata, and the page names no URL.
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    return text.replace("xlink:href", "href")


def _scored(records):
    return [r for r in records if r["score"] is not None and r["started"] is not None]


def best_so_far(records, objective, maximize):
    """The best score reached against elapsed seconds of the search."""
    scored = sorted(_scored(records), key=lambda r: r["finished"])
    if not scored:
        return None
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=(WIDTH, HEIGHT))
    times, bests, best = [], [], None
    for record in scored:
        score = record["score"]
        if best is None or (score > best if maximize else score < best):
            best = score
        times.append(record["finished"])
        bests.append(best)
    axes.step(times, bests, where="post", color="tab:blue")
    axes.plot(times, bests, "o", color="tab:blue", markersize=3)
    axes.set(title=f"Best {objective} so far", xlabel="elapsed seconds", ylabel=objective)
    return _svg(figure)


def scores_by_start(records, objective):
    """Each trial's score against the second it started, coloured by model family."""
    scored = _scored(records)
    if not scored:
        return None
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=(WIDTH, HEIGHT))
    for family in sorted({r["family"] for r in scored}):
        rows = [r for r in scored if r["family"] == family]
        axes.scatter([r["started"] for r in rows], [r["score"] for r in rows], s=18, label=family)
    axes.legend(fontsize=8, loc="best")
    axes.set(title="Trials by start time", xlabel="start (seconds into the search)",
             ylabel=objective)
    return _svg(figure)


def hyperparameters(records, objective, limit=12):
    """One small panel per searched hyperparameter: its values against the score."""
    scored = _scored(records)
    names = sorted({name for r in scored for name, value in r["hyperparameters"].items()
                    if len({str(s["hyperparameters"].get(name)) for s in scored}) > 1})[:limit]
    if not names:
        return None
    pyplot = _pyplot()
    columns = 3
    rows = math.ceil(len(names) / columns)
    figure, grid = pyplot.subplots(rows, columns, figsize=(WIDTH + 1.5, 1.9 * rows), squeeze=False)
    for axes, name in zip(grid.flat, names):
        present = [r for r in scored if name in r["hyperparameters"]]
        values = [r["hyperparameters"][name] for r in present]
        scores = [r["score"] for r in present]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            axes.scatter(values, scores, s=12)
            if min(values) > 0 and max(values) / min(values) >= 100:
                axes.set_xscale("log")
        else:
            labels = sorted({str(v) for v in values})
            axes.scatter([labels.index(str(v)) for v in values], scores, s=12)
            axes.set_xticks(range(len(labels)), labels, rotation=20, fontsize=7)
        axes.set_title(name, fontsize=8)
    for axes in list(grid.flat)[len(names):]:
        axes.set_visible(False)
    figure.suptitle(f"Hyperparameters against {objective}", fontsize=9)
    return _svg(figure)


def learning_curves(records, metric, top=5):
    """Train and validation `metric` per epoch of the `top` trials with the best scores."""
    curves = [r for r in records if r["history"].get(f"val_{metric}")][:top]
    if not curves:
        return None
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=(WIDTH, HEIGHT))
    colours = pyplot.rcParams["axes.prop_cycle"].by_key()["color"]
    for colour, record in zip(colours, curves):
        history = record["history"]
        epochs = range(1, len(history[f"val_{metric}"]) + 1)
        axes.plot(epochs, history[f"val_{metric}"], color=colour, label=f"{record['id']} val")
        if history.get(metric):
            axes.plot(range(1, len(history[metric]) + 1), history[metric], color=colour,
                      linestyle="--", alpha=0.6, label=f"{record['id']} train")
    axes.legend(fontsize=7, ncol=2, loc="best")
    axes.set(title=f"Learning curves of the top {len(curves)} trial{'s' * (len(curves) != 1)}",
             xlabel="epoch",
             ylabel=metric)
    return _svg(figure)


def confusion_matrix(matrix, classes, limit=30):
    """Test confusion matrix: true classes down, predicted across."""
    if not matrix or len(classes) > limit:
        return None
    pyplot = _pyplot()
    size = min(3.0 + 0.25 * len(classes), 7.0)
    figure, axes = pyplot.subplots(figsize=(size + 1, size))
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046)
    axes.set_xticks(range(len(classes)), classes, rotation=60, fontsize=7)
    axes.set_yticks(range(len(classes)), classes, fontsize=7)
    axes.grid(False)
    peak = max(max(row) for row in matrix) or 1
    if len(classes) <= 12:
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                axes.text(j, i, count, ha="center", va="center", fontsize=7,
                          color="white" if count > peak / 2 else "black")
    axes.set(title="Confusion matrix (test)", xlabel="predicted", ylabel="true")
    return _svg(figure)


def per_class(scores, kind="Per-class"):
    """Precision, recall and F1 of each class (or label) on test, as grouped bars."""
    if not scores:
        return None
    pyplot = _pyplot()
    names = list(scores)
    figure, axes = pyplot.subplots(figsize=(max(WIDTH, 0.45 * len(names)), HEIGHT))
    width = 0.27
    for offset, metric in enumerate(("precision", "recall", "f1")):
        axes.bar([i + (offset - 1) * width for i in range(len(names))],
                 [scores[n][metric] for n in names], width, label=metric)
    axes.set_xticks(range(len(names)), names, rotation=45 if len(names) > 8 else 0, fontsize=7)
    axes.set_ylim(0, 1.05)
    axes.legend(fontsize=8, loc="lower right")
    axes.set(title=f"{kind} results (test)")
    return _svg(figure)


def predicted_against_true(pairs):
    """A regression's test predictions against the true values, with the diagonal."""
    if not pairs:
        return None
    pyplot = _pyplot()
    true, predicted = zip(*pairs)
    figure, axes = pyplot.subplots(figsize=(HEIGHT + 1, HEIGHT))
    axes.scatter(true, predicted, s=6, alpha=0.5)
    low, high = min(min(true), min(predicted)), max(max(true), max(predicted))
    axes.plot([low, high], [low, high], color="grey", linewidth=1)
    axes.set(title="Predicted against true (test)", xlabel="true", ylabel="predicted")
    return _svg(figure)


def residuals(pairs):
    """A regression's test residuals (predicted minus true) against the true values."""
    if not pairs:
        return None
    pyplot = _pyplot()
    true = [t for t, _ in pairs]
    errors = [p - t for t, p in pairs]
    figure, axes = pyplot.subplots(figsize=(WIDTH, HEIGHT))
    axes.scatter(true, errors, s=6, alpha=0.5)
    axes.axhline(0, color="grey", linewidth=1)
    axes.set(title="Residuals (test)", xlabel="true", ylabel="predicted - true")
    return _svg(figure)
