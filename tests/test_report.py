"""The HTML report, TensorBoard logs, --json output and the command-line help."""

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import assert_one_line_error, invoke


def _page(run):
    with open(os.path.join(run, "report", "index.html"), encoding="utf-8") as handle:
        return handle.read()


def test_the_report_is_self_contained_with_plots_and_marked_trials(image_run):
    page = _page(image_run)
    card = json.load(open(os.path.join(image_run, "model", "model_card.json")))
    assert not re.search(r"https?://|src=['\"]//", page)
    assert len(re.findall(r"class=['\"]plot['\"]", page)) >= 6
    assert "id='summary'" in page and f"{card['metrics']['test']['accuracy']:.4f}" in page
    exported = card["search"]["exported_trial"]
    row = re.search(rf"<tr class='[^']*exported[^']*'><td>{exported}<", page)
    assert row and "tag exported'>exported<" in page and "tag best'>best<" in page
    assert "Confusion matrix (test)" in page and "Learning curves" in page


def test_the_report_is_rebuilt_from_the_run_directory(image_run, tmp_path):
    run = tmp_path / "copy"
    shutil.copytree(image_run, run)
    os.remove(run / "report" / "index.html")
    result = invoke("report", run)
    assert result.exit_code == 0, result.output
    assert _page(run) .count("class='plot'") >= 6


def test_the_interim_report_redraws_its_plots_within_their_share_of_the_search(
        image_run, tmp_path, monkeypatch):
    from automl.report import page, run_report
    from automl.run_folder import RunDir

    shutil.copytree(image_run, tmp_path / "copy")
    run = RunDir(str(tmp_path / "copy"))
    trials = page.load_trials(run.search)
    clock, drawn = [100.0], []

    def figures(records, card, objective, maximize, interim=False):
        drawn.append(len(records))
        clock[0] += 2.0  # drawing takes 2 s: redrawn at most every 2 / PLOTS_SHARE s
        return [f"<svg>{len(drawn)}</svg>"]

    monkeypatch.setattr(page, "figures", figures)
    monkeypatch.setattr(run_report.time, "monotonic", lambda: clock[0])
    report = run_report.InterimReport(run, "val_accuracy", {"task": "image"})
    interim = tmp_path / "copy" / "search" / "report"
    for seconds_later, shown in ((0, 1), (10, 2), (2 / run_report.PLOTS_SHARE, 2)):
        clock[0] += seconds_later
        report(trials[:shown])
        written = (interim / "index.html").read_text()
        assert written.count("<tr class=") == shown  # the trial table is always current
        assert f"<svg>{len(drawn)}</svg>" in written
    assert drawn == [1, 2]  # the second report kept the first one's plots


def test_misclassified_examples_are_shown_with_their_labels():
    import numpy as np

    from automl.data.sources import Split
    from automl.report.page import misclassified_examples

    x = np.zeros((4, 8, 8, 1), dtype="float32")
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    images = Split(x, np.array([0, 0, 1, 0]), ["a.png", "b.png", "c.png", "d.png"])
    examples = misclassified_examples("image", images, probabilities.argmax(1), probabilities,
                                      ["cat", "dog"])
    assert [e["id"] for e in examples] == ["b.png", "d.png", "c.png"]
    assert examples[0]["predicted"] == "dog" and examples[0]["true"] == "cat"
    assert examples[0]["image"].startswith("data:image/png;base64,")
    texts = misclassified_examples("text", Split(np.array(["good", "bad"], dtype=object),
                                                 np.array([1, 1])),
                                   np.array([0, 1]), np.array([[0.7, 0.3], [0.1, 0.9]]),
                                   ["neg", "pos"])
    assert texts == [{"id": "test #0", "true": "pos", "predicted": "neg", "probability": 0.7,
                      "text": "good"}]


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not _chromium(), reason="headless Chromium is not installed "
                                            "(Debian: apt-get install chromium; .ci/run does)")
