"""Load test of `automl serve` on loopback: p50/p99 latency and requests per second.

Start a server first (`automl serve runs/digits --port 8501`), then for example

    python benchmarks/serve_load.py --model digits --input digit.png --clients 1 8 32 \
        --seconds 30 --server-pid $(pgrep -f "automl serve" | head -1)

Each level runs `--clients` threads for `--seconds`, each sending one-example
`:predict` requests back to back on its own keep-alive connection (an image or
clip as b64, a `.txt` file as text), and stops by itself. With `--server-pid` the
server's resident memory is printed after each level.
"""

import argparse
import base64
import http.client
import json
import statistics
import threading
import time
import urllib.parse


def _body(path, top_k):
    with open(path, "rb") as handle:
        content = handle.read()
    if path.lower().endswith(".txt"):
        instance = content.decode("utf-8").strip()
    else:
        instance = {"b64": base64.b64encode(content).decode()}
    return json.dumps({"instances": [instance], "top_k": top_k}).encode()


def _resident_mb(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _client(host, port, path, body, stop_at, latencies, errors):
    connection = http.client.HTTPConnection(host, port, timeout=60)
    headers = {"Content-Type": "application/json"}
    while time.perf_counter() < stop_at:
        start = time.perf_counter()
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                errors.append(response.status)
                continue
        except (OSError, http.client.HTTPException) as error:
            errors.append(type(error).__name__)
            connection.close()
            connection = http.client.HTTPConnection(host, port, timeout=60)
            continue
        latencies.append(time.perf_counter() - start)
    connection.close()


def run_level(url, model, body, clients, seconds):
    """`(requests per second, p50 ms, p99 ms, errors)` of `clients` threads for `seconds`."""
    parsed = urllib.parse.urlsplit(url)
    latencies, errors = [], []
    stop_at = time.perf_counter() + seconds
    threads = [threading.Thread(target=_client, args=(parsed.hostname, parsed.port,
                                                      f"/v1/models/{model}:predict", body,
                                                      stop_at, latencies, errors))
               for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if not latencies:
        return 0.0, float("nan"), float("nan"), errors
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return len(latencies) / elapsed, 1000 * statistics.median(ordered), 1000 * p99, errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8501")
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True, help="an image, a clip, or a .txt file")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--top-k", type=int, default=1)
    parser.add_argument("--server-pid", type=int)
    args = parser.parse_args()
    host = urllib.parse.urlsplit(args.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the load test runs on loopback only (127.0.0.1, localhost, ::1)")
    body = _body(args.input, args.top_k)
    print(f"{'clients':>7}  {'req/s':>8}  {'p50 ms':>8}  {'p99 ms':>8}  errors"
          + ("  server RSS MB" if args.server_pid else ""))
    baseline = None
    for clients in args.clients:
        rate, p50, p99, errors = run_level(args.url, args.model, body, clients, args.seconds)
        baseline = baseline or (rate if clients == 1 else None)
        line = f"{clients:>7}  {rate:>8.1f}  {p50:>8.1f}  {p99:>8.1f}  {len(errors):>6}"
        if args.server_pid:
            line += f"  {_resident_mb(args.server_pid):>13.0f}"
        if baseline and clients > 1:
            line += f"  ({rate / baseline:.1f}x one client)"
        print(line, flush=True)


if __name__ == "__main__":
    main()
