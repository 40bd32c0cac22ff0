"""The run report: `RUN/report/index.html` (self-contained, with plots) and `trials.csv`.

The report is written after every trial and at the end of a run, and rebuilt from
the run directory alone by `automl report RUN`: trial states come from keras-tuner's
`trial.json` files, learning curves from each trial's `history.json`, the summary
and test results from the model card, and misclassified examples from
`search/examples.json`.
"""

import base64
import csv
import glob
import html
import io
import json
import os

from automl.report import plots
from automl.run_folder import HISTORY_FILE, WORKERS_FILE
from automl.runtime.files import replace_folder


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2430;background:#f5f6f8}
main{max-width:1240px;margin:0 auto;padding:20px}
h1{font-size:22px;margin:4px 0 12px}h2{font-size:17px;margin:26px 0 8px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:10px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:10px 12px}
.card b{display:block;font-size:12px;color:#5b6474;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:12px}
.plot{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:6px;overflow:auto}
.plot svg{max-width:100%;height:auto}
.wrap{overflow-x:auto;background:#fff;border:1px solid #dde1e7;border-radius:6px}
table{border-collapse:collapse;font-size:12px;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid #eceef2;text-align:left;white-space:nowrap}
th{background:#eef0f4;position:sticky;top:0}
td.hp{max-width:180px;overflow:hidden;text-overflow:ellipsis}
tr.best td{background:#fff6d9}tr.exported td{background:#e3f4e6}
.tag{display:inline-block;border-radius:3px;padding:0 5px;font-size:11px;margin-left:4px;color:#fff}
.tag.best{background:#b7791f}.tag.exported{background:#2f855a}
.note{color:#5b6474}.examples{display:flex;flex-wrap:wrap;gap:10px}
.example{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:6px;max-width:260px;font-size:12px}
.example img{width:96px;height:96px;image-rendering:pixelated;display:block}
"""


# Records ----------------------------------------------------------------------


def trial_records(trials, project_dir):
    """Plain dicts of the trials, in trial id order, with learning curves where saved."""
    workers = _read_json(os.path.join(project_dir, WORKERS_FILE), {})
    records = []
    for trial in sorted(trials, key=lambda t: t.trial_id):
        metrics = trial.metrics
        completed = trial.status == "COMPLETED"

        def last(name):
            return metrics.get_last_value(name) if completed and metrics.exists(name) else None

        finished, seconds = last("finished_at"), last("trial_seconds")
        values = trial.hyperparameters.values
        records.append({
            "id": trial.trial_id,
            "status": trial.status,
            "worker": workers.get(trial.trial_id, ""),
            "score": trial.score if completed else None,
            "family": next((str(v) for k, v in sorted(values.items()) if k.endswith("/family")),
                           "model"),
            "finished": finished,
            "started": None if finished is None or seconds is None else finished - seconds,
            "seconds": seconds,
            "epochs": last("epochs_run"),
            "parameters": last("parameters"),
            "continues": values.get("tuner/trial_id"),
            "hyperparameters": {k: v for k, v in values.items() if not k.startswith("tuner/")},
            "message": trial.message or "",
            "history": _read_json(os.path.join(project_dir, f"trial_{trial.trial_id}",
                                               HISTORY_FILE), {}),
        })
    return records


def load_trials(project_dir):
    """keras-tuner trials saved under `project_dir` (`trial_*/trial.json`)."""
    from keras_tuner.engine.trial import Trial

    return [Trial.load(path) for path in sorted(glob.glob(
        os.path.join(project_dir, "trial_*", "trial.json")))]


def _read_json(path, default):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return default


def ranked(records, maximize):
    scored = [r for r in records if r["score"] is not None]
    return sorted(scored, key=lambda r: r["score"], reverse=maximize)


# Misclassified examples -------------------------------------------------------


def misclassified_examples(task_name, split, predicted, probabilities, classes, limit=8):
    """Up to `limit` wrongly classified examples of `split`, the most confident mistakes first."""
    import numpy as np

    labels = split.y
    wrong = np.flatnonzero(np.asarray(predicted) != np.asarray(labels))
    wrong = sorted(wrong, key=lambda i: -float(probabilities[i].max()))[:limit]
    examples = []
    for index, value in zip(wrong, split.take(wrong)):
        example = {"id": split.ids[index] if split.ids is not None else f"test #{index}",
                   "true": classes[int(labels[index])],
                   "predicted": classes[int(predicted[index])],
                   "probability": round(float(probabilities[index].max()), 4)}
        if isinstance(value, str):
            example["text"] = value[:300]
        elif task_name == "image" or getattr(value, "ndim", 0) == 3:
            example["image"] = _thumbnail(value)
        examples.append(example)
    return examples


def _thumbnail(image):
    """A small PNG data URI of an image array (H, W, C), values 0-255 or 0-1."""
    import numpy as np
    from PIL import Image

    array = np.asarray(image, dtype="float32")
    if array.max() <= 1.0:
        array = array * 255.0
    array = np.clip(array, 0, 255).astype("uint8")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    picture = Image.fromarray(array)
    picture.thumbnail((96, 96))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# Tables -----------------------------------------------------------------------


def trial_rows(records, objective):
    """`(header, rows)` of the trial table, hyperparameter columns after the fixed ones."""
    names = sorted({name for r in records for name in r["hyperparameters"]})
    rows = []
    for record in records:
        row = {
            "trial_id": record["id"],
            "status": record["status"],
            "worker": record["worker"],
            objective: "" if record["score"] is None else f"{record['score']:.6f}",
            "seconds": "" if record["seconds"] is None else f"{record['seconds']:.2f}",
            "epochs": "" if record["epochs"] is None else int(record["epochs"]),
            "message": record["message"],
        }
        row.update({name: _csv_value(record["hyperparameters"].get(name, "")) for name in names})
        rows.append(row)
    return ["trial_id", "status", objective, "seconds", "epochs", "worker", "message", *names], rows


def _csv_value(value):
    """A hyperparameter as the table shows it: floats to 10 significant digits (0.3, not 0.30000000000000004)."""
    return float(f"{value:.10g}") if isinstance(value, float) else value


def _csv_text(header, rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _rounded(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _trial_table(header, rows, best_id, exported_ids):
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        trial_id = row["trial_id"]
        tags = []
        if trial_id == best_id:
            tags.append("<span class='tag best'>best</span>")
        if trial_id in exported_ids:
            tags.append("<span class='tag exported'>exported</span>")
        classes = " ".join(c for c, on in (("best", trial_id == best_id),
                                            ("exported", trial_id in exported_ids)) if on)
        cells = [f"<td>{html.escape(trial_id)}{''.join(tags)}</td>"]
        for name in header[1:]:
            value = row[name]
            if name in header[2:4] and value != "":
                value = f"{float(value):.4f}" if name == header[2] else f"{float(value):.1f}"
            cells.append(f"<td class='hp' title='{html.escape(str(value), quote=True)}'>"
                         f"{html.escape(_rounded(value))}</td>")
        body.append(f"<tr class='{classes}'>{''.join(cells)}</tr>")
    return f"<div class='wrap'><table><tr>{head}</tr>{''.join(body)}</table></div>"


# The page ---------------------------------------------------------------------


HEADLINES = (("accuracy", "accuracy"), ("micro_f1", "micro F1"), ("mae", "MAE"))


def _summary(card, records, state):
    search = card.get("search", {})
    test = card.get("metrics", {}).get("test", {})
    completed = sum(r["status"] == "COMPLETED" for r in records)
    items = [("task", card.get("task", "?")),
             ("data", card.get("data", {}).get("source", "?")),
             ("problem", card.get("problem", {}).get("type", "classification")),
             ("classes", len(card.get("classes", [])) or "-"),
             ("trials", f"{completed} completed of {len(records)}")]
    budget = search.get("time_budget_seconds")
    elapsed = search.get("wall_seconds") or state.get("elapsed_seconds")
    if elapsed is not None:
        used = f"{elapsed:.0f}s" + (f" of {budget:g}s" if budget else " (no budget)")
        items.append(("time used", used))
    if search.get("stop_reason"):
        items.append(("stop reason", search["stop_reason"].replace("_", " ")))
    headline = next(((name, test[key]) for key, name in HEADLINES if test.get(key) is not None),
                    None)
    if headline is not None:
        warning = " (near chance)" if test.get("near_chance") else ""
        items.append((f"test {headline[0]} of the export", f"{headline[1]:.4f}{warning}"))
    elif not state.get("finished"):
        items.append(("status", "search in progress or interrupted"))
    cards = "".join(f"<div class='card'><b>{html.escape(k)}</b>{html.escape(str(v))}</div>"
                    for k, v in items)
    notes = []
    seconds = search.get("seconds") or state.get("seconds")
    if seconds:
        notes.append("time: " + ", ".join(f"{k} {v:.1f}s" for k, v in seconds.items()))
    if len(search.get("ensemble") or []) > 1:
        notes.append(f"export: average of trials {', '.join(search['ensemble'])}, "
                     f"{search.get('retrained_on_train_val', 0)} retrained on train+val")
    elif search.get("retrain_epochs"):
        notes.append(f"export: trial {search.get('exported_trial')} retrained on train+val "
                     f"for {search['retrain_epochs']} "
                     f"epoch{'s' * (search['retrain_epochs'] != 1)}")
    if search.get("retrain_note"):
        notes.append(search["retrain_note"])
    note_html = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in notes)
    return f"<section id='summary'><div class='cards'>{cards}</div>{note_html}</section>"


def _litert_html(card):
    """The LiteRT files of the export, with what LiteRT's interpreter measured on test."""
    entries = card.get("litert") or {}
    if not entries:
        return ""
    header = ("file", "quantization", "size", "inputs", "test accuracy", "SavedModel",
              "labels agree", "latency", "float ops", "sha256")
    rows = []
    for entry in entries.values():
        inputs = "; ".join(f"{t['name']} {t['dtype']}{t['shape']}" for t in entry["inputs"])
        cells = (os.path.basename(entry["file"]), entry["quantization"],
                 f"{entry['size_bytes'] / 1024:.0f} KiB", inputs,
                 _rounded(entry.get("test_accuracy")),
                 _rounded(entry.get("saved_model_test_accuracy")),
                 _rounded(entry.get("agreement_with_saved_model")),
                 f"{entry['latency_ms']:.2f} ms" if entry.get("latency_ms") is not None else "",
                 ", ".join(entry.get("float_ops") or []) or "none",
                 entry["sha256"][:12])
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    return (f"<h2>LiteRT files</h2><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _examples_html(examples):
    if not examples:
        return ""
    items = []
    for example in examples:
        if "image" in example:
            body = f"<img alt='' src='{example['image']}'>"
        elif "text" in example:
            body = f"<div>{html.escape(example['text'])}</div>"
        else:
            body = ""
        items.append(
            f"<div class='example'>{body}<div><b>{html.escape(str(example['id']))}</b></div>"
            f"<div>predicted <b>{html.escape(example['predicted'])}</b> "
            f"({example['probability']:.2f}), true <b>{html.escape(example['true'])}</b></div></div>")
    return f"<h2>Misclassified test examples</h2><div class='examples'>{''.join(items)}</div>"


def figures(records, card, objective, maximize, interim=False):
    """The report's plots, each an `<svg>` string or None where there is nothing to draw.

    An `interim` report, written while a search runs, leaves out the costliest plot
    (each hyperparameter against the score).
    """
    test = card.get("metrics", {}).get("test", {})
    return [
        plots.best_so_far(records, objective, maximize),
        plots.scores_by_start(records, objective),
        None if interim else plots.hyperparameters(records, objective),
        plots.learning_curves(ranked(records, maximize), objective.removeprefix("val_")),
        plots.confusion_matrix(test.get("confusion_matrix"), card.get("classes", [])),
        plots.per_class(test.get("per_class") or test.get("per_label"),
                        "Per-label" if test.get("per_label") else "Per-class"),
        plots.predicted_against_true(test.get("residuals")),
        plots.residuals(test.get("residuals")),
    ]


def render(records, card, objective, maximize, drawn, state=None, examples=None):
    """The report page as one self-contained HTML string; `drawn`: its `figures`."""
    state = state or {}
    search = card.get("search", {})
    order = ranked(records, maximize)
    best_id = search.get("best_trial") or (order[0]["id"] if order else None)
    exported = set(search.get("ensemble") or [search.get("exported_trial")]) - {None}
    figure_html = "".join(f"<div class='plot'>{svg}</div>" for svg in drawn if svg)
    header, rows = trial_rows(records, objective)
    title = f"keras-automl report: {card.get('task', '')} search"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body><main>"
        f"<h1>{html.escape(title)}</h1>{_summary(card, records, state)}"
        f"<h2>Search</h2><div class='grid'>{figure_html}</div>"
        f"{_litert_html(card)}{_examples_html(examples)}"
        f"<h2>Trials</h2>{_trial_table(header, rows, best_id, exported)}"
        "</main></body></html>\n")


def write_report(records, card, objective, maximize, drawn, report_dir, state=None,
                 examples=None):
    """Write `trials.csv` and `index.html` (its plots `drawn`) into `report_dir` atomically."""
    header, rows = trial_rows(records, objective)
    page = render(records, card, objective, maximize, drawn, state, examples)

    def build(folder):
        with open(os.path.join(folder, "trials.csv"), "w", newline="", encoding="utf-8") as f:
            f.write(_csv_text(header, rows))
        with open(os.path.join(folder, "index.html"), "w", encoding="utf-8") as f:
            f.write(page)

    replace_folder(build, report_dir)