def test_the_report_renders_in_headless_chromium(image_run, tmp_path):
    import numpy as np
    from PIL import Image

    url = "file://" + os.path.abspath(os.path.join(image_run, "report", "index.html"))
    flags = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--window-size=1280,1600", f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", url], capture_output=True, timeout=120,
                   check=True)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype="float32")
    assert pixels.shape[1] == 1280
    background = np.median(pixels)
    assert np.mean(np.abs(pixels - background) > 10) > 0.05, "the screenshot is nearly blank"
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert 'id="summary"' in dom
    assert len(re.findall(r'class="plot"', dom)) >= 5
    assert re.search(r'<tr class="[^"]*exported[^"]*">', dom)


def test_tensorboard_logs_hold_scalars_and_hparams(image_run):
    import tensorflow as tf

    logs = os.path.join(image_run, "logs")
    trials = sorted(d for d in os.listdir(logs) if os.path.isdir(os.path.join(logs, d)))
    assert len(trials) == 2

    def plugins(folder):
        found = set()
        for root, _, files in os.walk(folder):
            for name in files:
                if name.startswith("events.out.tfevents"):
                    for event in tf.compat.v1.train.summary_iterator(os.path.join(root, name)):
                        found.update(v.metadata.plugin_data.plugin_name
                                     for v in event.summary.value)
                        found.update(v.tag for v in event.summary.value)
        return found

    seen = plugins(os.path.join(logs, trials[0]))
    assert "hparams" in seen and "epoch_loss" in seen
    experiment = [n for n in os.listdir(logs) if n.startswith("events.out.tfevents")]
    assert experiment, "the search wrote no HParams experiment"


def test_json_outputs_parse(image_run, image_folder, tmp_path):
    from conftest import synthetic_image
    import numpy as np
    from PIL import Image

    image = tmp_path / "one.png"
    Image.fromarray(synthetic_image("top", np.random.RandomState(0)).astype("uint8")).save(image)
    tasks = json.loads(invoke("tasks", "--json").stdout)
    assert {"image", "text", "audio"} <= {t["name"] for t in tasks}
    predictions = json.loads(invoke("predict", image_run, image, "--json").stdout)
    assert predictions[0]["predictions"][0]["label"] == "top"
    resumed = json.loads(invoke("resume", image_run, "--json").stdout)
    assert resumed["already_finished"] is True
    assert resumed["card"]["task"] == "image" and resumed["card"]["classes"]
    failed = invoke("evaluate", image_run, tmp_path / "nowhere", "--json")
    assert failed.exit_code == 2
    assert json.loads(failed.stdout) == {"error": f"data not found: {tmp_path / 'nowhere'}",
                                         "exit_code": 2}
    scores = json.loads(invoke("evaluate", image_run, image_folder, "--json").stdout)
    files = sum(len(files) for _, _, files in os.walk(image_folder))
    assert scores["examples"] == files and scores["accuracy"] >= 0.9
    assert f"accuracy {scores['accuracy']:.4f} on {files} examples" in invoke(
        "evaluate", image_run, image_folder).output


def test_search_json_prints_only_the_document_on_stdout(image_folder, tmp_path):
    run = tmp_path / "run"
    result = invoke("search", "--task", "image", "--data", image_folder, "--out", run,
                    "--max-trials", 1, "--epochs", 1, "--json", "-v")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["card"]["task"] == "image" and document["run"] == str(run)
    assert "trial 0" in result.stderr


def test_help_shows_types_defaults_and_an_example():
    text = invoke("search", "--help").output
    assert re.search(r"--max-trials INTEGER", text)
    assert re.search(r"--time-budget DURATION", text)
    assert "[required]" in text and "[default: 0]" in text and "Examples:" in text
    for task in ("image", "text", "audio"):  # each task's own example, never cut mid-command
        assert re.search(rf"^    automl search --task {task} .* \\$", text, re.MULTILINE), text


def test_trials_csv_rounds_values_as_the_report_does():
    from automl.report.page import trial_rows

    record = {"id": "0", "status": "COMPLETED", "worker": "local", "score": 0.5, "seconds": 1.0,
              "epochs": 2, "message": "", "hyperparameters": {"x/rate": 0.1 + 0.2, "x/n": 3}}
    _, rows = trial_rows([record], "val_accuracy")
    assert rows[0]["x/rate"] == 0.3 and rows[0]["x/n"] == 3


def test_all_missing_required_options_are_named_at_once():
    assert_one_line_error(invoke("search", "--tuner", "random"),
                          "missing required options: --task, --data, --out")
