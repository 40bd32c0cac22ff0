"""Run the correctness checks of distributed searches, exports, labels, runs and signals.

Usage: python benchmarks/correctness_acceptance.py WORK [--only NAME[,NAME...]]
         [--keras-only-python PATH] [--rotten-tomatoes DIR]

WORK receives the data and the runs. Checks, one after the other (nothing else should
run on the machine while they do, since several time a budget):
  distributed  a chief with --time-budget 120 and two workers (--threads 1) on digits
               PNG folders; a second such search SIGKILLed mid-search and resumed, the
               workers reconnecting; a chief with --time-budget 60 and no worker
  worker-term  SIGTERM to a worker mid-trial: its exit time and the trial's rerun
  keras-only   model.keras of a balanced text run, a multilabel image run and a
               regression audio run, loaded by a Python that has TensorFlow and Keras
               only (--keras-only-python), against the SavedModel's outputs
  labels       60 class folders named 0..59; ImageClassifier with 100 integer
               classes; a CSV with 60 integer labels, and with --problem classification
  cache        automl.search without out=, then `automl cache clean --all`
  tflite-term  SIGTERM during `--export tflite`, then `automl resume`
  paths        a manifest row ../../etc/passwd
  resume-json  `automl resume RUN --json` after a SIGKILL mid-search
Each check prints one line: PASS or FAIL, then what it measured.
"""

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data")


def automl(*args, env=None, **kwargs):
    """A child `automl` process with its output in files under WORK/logs."""
    return subprocess.Popen([sys.executable, "-m", "automl", *map(str, args)],
                            env={**os.environ, **(env or {})}, **kwargs)


def run(*args, timeout=900, env=None):
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "automl", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
    return done, time.time() - started


def report(name, ok, detail):
    print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def card(run_dir):
    with open(os.path.join(run_dir, "model", "model_card.json")) as handle:
        return json.load(handle)


def test_accuracy(run_dir):
    return card(run_dir)["metrics"]["test"]["accuracy"]


def workers_of(run_dir):
    try:
        with open(os.path.join(run_dir, "search", "workers.json")) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def digits(work):
    folder = os.path.join(work, "digits")
    if not os.path.isdir(folder):
        subprocess.run([sys.executable, os.path.join(HERE, "make_digits_pngs.py"), folder],
                       check=True)
    return folder


def start_workers(port, run_dir, logs, names=("one", "two")):
    return {name: automl("worker", "--connect", f"127.0.0.1:{port}", "--out", run_dir,
                         "--threads", 1, "--id", name,
                         stdout=open(os.path.join(logs, f"worker-{name}.out"), "w"),
                         stderr=subprocess.STDOUT) for name in names}


def stop(processes, timeout=60):
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()


