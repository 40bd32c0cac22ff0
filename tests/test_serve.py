"""`automl serve`: TF Serving REST and KServe v2 answers equal `automl predict`'s, bad
requests get 4xx JSON errors, concurrent requests are batched, SIGTERM drains."""

import asyncio
import base64
import glob
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest
import soundfile
from PIL import Image

from conftest import assert_one_line_error, invoke
from test_audio import RATE, tone, write_clips

fastapi = pytest.importorskip("fastapi", reason="the serve extra is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from automl import server  # noqa: E402
from automl.export.predictor import ExportedModel  # noqa: E402
from automl.server.app import create_app  # noqa: E402
from automl.server.batcher import Batcher  # noqa: E402
from automl.server.models import ServedModel, load_models  # noqa: E402


@pytest.fixture(scope="module")
def audio_run(tmp_path_factory):
    clips = write_clips(tmp_path_factory.mktemp("serve-clips"))
    out = tmp_path_factory.mktemp("runs") / "keywords"
    result = invoke("search", "--task", "audio", "--data", clips, "--out", out,
                    "--max-trials", 1, "--epochs", 3)
    assert result.exit_code == 0, result.output
    return str(out)


@pytest.fixture(scope="module")
def client(image_run, keyword_text_run, audio_run):
    models = load_models({"digits": image_run, "reviews": keyword_text_run,
                          "keywords": audio_run})
    with TestClient(create_app(models), raise_server_exceptions=False) as test_client:
        yield test_client


def _pngs(image_run):
    with open(os.path.join(image_run, "recipe.yaml"), encoding="utf-8") as handle:
        data = next(line.split(":", 1)[1].strip() for line in handle
                    if line.startswith("data:"))
    return sorted(glob.glob(os.path.join(data, "test", "*", "*.png")))


def _b64(path):
    with open(path, "rb") as handle:
        return base64.b64encode(handle.read()).decode()


def _predicted(run_dir, *args):
    """`automl predict --json --top-k 3` of files or texts."""
    result = invoke("predict", run_dir, *args, "--top-k", 3, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _same(answer, expected):
    assert answer["label"] == expected["predictions"][0]["label"]
    assert [r["label"] for r in answer["top_k"]] == [r["label"] for r in expected["predictions"]]
    np.testing.assert_allclose([r["probability"] for r in answer["top_k"]],
                               [r["probability"] for r in expected["predictions"]], atol=1e-5)


def test_tf_serving_predict_of_pngs_equals_automl_predict(client, image_run):
    pngs = _pngs(image_run)[::3]
    expected = _predicted(image_run, *pngs)
    rows = client.post("/v1/models/digits:predict?top_k=3",
                       json={"instances": [{"b64": _b64(p)} for p in pngs]})
    assert rows.status_code == 200, rows.text
    for answer, said in zip(rows.json()["predictions"], expected):
        _same(answer, said)
        assert len(answer["probabilities"]) == 3
    columns = client.post("/v1/models/digits/versions/1:predict",
                          json={"inputs": {"inputs": [{"b64": _b64(p)} for p in pngs]},
                                "top_k": 3}).json()["outputs"]
    assert columns["label"] == [said["predictions"][0]["label"] for said in expected]
    pixels = np.asarray(Image.open(pngs[0])).tolist()
    as_array = client.post("/v1/models/digits:predict", json={"instances": [pixels]}).json()
    assert as_array["predictions"][0]["label"] == expected[0]["predictions"][0]["label"]


def test_texts_over_both_protocols_equal_automl_predict(client, keyword_text_run):
    texts = ["rain and storm in the forecast", "the striker scored a penalty goal",
             "simmer the flour in the oven"]
    expected = _predicted(keyword_text_run, *[arg for text in texts for arg in ("--text", text)])
    rows = client.post("/v1/models/reviews:predict", json={"instances": texts, "top_k": 3})
    for answer, said in zip(rows.json()["predictions"], expected):
        _same(answer, said)
    infer = client.post("/v2/models/reviews/infer", json={
        "id": "r1", "parameters": {"top_k": 2},
        "inputs": [{"name": "inputs", "shape": [3], "datatype": "BYTES", "data": texts}]})
    assert infer.status_code == 200, infer.text
    body = infer.json()
    assert body["id"] == "r1" and body["model_name"] == "reviews"
    tensors = {t["name"]: t for t in body["outputs"]}
    assert tensors["label"]["data"] == [said["predictions"][0]["label"] for said in expected]
    assert tensors["probabilities"]["shape"] == [3, 3]
    assert tensors["top_k_labels"]["shape"] == [3, 2]


def test_wavs_and_waveforms_over_both_protocols_equal_automl_predict(client, audio_run,
                                                                     tmp_path):
    clips = []
    for i, pitch in enumerate((220.0, 660.0, 1760.0)):
        clips.append(str(tmp_path / f"{i}.wav"))
        soundfile.write(clips[-1], tone(pitch, seed=50 + i), RATE)
    expected = _predicted(audio_run, *clips)
    rows = client.post("/v1/models/keywords:predict",
                       json={"instances": [{"b64": _b64(c)} for c in clips], "top_k": 3})
    for answer, said in zip(rows.json()["predictions"], expected):
        _same(answer, said)
    infer = client.post("/v2/models/keywords/infer", json={"inputs": [
        {"name": "inputs", "shape": [3], "datatype": "BYTES", "data": [_b64(c) for c in clips]}]})
    labels = [said["predictions"][0]["label"] for said in expected]
    assert {t["name"]: t for t in infer.json()["outputs"]}["label"]["data"] == labels
    waves = [soundfile.read(c, dtype="float32")[0] for c in clips]
    floats = client.post("/v2/models/keywords/infer", json={"inputs": [
        {"name": "inputs", "shape": [3, len(waves[0])], "datatype": "FP32",
         "data": np.stack(waves).ravel().tolist()}]})
    assert {t["name"]: t for t in floats.json()["outputs"]}["label"]["data"] == labels


def test_status_metadata_and_health_routes(client):
    status = client.get("/v1/models/digits").json()
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    metadata = client.get("/v1/models/reviews/metadata").json()
    signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["inputs"]["dtype"] == "DT_STRING"
    assert set(signature["outputs"]) == {"probabilities", "label"}
    assert metadata["automl"]["classes"] == ["cooking", "football", "weather"]
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/keywords/ready").json() == {"name": "keywords", "ready": True}
    v2 = client.get("/v2/models/digits").json()
    assert v2["inputs"][0]["datatype"] == "FP32" and v2["versions"] == ["1"]
    names = [entry["name"] for entry in client.post("/v2/repository/index").json()]
    assert names == ["digits", "reviews", "keywords"]
    assert "<select id=\"model\">" in client.get("/").text


def _corrupt_wav():
    buffer = io.BytesIO()
    soundfile.write(buffer, tone(220.0), RATE, format="WAV")
    return base64.b64encode(buffer.getvalue()[:60]).decode()


BAD_REQUESTS = [
    ("post", "/v1/models/digits:predict", b"{not json", 400, "malformed JSON"),
    ("post", "/v1/models/digits:predict", b"[1, 2]", 400, '"instances" or "inputs"'),
    ("post", "/v1/models/digits:predict", {"instances": [[[1, 2], [3]]]}, 400, "rectangle"),
    ("post", "/v1/models/digits:predict", {"instances": [[1, 2, 3]]}, 400, "images must be"),
    ("post", "/v1/models/digits:predict",
     {"instances": [{"b64": base64.b64encode(b"\x89PNG\r\n\x1a\nbroken").decode()}]}, 400,
     "cannot decode the image file"),
    ("post", "/v1/models/keywords:predict", {"instances": [{"b64": _corrupt_wav()}]}, 400,
     "truncated WAV"),
    ("post", "/v1/models/reviews:predict", {"instances": ["   "]}, 400, "empty text"),
    ("post", "/v1/models/missing:predict", {"instances": ["x"]}, 404, "no model named 'missing'"),
    ("post", "/v1/models/digits:predict", {"instances": [{"b64": "%%%"}]}, 400, "base64"),
    ("post", "/v2/models/reviews/infer",
     {"inputs": [{"name": "inputs", "shape": [2], "datatype": "BYTES", "data": ["a"]}]}, 400,
     "shape [2] and 1 elements"),
    ("post", "/v2/models/digits/infer",
     {"inputs": [{"name": "inputs", "shape": [1], "datatype": "INT4", "data": [1]}]}, 400,
     "unsupported datatype"),
    ("get", "/v1/models/digits:predict", None, 405, "takes POST"),
    ("post", "/v1/models/digits:predict", {"instances": [1], "top_k": 0}, 400, "top_k"),
    ("get", "/v1/nothing/here", None, 404, "no route"),
]


@pytest.mark.parametrize("method, path, body, status, fragment", BAD_REQUESTS,
                         ids=[f"{row[3]}-{row[4][:20]}" for row in BAD_REQUESTS])
def test_a_bad_request_gets_a_json_error_and_the_server_keeps_serving(client, method, path,
                                                                      body, status, fragment):
    if isinstance(body, bytes):
        response = client.request(method, path, content=body)
    else:
        response = client.request(method, path, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert fragment in error and "\n" not in error
    assert client.get("/v2/health/ready").json() == {"ready": True}
    answer = client.post("/v1/models/reviews:predict", json={"instances": ["sunny and rain"]})
    assert answer.status_code == 200


def test_oversize_bodies_get_413_and_slow_answers_504(image_run):
    models = load_models({"digits": image_run})
    with TestClient(create_app(models, max_request_bytes=1000, timeout=1e-6)) as small:
        big = small.post("/v1/models/digits:predict", json={"instances": [[[0] * 300]] * 4})
        assert big.status_code == 413 and "limit of 1000" in big.json()["error"]
        pixels = np.zeros((8, 8), dtype=int).tolist()
        slow = small.post("/v1/models/digits:predict", json={"instances": [pixels]})
        assert slow.status_code == 504 and "--timeout" in slow.json()["error"]
        assert small.get("/v2/health/ready").status_code == 200


def test_concurrent_requests_run_in_few_batches_each_getting_its_own_rows():
    calls = []

    def run(batch):
        calls.append(len(batch))
        time.sleep(0.02)
        return batch * 10

    async def send(batcher, count):
        batcher.start()
        answers = await asyncio.gather(*[batcher.predict(np.asarray([i, i + 0.5]))
                                         for i in range(count)])
        await batcher.stop()
        return answers

    answers = asyncio.run(send(Batcher(run, max_batch_size=16, max_wait_ms=50), 24))
    assert [a.tolist() for a in answers] == [[10 * i, 10 * i + 5] for i in range(24)]
    assert len(calls) <= 3 and max(calls) <= 16
    calls.clear()
    asyncio.run(send(Batcher(run, max_batch_size=1, max_wait_ms=50), 5))
    assert calls == [2] * 5  # a request larger than the batch runs alone


def test_multilabel_and_regression_answers_follow_the_card(image_run, tmp_path):
    card = json.load(open(os.path.join(image_run, "model", "model_card.json")))
    card["problem"] = {"type": "multilabel", "thresholds": {"bottom": 0.3, "left": 0.6,
                                                           "top": 0.2}}
    (tmp_path / "model_card.json").write_text(json.dumps(card))
    model = object.__new__(ServedModel)
    model.exported = ExportedModel(str(tmp_path), load_saved_model=False)
    model.problem = "multilabel"
    answer = model.answer(np.asarray([0.4, 0.5, 0.25]))
    assert answer["labels"] == ["bottom", "top"]
    assert [r["threshold"] for r in answer["top_k"]] == [0.6, 0.3, 0.2]
    card["problem"] = {"type": "regression"}
    (tmp_path / "model_card.json").write_text(json.dumps(card))
    model.exported = ExportedModel(str(tmp_path), load_saved_model=False)
    model.problem = "regression"
    assert model.answer(np.float32(2.5)) == {"value": 2.5}


def test_litert_backend_answers_as_automl_predict_tflite(image_run, tmp_path):
    pytest.importorskip("ai_edge_litert", reason="LiteRT is not installed")
    run = shutil.copytree(image_run, tmp_path / "lite")
    assert invoke("export", run, "--format", "tflite").exit_code == 0
    pngs = _pngs(image_run)[:4]
    result = invoke("predict", run, *pngs, "--tflite", "--json")
    expected = json.loads(result.output)
    with TestClient(create_app(load_models({"lite": str(run)}, tflite=True))) as lite:
        assert lite.get("/v2/models/lite").json()["platform"] == "tflite"
        answers = lite.post("/v1/models/lite:predict",
                            json={"instances": [{"b64": _b64(p)} for p in pngs]}).json()
    for answer, said in zip(answers["predictions"], expected):
        _same(answer, said)


def test_a_non_loopback_host_gets_a_warning(image_run, monkeypatch):
    monkeypatch.setattr(server.uvicorn.Server, "run", lambda self: None)
    lines = []
    server.serve([image_run], host="0.0.0.0", echo=lambda line, **kw: lines.append(line))
    assert any(line.startswith("warning: listening on 0.0.0.0 without authentication")
               for line in lines)
    lines.clear()
    server.serve([image_run], host="127.0.0.1", echo=lambda line, **kw: lines.append(line))
    assert not any("warning" in line for line in lines)


def test_serve_refuses_bad_arguments_in_one_line(image_run):
    assert_one_line_error(invoke("serve"), "nothing to serve")
    assert_one_line_error(invoke("serve", "--name", "a", image_run), "--name takes NAME=RUN")
    assert_one_line_error(invoke("serve", image_run, "--name", f"image={image_run}"),
                          "two runs are named 'image'")
    assert_one_line_error(invoke("serve", image_run, "--quantize", "int8"), "--tflite")


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_sigterm_answers_requests_in_flight_and_exits_0(image_run):
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "automl", "serve", image_run, "--port",
                                str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/v2/health/ready", timeout=1)
                break
            except OSError:
                assert process.poll() is None, process.communicate()
                time.sleep(0.25)
        many = json.dumps({"instances": [{"b64": _b64(_pngs(image_run)[0])}] * 3000}).encode()
        answers = []

        def send():
            request = urllib.request.Request(f"{url}/v1/models/image:predict", data=many)
            answers.append(json.load(urllib.request.urlopen(request, timeout=120)))

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        sender.join(120)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert len(answers) == 1 and len(answers[0]["predictions"]) == 3000
    assert "image: image classification" in out
