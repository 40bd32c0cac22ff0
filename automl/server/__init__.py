"""`automl serve`: exported runs answering TF Serving REST and KServe v2 requests over HTTP.

    codec     request values (b64 files, texts, nested lists) -> the model's examples
    batcher   concurrent requests to one model -> one batch
    models    run directories -> served models and their answers
    app       the routes (FastAPI) and the demo page

`serve` loads the runs and runs the app with uvicorn until SIGINT or SIGTERM, which
stop taking connections, answer the requests in flight, and return.
"""

import ipaddress
import sys

import uvicorn

from automl.runtime import env, interrupt
from automl.server.app import create_app
from automl.server.models import load_models, parse_runs


def is_loopback(host):
    """Whether `host` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(runs, named=(), host="127.0.0.1", port=8501, tflite=False, quantization=None,
          max_batch_size=32, batch_wait_ms=5.0, max_request_mb=16.0, timeout=30.0,
          echo=print):
    """Serve the run directories `runs` (and `NAME=RUN` pairs `named`) until stopped."""
    models = load_models(parse_runs(runs, named), tflite, quantization, max_batch_size,
                         batch_wait_ms)
    app = create_app(models, int(max_request_mb * 2**20), timeout)
    if not is_loopback(host):
        echo(f"warning: listening on {host} without authentication: anyone who can reach "
             "this port can use the models (put an authenticating proxy in front)",
             file=sys.stderr)
    config = uvicorn.Config(app, host=host, port=port, log_level="info" if env.is_verbose()
                            else "warning", access_log=env.is_verbose(),
                            timeout_graceful_shutdown=timeout + 5, server_header=False)
    server = uvicorn.Server(config)
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    for name, model in models.items():
        echo(f"{name}: {model.card['task']} {model.problem}, {len(model.classes)} classes, "
             f"{model.platform} -> http://{shown}:{port}/v1/models/{name}:predict")
    echo(f"demo page http://{shown}:{port}/  (Ctrl-C or SIGTERM stops)")
    interrupt.install()  # uvicorn raises the signal that stopped it again: recorded, not raised
    server.run()
    return server