def check_distributed(work, logs):
    data = digits(work)
    # A budgeted chief with two workers.
    run_dir = os.path.join(work, "dist")
    shutil.rmtree(run_dir, ignore_errors=True)
    port = free_port()
    started = time.time()
    chief = automl("search", "--task", "image", "--data", data, "--out", run_dir,
                   "--time-budget", 120, "--chief", "--listen", f"127.0.0.1:{port}",
                   stdout=open(os.path.join(logs, "chief.out"), "w"), stderr=subprocess.STDOUT)
    workers = start_workers(port, run_dir, logs)
    code = chief.wait(timeout=600)
    wall = time.time() - started
    stop(workers.values())
    per_worker = {}
    for worker in workers_of(run_dir).values():
        per_worker[worker] = per_worker.get(worker, 0) + 1
    accuracy = test_accuracy(run_dir) if code == 0 else None
    report("distributed 120 s", code == 0 and 108 <= wall <= 132 and len(per_worker) == 2
           and accuracy is not None and accuracy >= 0.96,
           f"exit {code}, wall {wall:.1f} s, trials per worker {per_worker}, test accuracy {accuracy}")

    # SIGKILL the chief mid-search, resume it, the workers reconnecting.
    run_dir = os.path.join(work, "dist-resume")
    shutil.rmtree(run_dir, ignore_errors=True)
    port = free_port()
    started = time.time()
    chief = automl("search", "--task", "image", "--data", data, "--out", run_dir,
                   "--time-budget", 120, "--chief", "--listen", f"127.0.0.1:{port}",
                   stdout=open(os.path.join(logs, "chief-killed.out"), "w"),
                   stderr=subprocess.STDOUT)
    workers = start_workers(port, run_dir, logs, names=("three", "four"))
    while len(workers_of(run_dir)) < 3 and chief.poll() is None:  # mid-search
        time.sleep(0.2)
    chief.send_signal(signal.SIGKILL)
    chief.wait()
    killed_at = time.time() - started
    before = dict(workers_of(run_dir))
    resumed_started = time.time()
    resume = automl("resume", run_dir, stdout=open(os.path.join(logs, "chief-resumed.out"), "w"),
                    stderr=subprocess.STDOUT)
    code = resume.wait(timeout=600)
    resumed_wall = time.time() - resumed_started
    stop(workers.values())
    after = workers_of(run_dir)
    summary = card(run_dir)["search"] if code == 0 else {}
    trial_ids = list(after)
    counted_once = len(trial_ids) == len(set(trial_ids))
    remaining = 120 - killed_at
    report("distributed SIGKILL + resume", code == 0 and counted_once
           and resumed_wall <= max(remaining, 0) * 1.1 + 15,
           f"killed at {killed_at:.0f} s with {len(before)} trials handed out; resume exit {code} "
           f"in {resumed_wall:.1f} s; trials {len(after)} ({summary.get('trials')} in the card), "
           f"workers {sorted(set(after.values()))}")

    # A chief nobody joins.
    run_dir = os.path.join(work, "dist-alone")
    shutil.rmtree(run_dir, ignore_errors=True)
    done, wall = run("search", "--task", "image", "--data", data, "--out", run_dir,
                     "--time-budget", 60, "--chief", "--listen", f"127.0.0.1:{free_port()}")
    last = (done.stderr.strip().splitlines() or [""])[-1]
    report("chief without workers 60 s", wall <= 66 and "Traceback" not in done.stderr,
           f"exit {done.returncode} in {wall:.1f} s: {last}")


def check_worker_term(work, logs):
    data = digits(work)
    run_dir = os.path.join(work, "dist-term")
    shutil.rmtree(run_dir, ignore_errors=True)
    port = free_port()
    chief = automl("search", "--task", "image", "--data", data, "--out", run_dir,
                   "--time-budget", 120, "--chief", "--listen", f"127.0.0.1:{port}",
                   stdout=open(os.path.join(logs, "chief-term.out"), "w"), stderr=subprocess.STDOUT)
    workers = start_workers(port, run_dir, logs, names=("five", "six"))
    while not any(w == "five" for w in workers_of(run_dir).values()) and chief.poll() is None:
        time.sleep(0.2)
    time.sleep(3)
    trial = [t for t, w in workers_of(run_dir).items() if w == "five"][-1]
    signalled = time.time()
    workers["five"].send_signal(signal.SIGTERM)
    code = workers["five"].wait(timeout=120)
    exit_seconds = time.time() - signalled
    chief_code = chief.wait(timeout=600)
    stop([workers["six"]])
    trial_file = os.path.join(run_dir, "search", f"trial_{trial}", "trial.json")
    try:
        with open(trial_file) as handle:
            status = json.load(handle).get("status")
    except OSError:
        status = None
    report("worker SIGTERM", exit_seconds <= 30 and chief_code == 0 and status == "COMPLETED",
           f"worker exit {code} after {exit_seconds:.1f} s; trial {trial} ended {status}; "
           f"chief exit {chief_code}")


