"""The run report: one row per trial in `RUN/report/trials.csv`, and an HTML summary."""

import csv
import html
import io
import os

from automl.export import replace_folder


def trial_rows(trials, objective):
    """Rows of (id, status, score, seconds, epochs, message, hyperparameters...)."""
    names = sorted({name for t in trials for name in t.hyperparameters.values})
    rows = []
    for trial in sorted(trials, key=lambda t: t.trial_id):
        metrics = trial.metrics
        completed = trial.status == "COMPLETED"
        row = {
            "trial_id": trial.trial_id,
            "status": trial.status,
            objective: "" if not completed or trial.score is None else f"{trial.score:.6f}",
            "seconds": f"{metrics.get_last_value('fit_seconds'):.2f}" if completed else "",
            "epochs": int(metrics.get_last_value("epochs_run")) if completed else "",
            "message": trial.message or "",
        }
        row.update({name: trial.hyperparameters.values.get(name, "") for name in names})
        rows.append(row)
    header = ["trial_id", "status", objective, "seconds", "epochs", "message", *names]
    return header, rows


def _csv_text(header, rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _html_text(header, rows, card):
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row[h]))}</td>" for h in header) + "</tr>"
        for row in rows)
    test = card.get("metrics", {}).get("test", {}).get("accuracy")
    summary = f"task {html.escape(card['task'])}, test accuracy {test:.4f}" if test is not None else ""
    return (f"<!doctype html><meta charset='utf-8'><title>keras-automl report</title>"
            f"<h1>keras-automl report</h1><p>{summary}</p>"
            f"<table border=1 cellspacing=0><tr>{cells}</tr>{body}</table>\n")


def write_report(trials, objective, card, report_dir):
    """Write `trials.csv` and `index.html` into `report_dir` atomically."""
    header, rows = trial_rows(trials, objective)

    def build(folder):
        with open(os.path.join(folder, "trials.csv"), "w", newline="", encoding="utf-8") as f:
            f.write(_csv_text(header, rows))
        with open(os.path.join(folder, "index.html"), "w", encoding="utf-8") as f:
            f.write(_html_text(header, rows, card))

    replace_folder(build, report_dir)
