"""`automl serve` end to end on loopback: answers, bad requests, load and memory.

Usage: python benchmarks/serve_acceptance.py --image RUN PNG --text RUN SENTENCE
         --audio RUN WAV [--port 8571] [--load-seconds 30] [--soak-seconds 90]
         [--levels-seconds 10] [--skip-levels]

One server serves the three runs at once. Printed, one line a check:
  answers   TF Serving `:predict` (b64 PNG, a sentence, b64 WAV) and KServe v2 `infer`
            for each run, against `automl predict --json` on the same input
  bad       ten bad requests of different kinds: status and error line each, then
            whether the server is still ready
  load      32 concurrent clients for --load-seconds against one client sending one
            request at a time: requests per second, p50/p99, errors, the ratio
  memory    the server's resident memory after the first minute of 32 clients and
            at the end of --soak-seconds
  levels    (unless --skip-levels) requests per second and p50/p99 at 1, 8 and 32
            clients for every model, SavedModel and LiteRT, batching on and off
            (one server per backend and batching setting)
"""

import argparse
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from serve_load import run_level

from common import machine


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(url, body=None, raw=None, method=None):
    """`(status, JSON answer)` of one request."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def serve(names, port, *extra):
    process = subprocess.Popen([sys.executable, "-m", "automl", "serve", *extra, "--port",
                                str(port), *[f"--name={n}={r}" for n, r in names.items()]],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            if call(f"{url}/v2/health/ready")[0] == 200:
                return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"the server did not become ready: {process.stderr.read()[-500:]}")


def stop(process):
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


def b64(path):
    with open(path, "rb") as handle:
        return {"b64": base64.b64encode(handle.read()).decode()}


def predicted(run, item, kind):
    args = ["--text", item] if kind == "text" else [item]
    done = subprocess.run([sys.executable, "-m", "automl", "predict", run, *args, "--json"],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)[0]["predictions"][0]["label"]


def check_answers(url, inputs):
    for name, (run, item, kind) in inputs.items():
        instance = item if kind == "text" else b64(item)
        status, tf_answer = call(f"{url}/v1/models/{name}:predict", {"instances": [instance]})
        tf_label = tf_answer["predictions"][0]["label"] if status == 200 else tf_answer
        input_name = call(f"{url}/v2/models/{name}")[1]["inputs"][0]["name"]
        tensor = {"name": input_name, "datatype": "BYTES", "shape": [1],
                  "data": [item if kind == "text" else instance["b64"]]}
        status_v2, v2_answer = call(f"{url}/v2/models/{name}/infer", {"inputs": [tensor]})
        v2_label = (next(o["data"][0] for o in v2_answer["outputs"] if o["name"] == "label")
                    if status_v2 == 200 else v2_answer)
        expected = predicted(run, item, kind)
        ok = tf_label == v2_label == expected
        print(f"{'PASS' if ok else 'FAIL'} answers {name}: TF Serving {tf_label!r}, "
              f"KServe v2 {v2_label!r}, automl predict {expected!r}", flush=True)


def oversize(url, limit_mb=16):
    """`(status, answer)` of a body over the limit, sent by curl: it reads the early 413
    that urllib, still writing the body, loses to a reset connection."""
    body = b'{"instances": ["' + b"x" * ((limit_mb + 1) * 2**20) + b'"]}'
    done = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "-H",
                           "Content-Type: application/json", "--data-binary", "@-", url],
                          input=body, capture_output=True, check=True)
    answer, status = done.stdout.decode().rsplit("\n", 1)
    return int(status), json.loads(answer)


def check_bad(url, image_name, text_name):
    png = f"{url}/v1/models/{image_name}:predict"
    input_name = call(f"{url}/v2/models/{image_name}")[1]["inputs"][0]["name"]
    cases = [
        ("malformed JSON", png, None, b"{\"instances\": [", "POST"),
        ("no instances or inputs", png, {"rows": [1]}, None, "POST"),
        ("corrupt image", png, {"instances": [{"b64": base64.b64encode(b"not a png").decode()}]},
         None, "POST"),
        ("invalid base64", png, {"instances": [{"b64": "%%%"}]}, None, "POST"),
        ("wrong shape", png, {"instances": [[1.0, 2.0, 3.0]]}, None, "POST"),
        ("empty text", f"{url}/v1/models/{text_name}:predict", {"instances": [""]}, None, "POST"),
        ("unknown model", f"{url}/v1/models/nothing:predict", {"instances": ["x"]}, None, "POST"),
        ("oversize body", png, None, None, "CURL"),
        ("wrong method", png, None, None, "GET"),
        ("bad v2 datatype", f"{url}/v2/models/{image_name}/infer",
         {"inputs": [{"name": input_name, "datatype": "COMPLEX", "shape": [1], "data": [1]}]},
         None, "POST"),
    ]
    for label, target, body, raw, method in cases:
        try:
            status, answer = (oversize(target) if method == "CURL"
                              else call(target, body, raw, method))
        except OSError as error:
            status, answer = None, {"error": repr(error)}
        ok = status is not None and 400 <= status < 500 and "\n" not in answer.get("error", "\n")
        print(f"{'PASS' if ok else 'FAIL'} bad {label}: {status} {answer.get('error')!r}",
              flush=True)
    status, answer = call(f"{url}/v2/health/ready")
    print(f"{'PASS' if status == 200 else 'FAIL'} ready after the bad requests: {status} {answer}",
          flush=True)


def request_body(item, kind):
    return json.dumps({"instances": [item if kind == "text" else b64(item)]}).encode()


def resident_mb(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def check_load(url, name, item, kind, seconds):
    body = request_body(item, kind)
    one, p50_one, p99_one, errors_one = run_level(url, name, body, 1, seconds)
    many, p50, p99, errors = run_level(url, name, body, 32, seconds)
    ok = not errors and not errors_one and many >= 3 * one
    print(f"{'PASS' if ok else 'FAIL'} load {name}: one client {one:.1f} req/s "
          f"(p50 {p50_one:.1f} ms, p99 {p99_one:.1f} ms); 32 clients {many:.1f} req/s "
          f"(p50 {p50:.1f} ms, p99 {p99:.1f} ms), {len(errors) + len(errors_one)} errors, "
          f"{many / max(one, 1e-9):.1f}x", flush=True)


def check_memory(url, pid, name, item, kind, seconds):
    body = request_body(item, kind)
    samples = {}

    def sample():
        time.sleep(60)
        samples["minute"] = resident_mb(pid)

    sampler = threading.Thread(target=sample)
    sampler.start()
    rate, _, _, errors = run_level(url, name, body, 32, seconds)
    sampler.join()
    end = resident_mb(pid)
    ok = not errors and abs(end - samples["minute"]) <= 0.1 * samples["minute"]
    print(f"{'PASS' if ok else 'FAIL'} memory {name}: {samples['minute']:.0f} MB after the first "
          f"minute, {end:.0f} MB after {seconds:.0f} s of 32 clients ({rate:.1f} req/s, "
          f"{len(errors)} errors)", flush=True)


def levels(names, inputs, seconds):
    print("backend      batching  model     clients   req/s   p50 ms   p99 ms  errors",
          flush=True)
    for backend, extra in (("SavedModel", []), ("LiteRT", ["--tflite"])):
        for batching, batch in (("on", "32"), ("off", "1")):
            process, url = serve(names, free_port(), *extra, "--max-batch-size", batch)
            for name, (_, item, kind) in inputs.items():
                body = request_body(item, kind)
                for clients in (1, 8, 32):
                    rate, p50, p99, errors = run_level(url, name, body, clients, seconds)
                    print(f"{backend:<12} {batching:<9} {name:<9} {clients:>7} {rate:>7.1f} "
                          f"{p50:>8.1f} {p99:>8.1f} {len(errors):>7}", flush=True)
            stop(process)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for kind in ("image", "text", "audio"):
        parser.add_argument(f"--{kind}", nargs=2, metavar=("RUN", "INPUT"), required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--load-seconds", type=float, default=30)
    parser.add_argument("--soak-seconds", type=float, default=90)
    parser.add_argument("--levels-seconds", type=float, default=10)
    parser.add_argument("--skip-levels", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}; {time.strftime('%Y-%m-%d %H:%M')}", flush=True)
    inputs = {os.path.basename(os.path.normpath(run)): (run, item, kind) for kind, (run, item) in
              (("image", args.image), ("text", args.text), ("audio", args.audio))}
    names = {name: run for name, (run, _, _) in inputs.items()}
    process, url = serve(names, args.port or free_port())
    image_name, text_name = (n for n, (_, _, k) in inputs.items() if k in ("image", "text"))
    check_answers(url, inputs)
    check_bad(url, image_name, text_name)
    for name, (_, item, kind) in inputs.items():
        check_load(url, name, item, kind, args.load_seconds)
    check_memory(url, process.pid, image_name, *inputs[image_name][1:], args.soak_seconds)
    code = stop(process)
    print(f"{'PASS' if code == 0 else 'FAIL'} SIGTERM: exit {code}", flush=True)
    if not args.skip_levels:
        levels(names, inputs, args.levels_seconds)


if __name__ == "__main__":
    main()