KERAS_ONLY = """
import json, sys
import numpy as np
import tensorflow as tf
import keras
for name in ("automl", "automl_plugins"):
    try:
        __import__(name)
        raise SystemExit(f"{name} is importable here")
    except ImportError:
        pass
run, kind = sys.argv[1], sys.argv[2]
inputs = np.load(sys.argv[3], allow_pickle=False) if kind != "text" else None
if kind == "text":
    inputs = json.load(open(sys.argv[3]))
model = keras.saving.load_model(run + "/model/model.keras")
served = tf.saved_model.load(run + "/model/saved_model").signatures["serving_default"]
x = tf.constant(inputs)
ours = model.predict(x, verbose=0)
ours = np.asarray(ours[0] if isinstance(ours, (list, tuple)) else ours)
theirs = served(x)
theirs = theirs.get("probabilities", theirs.get("value")).numpy()
print(json.dumps({"shape": list(ours.shape),
                  "max_difference": float(np.max(np.abs(ours.reshape(theirs.shape) - theirs)))}))
"""


def check_keras_only(work, logs, python, rotten):
    script = os.path.join(work, "keras_only.py")
    with open(script, "w") as handle:
        handle.write(KERAS_ONLY)
    runs = {}
    # A balanced text run.
    text_run = os.path.join(work, "text-balanced")
    shutil.rmtree(text_run, ignore_errors=True)
    done, _ = run("search", "--task", "text", "--data", rotten, "--out", text_run,
                  "--max-trials", 2, "--epochs", 2, "--class-weight", "balanced")
    with open(os.path.join(rotten, "test.csv")) as handle:
        texts = [row["text"] for _, row in zip(range(32), csv.DictReader(handle))]
    text_inputs = os.path.join(work, "text-inputs.json")
    with open(text_inputs, "w") as handle:
        json.dump(texts, handle)
    runs["balanced text"] = (text_run, "text", text_inputs, done)
    # A multilabel image run and a regression audio run.
    for name, kind, args in (("shapes", "image", ["--problem", "multilabel"]),
                             ("tones", "audio", ["--problem", "regression",
                                                 "--label-column", "hz"])):
        folder = os.path.join(work, name)
        if not os.path.isdir(folder):
            subprocess.run([sys.executable, os.path.join(HERE, "make_problem_sets.py"), name,
                            folder], check=True)
        run_dir = os.path.join(work, f"{name}-run")
        shutil.rmtree(run_dir, ignore_errors=True)
        done, _ = run("search", "--task", kind, "--data", os.path.join(folder, "labels.csv"),
                      "--out", run_dir, "--max-trials", 2, "--epochs", 2, *args)
        with open(os.path.join(folder, "labels.csv")) as handle:
            paths = [os.path.join(folder, row["path"]) for _, row in
                     zip(range(16), csv.DictReader(handle))]
        if kind == "image":
            from PIL import Image
            batch = np.stack([np.asarray(Image.open(p).convert("RGB"), "float32") for p in paths])
        else:
            import soundfile
            batch = np.stack([soundfile.read(p, dtype="float32")[0] for p in paths])
        inputs = os.path.join(work, f"{name}-inputs.npy")
        np.save(inputs, batch)
        runs[f"{'multilabel' if kind == 'image' else 'regression'} {kind}"] = (
            run_dir, kind, inputs, done)
    for name, (run_dir, kind, inputs, done) in runs.items():
        if done.returncode != 0:
            report(f"keras-only {name}", False, f"search exit {done.returncode}: "
                   f"{done.stderr.strip().splitlines()[-1:]}")
            continue
        loaded = subprocess.run([python, script, run_dir, kind, inputs], capture_output=True,
                                text=True)
        if loaded.returncode != 0:
            report(f"keras-only {name}", False, loaded.stderr.strip().splitlines()[-1:])
            continue
        result = json.loads(loaded.stdout.strip().splitlines()[-1])
        report(f"keras-only {name}", result["max_difference"] < 1e-4,
               f"outputs {result['shape']}, largest difference to the SavedModel "
               f"{result['max_difference']:.2e}")


def said_problem(done):
    """The line a search printed about the problem type, from either stream."""
    lines = (done.stdout + done.stderr).splitlines()
    return next((line.strip() for line in lines if line.strip().startswith("problem")), "")


def check_labels(work, logs):
    from PIL import Image
    rng = np.random.RandomState(0)
    folder = os.path.join(work, "numbered")
    shutil.rmtree(folder, ignore_errors=True)
    for label in range(60):
        for split, count in (("train", 3), ("val", 1), ("test", 1)):
            target = os.path.join(folder, split, str(label))
            os.makedirs(target)
            for i in range(count):
                Image.fromarray(rng.randint(0, 255, (8, 8), dtype="uint8")).save(
                    os.path.join(target, f"{i}.png"))
    numbered = os.path.join(work, "numbered-run")
    done, _ = run("search", "--task", "image", "--data", folder, "--out", numbered,
                  "--max-trials", 1, "--epochs", 1, "--overwrite")
    problem = card(numbered)["problem"] if done.returncode == 0 else {}
    report("60 numbered class folders", problem.get("type") == "classification",
           f"exit {done.returncode}: {problem}; said {said_problem(done)}")

    code = ("import numpy as np, automl\n"
            "rng = np.random.RandomState(0)\n"
            "x = rng.randint(0, 255, (400, 8, 8, 1)).astype('float32')\n"
            "y = np.arange(400) % 100\n"
            "model = automl.ImageClassifier(max_trials=1, epochs=1, verbose=0, "
            f"out={os.path.join(work, 'estimator-run')!r}, overwrite=True).fit(x, y)\n"
            "print(model.card['problem']['type'], len(model.card['classes']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    report("ImageClassifier with 100 integer classes", done.returncode == 0 and
           done.stdout.strip().endswith("classification 100"), (done.stdout.strip() or done.stderr.strip()[-300:]))

    table = os.path.join(work, "numbers.csv")
    with open(table, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(600):
            writer.writerow([f"sample number {i % 60} of the set", i % 60])
    for extra, expected in (([], "regression"), (["--problem", "classification"],
                                                 "classification")):
        numbers = os.path.join(work, f"numbers-{expected}")
        done, _ = run("search", "--task", "text", "--data", table, "--out", numbers,
                      "--max-trials", 1, "--epochs", 1, "--overwrite", *extra)
        problem = card(numbers)["problem"] if done.returncode == 0 else {}
        report(f"CSV of 60 integer labels {' '.join(extra) or '(inferred)'}",
               problem.get("type") == expected and expected in said_problem(done),
               f"exit {done.returncode}: {problem}; said {said_problem(done)}")


def check_cache(work, logs):
    env = {"AUTOML_CACHE_DIR": os.path.join(work, "cache")}
    code = ("import numpy as np, automl\n"
            "rng = np.random.RandomState(0)\n"
            "x = rng.randint(0, 255, (60, 8, 8, 1)).astype('float32')\n"
            "y = np.arange(60) % 3\n"
            "result = automl.search('image', (x, y), max_trials=1, epochs=1, verbose=0)\n"
            "print(result.run_dir)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env})
    path = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    cleaned, _ = run("cache", "clean", "--all", env=env)
    loads = subprocess.run([sys.executable, "-c", f"import automl; automl.load({path!r})"],
                           capture_output=True, text=True)
    report("API run survives cache clean --all", bool(path) and os.path.isdir(path)
           and loads.returncode == 0,
           f"run {path}; clean said {cleaned.stdout.strip() or cleaned.stderr.strip()}; "
           f"load exit {loads.returncode}")


def check_tflite_term(work, logs):
    data = digits(work)
    run_dir = os.path.join(work, "tflite-term")
    shutil.rmtree(run_dir, ignore_errors=True)
    search = automl("search", "--task", "image", "--data", data, "--out", run_dir,
                    "--max-trials", 1, "--epochs", 2, "--export", "tflite:none,int8",
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # The converter is a child process of the search: signal once it exists.
    while search.poll() is None:
        children = subprocess.run(["pgrep", "-P", str(search.pid)], capture_output=True,
                                  text=True).stdout.split()
        if children:
            break
        time.sleep(0.05)
    time.sleep(1)
    search.send_signal(signal.SIGTERM)
    code = search.wait(timeout=120)
    done, _ = run("resume", run_dir)
    files = sorted(f for f in os.listdir(os.path.join(run_dir, "model")) if f.endswith(".tflite"))
    report("SIGTERM during --export tflite", code == 143 and done.returncode == 0 and files,
           f"exit {code}; resume exit {done.returncode}; LiteRT files {files}")


def check_paths(work, logs):
    from PIL import Image
    folder = os.path.join(work, "manifest")
    os.makedirs(folder, exist_ok=True)
    rows = []
    for i in range(12):
        name = f"{i}.png"
        Image.fromarray(np.full((8, 8), 20 * i, "uint8")).save(os.path.join(folder, name))
        rows.append([name, "a" if i % 2 else "b"])
    rows.append(["../../etc/passwd", "a"])
    with open(os.path.join(folder, "labels.csv"), "w", newline="") as handle:
        csv.writer(handle).writerows([["path", "label"], *rows])
    done, _ = run("search", "--task", "image", "--data", os.path.join(folder, "labels.csv"),
                  "--out", os.path.join(work, "manifest-run"), "--max-trials", 1, "--epochs", 1)
    lines = done.stderr.strip().splitlines()
    report("manifest row ../../etc/passwd", done.returncode == 2 and len(lines) == 1
           and "etc/passwd" in lines[0], f"exit {done.returncode}: {lines}")


def trial_started(run_dir):
    folder = os.path.join(run_dir, "search")
    return os.path.isdir(folder) and any(n.startswith("trial_") for n in os.listdir(folder))


def check_resume_json(work, logs):
    data = digits(work)
    run_dir = os.path.join(work, "killed")
    shutil.rmtree(run_dir, ignore_errors=True)
    search = automl("search", "--task", "image", "--data", data, "--out", run_dir,
                    "--time-budget", 60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not trial_started(run_dir) and search.poll() is None:
        time.sleep(0.2)
    time.sleep(3)
    search.send_signal(signal.SIGKILL)
    search.wait()
    done, wall = run("resume", run_dir, "--json")
    try:
        document = json.loads(done.stdout)
        ok = done.returncode == 0 and "card" in json.dumps(document)
        detail = f"exit {done.returncode} in {wall:.1f} s, one JSON document of {len(document)} keys"
    except ValueError:
        ok, detail = False, f"not JSON: {done.stdout[:200]!r}"
    report("resume --json after SIGKILL", ok, detail)


CHECKS = {"distributed": check_distributed, "worker-term": check_worker_term,
          "keras-only": check_keras_only, "labels": check_labels, "cache": check_cache,
          "tflite-term": check_tflite_term, "paths": check_paths, "resume-json": check_resume_json}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work")
    parser.add_argument("--only", default=",".join(CHECKS))
    parser.add_argument("--keras-only-python", default="/tmp/kerasonly/bin/python")
    parser.add_argument("--rotten-tomatoes", default=os.path.join(SHARED, "rotten_tomatoes"))
    args = parser.parse_args()
    logs = os.path.join(args.work, "logs")
    os.makedirs(logs, exist_ok=True)
    for name in args.only.split(","):
        if name == "keras-only":
            CHECKS[name](args.work, logs, args.keras_only_python, args.rotten_tomatoes)
        else:
            CHECKS[name](args.work, logs)


if __name__ == "__main__":
    main()
