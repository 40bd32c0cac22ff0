"""The `automl` command line."""

import json
import os
import time

import click

from automl.errors import AutomlError, SearchFailed, SearchInterrupted
from automl.runtime import env, interrupt

# The commands' modules, loaded when a command runs: `automl --help` stays fast and a
# signal that comes during start-up finds its handler in place.
cache_lib = env.lazy_module("automl.data.cache")
litert = env.lazy_module("automl.export.litert")
predictor = env.lazy_module("automl.export.predictor")
registry = env.lazy_module("automl.registry")
run_report = env.lazy_module("automl.report.run_report")
scaffold = env.lazy_module("automl.scaffold")
settings_lib = env.lazy_module("automl.settings")
search_run = env.lazy_module("automl.pipeline.run")
search_resume = env.lazy_module("automl.pipeline.resume")
worker_lib = env.lazy_module("automl.distribute.worker")
chief_lib = env.lazy_module("automl.distribute.chief")
server_lib = env.lazy_module("automl.server")

# Values stay strings here and are checked by `automl.settings`, which reports a bad
# value in one line; the metavars show the type each option takes.
_SEARCH_OPTIONS = [
    click.option("--task", metavar="NAME", help="Task plugin (see `automl tasks`).  [required]"),
    click.option("--data", metavar="SOURCE",
                 help="tfds:NAME[/CONFIG], a folder, a file, or a built-in name.  [required]"),
    click.option("--out", metavar="PATH", help="Run directory to write.  [required]"),
    click.option("--tuner", metavar="[bayesian|random|hyperband|grid]",
                 help="How configurations are proposed.  [default: bayesian]"),
    click.option("--max-trials", metavar="INTEGER",
                 help="Trials to run.  [default: 20 without a budget, as many as fit with one]"),
    click.option("--epochs", metavar="INTEGER", help="Epochs per trial.  [default: the task's]"),
    click.option("--scheduler", metavar="[asha|full]",
                 help="asha: successive halving; full: every trial trains all epochs.  "
                      "[default: asha with a budget, full without]"),
    click.option("--time-budget", metavar="DURATION",
                 help="Budget for the whole command: 600, 90s, 10m, 1h.  [default: none]"),
    click.option("--objective", metavar="NAME",
                 help="Metric to optimise: val_accuracy, val_loss, val_balanced_accuracy, "
                      "val_macro_f1, val_auc (two classes) for classification; val_micro_f1, "
                      "val_macro_f1, val_auc, val_subset_accuracy, val_loss for multilabel; "
                      "val_mae, val_rmse, val_loss for regression.  [default: "
                      "val_balanced_accuracy with class weights, else val_accuracy; val_micro_f1; "
                      "val_mae]"),
    click.option("--problem", metavar="[classification|multilabel|regression]",
                 help="What to predict: one class, any number of labels, or a number.  "
                      "[default: inferred from the labels and printed]"),
    click.option("--label-separator", metavar="TEXT",
                 help="What joins the labels of one example in a multilabel cell.  [default: |]"),
    click.option("--class-weight", metavar="[balanced|none]",
                 help="Weigh classes inversely to their training counts.  [default: balanced "
                      "where the largest class has at least 3 times the smallest's "
                      "examples, else none]"),
    click.option("--seed", metavar="INTEGER",
                 help="Seed for the trial sequence and training.  [default: 0]"),
    click.option("--split-seed", metavar="INTEGER",
                 help="Seed for carving val and test out of unsplit data.  [default: 0]"),
    click.option("--group-by", metavar="REGEX",
                 help="Carve splits by whole groups: the group is this expression's match in "
                      "each file name (its first group if it has one).  [default: none]"),
    click.option("--batch-size", metavar="INTEGER", help="Training batch size.  [default: the task's]"),
    click.option("--max-failures", metavar="INTEGER",
                 help="Stop after this many failed trials in a row.  [default: 5]"),
    click.option("--ensemble", metavar="INTEGER",
                 help="Most trials averaged in the export.  [default: the task's]"),
    click.option("--data-dir", metavar="PATH", help="TensorFlow Datasets data folder.  "
                                                    "[default: tfds's own]"),
    click.option("--download", is_flag=True, default=None,
                 help="Allow downloading tfds data.  [default: off]"),
    click.option("--cache-dir", metavar="PATH",
                 help="Data cache folder.  [default: $AUTOML_CACHE_DIR or ~/.cache/keras-automl]"),
    click.option("--threads", metavar="INTEGER",
                 help="TensorFlow intra- and inter-op threads.  [default: all cores]"),
    click.option("--strategy", metavar="[default|mirrored]",
                 help="mirrored: train each trial data-parallel over the local GPUs.  "
                      "[default: default]"),
    click.option("--precision", metavar="[float32|mixed]",
                 help="mixed: 16-bit compute on GPUs, float32 output.  [default: float32]"),
    click.option("--export", metavar="tflite[:QUANTIZE,...]",
                 help="Also write LiteRT files at the end, within the budget: tflite (float), "
                      "tflite:int8, tflite:none,int8 (as `automl export`).  [default: the "
                      "SavedModel only]"),
    click.option("--backbone", "backbones", multiple=True, metavar="NAME",
                 help="Also search from this pretrained backbone (repeatable): "
                      "mobilenet_v3_small, mobilenet_v3_large, efficientnet_v2_b0 or "
                      "hub:PRESET (docs/transfer.md).  [default: none]"),
    click.option("--backbone-weights", "backbone_weights", multiple=True, metavar="[NAME=]PATH",
                 help="A backbone's weights: a .weights.h5/.h5/.keras file or a KerasHub "
                      "preset folder (repeatable).  [default: the Keras and KerasHub caches]"),
    click.option("--word-vectors", metavar="FILE",
                 help="GloVe or fastText text-format vectors that start text embeddings."),
    click.option("--allow-download", is_flag=True, default=None,
                 help="Download backbone weights the caches lack.  [default: off]"),
    click.option("--init-from", metavar="RUN",
                 help="Also search from the network an earlier run of the same task "
                      "exported: its body, a new head (docs/transfer.md).  [default: none]"),
    click.option("--keep-trials", is_flag=True, default=None,
                 help="Keep every trial's weights after the export.  [default: only the "
                      "exported members']"),
]

_OVERWRITE_OPTION = click.option(
    "--overwrite", is_flag=True,
    help="Replace the search in an existing run directory; its model and report stay "
         "until the new export replaces them.  [default: off]")


def _chief_options(function):
    """`--chief`, `--listen` and `--worker-timeout` of a search that serves workers."""
    options = [
        click.option("--chief", is_flag=True,
                     help="Serve trials to `automl worker` processes instead of running them "
                          "here.  [default: off]"),
        click.option("--listen", metavar="HOST:PORT",
                     help="Where the chief listens (unauthenticated: a private network "
                          "only).  [default: 127.0.0.1:8470]"),
        click.option("--worker-timeout", metavar="SECONDS", type=click.FloatRange(min=1),
                     help="A worker silent this long loses its trial to another.  "
                          "[default: 60]"),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _chief(chief, listen, worker_timeout):
    """The `ChiefOptions` of the flags, or None for a local search."""
    if not chief:
        if listen or worker_timeout:
            raise AutomlError("--listen and --worker-timeout need --chief")
        return None
    host, port = chief_lib.parse_address(listen or f"127.0.0.1:{chief_lib.DEFAULT_PORT}")
    return chief_lib.ChiefOptions(host, port,
                                    worker_timeout or chief_lib.DEFAULT_WORKER_TIMEOUT)


def _remember_json(ctx, param, value):
    if value:
        ctx.meta["automl.json"] = True
    return value


_JSON_OPTION = click.option("--json", "as_json", is_flag=True, callback=_remember_json,
                            help="Print one JSON document on stdout (progress on stderr); "
                                 "on failure, the error and the exit code.")


def _verbose_option(function):
    """`-v` after the subcommand too: `automl search -v ...` as well as `automl -v search ...`."""

    def enable(ctx, param, value):
        if value:
            env.set_verbose(True)

    return click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=enable,
                        is_eager=True, help="Show TensorFlow's own logging.")(function)


def _echo_json(document):
    click.echo(json.dumps(document, indent=2, default=str))


_METAVARS = {int: "INTEGER", float: "FLOAT", str: "TEXT"}


def task_option(option):
    """The click option of a task's `automl.Option` (`text_column` -> `--text-column`)."""
    flag = "--" + option.name.replace("_", "-")
    shown = "none" if option.default is None else option.default
    text = option.help if "[default:" in option.help else f"{option.help}  [default: {shown}]"
    if option.type is bool:
        return click.Option([f"{flag}/--no-{flag[2:]}", option.name], default=None, help=text)
    return click.Option([flag, option.name], metavar=_METAVARS.get(option.type, "TEXT"),
                        help=text)


def _task_name(args):
    for index, arg in enumerate(args):
        if arg == "--task" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--task="):
            return arg.split("=", 1)[1]
    return None


def _run_task_name(args):
    """The task of the run directory that is the first argument (its model card's)."""
    run_dir = next((arg for arg in args if not arg.startswith("-")), None)
    try:
        with open(os.path.join(run_dir, "model", "model_card.json"), encoding="utf-8") as handle:
            return json.load(handle).get("task")
    except (TypeError, OSError, ValueError, AttributeError):
        return None


# The data and run folder of each built-in task's `automl search` example.
_EXAMPLES = {"image": ("photos/", "runs/photos"), "text": ("reviews.csv", "runs/reviews"),
             "audio": ("clips/", "runs/clips")}


class SearchCommand(click.Command):
    """`automl search`: the options of the task named by `--task` join the core ones; without
    `--task`, the help lists every installed task's options."""

    task_name = staticmethod(_task_name)

    def parse_args(self, ctx, args):
        core = [p for p in self.params if not getattr(p, "task_option", False)]
        extra = []
        name = ctx.meta["automl.task"] = self.task_name(args)
        for option in registry.task_options(name) if name else ():
            param = task_option(option)
            param.task_option = True
            extra.append(param)
        if not name:
            installed = registry.installed_tasks(warn=False)
            ctx.meta["automl.task_options"] = {
                task: info.task_class.options for task, info in installed.items()}
        self.params = core + extra
        return super().parse_args(ctx, args)

    def format_epilog(self, ctx, formatter):
        for name, options in ctx.meta.get("automl.task_options", {}).items():
            if options:
                with formatter.section(f"Options of --task {name}"):
                    formatter.write_dl([task_option(option).get_help_record(ctx)
                                        for option in options])
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(self.examples(ctx.meta.get("automl.task")))

    def examples(self, task):
        """The epilog: the task's own example, or one for each built-in task."""
        tasks = [task] if task else list(_EXAMPLES)
        lines = []
        for name in tasks:
            data, out = _EXAMPLES.get(name, ("DATA", f"runs/{name}"))
            lines.append(f"  automl search --task {name} --data {data} --out {out} \\\n"
                         f"      --time-budget 10m")
        return f"\b\nExample{'s' * (len(lines) > 1)}:\n" + "\n".join(lines)


class EvaluateCommand(SearchCommand):
    """`automl evaluate`: the options of the run's task (its data columns) join the core ones."""

    task_name = staticmethod(_run_task_name)

    def examples(self, task):
        return self.epilog


class AutomlGroup(click.Group):
    """Reports input errors in one line with exit code 2, search failure with 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SearchFailed as error:
            _fail(ctx, f"Error: {error}", 1)
        except AutomlError as error:
            _fail(ctx, f"Error: {error}", 2)
        except click.UsageError as error:
            hint = ""
            if error.ctx:
                command = "automl" if error.ctx.parent is None else f"automl {error.ctx.info_name}"
                hint = f" (see `{command} --help`)"
            _fail(ctx, f"Error: {error.format_message()}{hint}", 2)
        except SearchInterrupted as error:
            _fail(ctx, f"\ninterrupted; the search state is saved: resume with "
                       f"`automl resume {error.run_dir}`", interrupt.exit_code())
        except KeyboardInterrupt:
            _fail(ctx, "\ninterrupted; nothing new was written", interrupt.exit_code())


def _fail(ctx, message, code):
    """Report a failure on stderr (and as one JSON object on stdout under --json); exit `code`."""
    click.echo(message, err=True)
    if ctx.meta.get("automl.json"):
        _echo_json({"error": message.strip().removeprefix("Error: "), "exit_code": code})
    ctx.exit(code)


@click.group(cls=AutomlGroup, context_settings={"max_content_width": 100})
@click.option("-v", "--verbose", is_flag=True, help="Show TensorFlow's own logging.")
@click.version_option(package_name="keras-automl")
def cli(verbose):
    """Search, retrain and export Keras models that classify, tag or score images, text and
    audio."""
    interrupt.install()
    env.set_verbose(verbose)
    env.check_backend()


@cli.command(epilog="\b\nExample:\n  automl tasks --json")
@_JSON_OPTION
@_verbose_option
def tasks(as_json):
    """List the installed task plugins."""
    found = registry.installed_tasks()
    if as_json:
        _echo_json([{"name": name, "package": info.package, "version": info.version,
                     "description": info.description} for name, info in found.items()])
        return
    if not found:
        click.echo("no task plugins installed")
    width = max((len(name) for name in found), default=4)
    for name, info in found.items():
        click.echo(f"{name:<{width}}  {info.package} {info.version}  {info.description}")


def _search_options(function):
    for option in reversed(_SEARCH_OPTIONS):
        function = option(function)
    return function


@cli.command(cls=SearchCommand)
@_search_options
@_OVERWRITE_OPTION
@_chief_options
@_JSON_OPTION
@_verbose_option
def search(as_json, overwrite, chief, listen, worker_timeout, **options):
    """Search architectures and training settings, retrain the best, export it."""
    started = time.time()
    given = {k: v for k, v in options.items() if v is not None}
    serving = _chief(chief, listen, worker_timeout)
    settings = settings_lib.from_mapping(given, source="search option")
    _run(settings, started, as_json, overwrite, "search", serving)


@cli.command(epilog="\b\nExample:\n  automl run recipes/quickstart.yaml --set time_budget=5m")
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe setting (repeatable).")
@_OVERWRITE_OPTION
@_JSON_OPTION
@_verbose_option
def run(recipe, overrides, overwrite, as_json):
    """Run the search described by a YAML RECIPE."""
    started = time.time()
    _run(settings_lib.load_recipe(recipe, overrides), started, as_json, overwrite, "run")


def _run(settings, started, as_json, overwrite, command, chief=None):
    card = search_run.run_search(settings, started_at=started, quiet_stdout=as_json,
                               overwrite=overwrite, command=command, chief=chief)
    if as_json:
        _echo_json({"run": settings.out, "model": os.path.join(settings.out, "model"),
                    "card": card})


@cli.command(epilog="\b\nExample:\n  automl resume runs/photos")
@click.argument("run_dir", metavar="RUN", type=click.Path())
@_chief_options
@click.option("--local", is_flag=True,
              help="Finish a distributed search here, without workers.  [default: as the "
                   "chief it was]")
@_JSON_OPTION
@_verbose_option
def resume(run_dir, chief, listen, worker_timeout, local, as_json):
    """Continue an interrupted search in RUN (or re-export a finished one).

    A distributed search resumes as its chief, where it listened before: its workers
    reconnect and carry on.
    """
    if local and chief:
        raise AutomlError("--local and --chief exclude each other")
    card = search_resume.resume_search(run_dir, started_at=time.time(), quiet_stdout=as_json,
                                  chief=_chief(chief, listen, worker_timeout), local=local)
    finished = card is None
    if finished:
        click.echo(f"the search in {run_dir} has already finished; model in "
                   f"{os.path.join(run_dir, 'model')}", err=as_json)
        with open(os.path.join(run_dir, "model", "model_card.json"), encoding="utf-8") as handle:
            card = json.load(handle)
    if as_json:
        _echo_json({"run": run_dir, "model": os.path.join(run_dir, "model"),
                    "already_finished": finished, "card": card})


@cli.command(epilog="\b\nExample:\n  automl worker --connect 10.0.0.5:8470 --out /shared/runs/photos "
                    "--threads 4")
@click.option("--connect", metavar="HOST:PORT",
              help="The chief's address.  [default: $KERASTUNER_ORACLE_IP:"
                   "$KERASTUNER_ORACLE_PORT]")
@click.option("--out", "run_dir", metavar="PATH",
              help="The search's run directory, shared with the chief.  [required]")
@click.option("--threads", type=click.IntRange(min=1), metavar="INTEGER",
              help="TensorFlow intra- and inter-op threads.  [default: the search's, else "
                   "all cores]")
@click.option("--id", "worker_id", metavar="NAME",
              help="This worker's id.  [default: $KERASTUNER_TUNER_ID, else worker-HOST-PID]")
@_verbose_option
def worker(connect, run_dir, threads, worker_id):
    """Run trials of a distributed search served by `automl search --chief`."""
    if not connect and os.environ.get("KERASTUNER_ORACLE_IP"):
        connect = (f"{os.environ['KERASTUNER_ORACLE_IP']}:"
                   f"{os.environ.get('KERASTUNER_ORACLE_PORT', '')}")
    missing = [flag for flag, value in (("--connect", connect), ("--out", run_dir)) if not value]
    if missing:
        raise click.UsageError(f"missing option{'s' * (len(missing) > 1)} "
                               f"{', '.join(missing)}")
    worker_lib.run_worker(connect, run_dir, threads, worker_id)


@cli.command(epilog="\b\nExample:\n  automl report runs/photos")
@click.argument("run_dir", metavar="RUN", type=click.Path())
@_verbose_option
def report(run_dir):
    """Rebuild RUN/report/index.html from what the run directory holds."""
    click.echo(f"wrote {run_report.rebuild_report(run_dir)}")


@cli.command(epilog="\b\nExamples:\n  automl export runs/photos --format tflite\n"
                    "  automl export runs/photos --format tflite --quantize int8")
@click.argument("run_dir", metavar="RUN", type=click.Path())
@click.option("--format", "export_format", type=click.Choice(["tflite"]), required=True,
              help="tflite: a LiteRT file for devices (the SavedModel is always there).")
@click.option("--quantize", "quantizations", multiple=True,
              type=click.Choice(["none", "float16", "dynamic", "int8"]),
              help="Weights and activations: none (float32), float16 or dynamic-range "
                   "weights, or int8 throughout (calibrated on training examples); "
                   "repeatable.  [default: none]")
@click.option("--out", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the file here (what it needs beside it too).  "
                   "[default: RUN/model/model[_QUANTIZE].tflite]")
@_JSON_OPTION
@_verbose_option
def export(run_dir, export_format, quantizations, out, as_json):
    """Convert the exported model in RUN for devices and check it with LiteRT."""
    interrupt.stop_at_once()
    entries = litert.export(run_dir, list(quantizations) or ["none"], out=out,
                            progress=lambda line: click.echo(line, err=True))
    if as_json:
        _echo_json(entries)
        return
    for line in litert.summary(entries):
        click.echo(line)


@cli.command(epilog="\b\nExample:\n  automl predict runs/photos cat.jpg more-photos/ --top-k 3")
@click.argument("run_dir", metavar="RUN", type=click.Path())
@click.argument("inputs", nargs=-1, type=click.Path())
@click.option("--text", "texts", multiple=True, help="Text to classify (text tasks; repeatable).")
@click.option("--top-k", type=click.IntRange(min=1), default=1, show_default=True,
              help="Classes to show per input.")
@click.option("--skip-bad", is_flag=True,
              help="Go on past files that cannot be decoded, listing them on stderr.  "
                   "[default: stop at the first]")
@click.option("--tflite", "tflite", is_flag=True,
              help="Predict with the run's LiteRT file instead of the SavedModel.  "
                   "[default: off]")
@click.option("--quantize", "quantization", type=click.Choice(["none", "float16", "dynamic",
                                                                "int8"]),
              help="Which LiteRT file, with --tflite.  [default: none where exported]")
@_JSON_OPTION
@_verbose_option
def predict(run_dir, inputs, texts, top_k, skip_bad, tflite, quantization, as_json):
    """Predict for files (or folders of files) with the exported model in RUN.

    Classification prints the top classes, multilabel the labels at or above the
    card's thresholds, regression the value.
    """
    interrupt.stop_at_once()
    if quantization and not tflite:
        raise AutomlError("--quantize chooses a LiteRT file: give --tflite with it")
    if tflite:
        model, device = litert.load(run_dir, quantization)
        model.use_device(device)
    else:
        model = predictor.ExportedModel(run_dir)
    results, skipped = model.predict_inputs(list(inputs), list(texts), top_k, skip_bad)
    for message in skipped:
        click.echo(f"skipped: {message}", err=True)
    if as_json:
        _echo_json(results)
        return
    for result in results:
        click.echo(f"{result['input']}\t{_prediction_line(result)}")


def _prediction_line(result):
    """One input's prediction: a value, the labels above their thresholds, or ranked classes."""
    if "value" in result:
        return f"{result['value']:.6g}"
    if "labels" in result:
        chosen = set(result["labels"])
        said = "  ".join(f"{p['label']} {p['probability']:.4f}" for p in result["predictions"]
                         if p["label"] in chosen)
        return said or "(no label above its threshold)"
    return "  ".join(f"{p['label']} {p['probability']:.4f}" for p in result["predictions"])


@cli.command(cls=EvaluateCommand,
             epilog="\b\nExample:\n  automl evaluate runs/photos more-labelled-photos/ --json")
@click.argument("run_dir", metavar="RUN", type=click.Path())
@click.argument("data")
@click.option("--data-dir", metavar="PATH", help="TensorFlow Datasets data folder.")
@_JSON_OPTION
@_verbose_option
def evaluate(run_dir, data, data_dir, as_json, **options):
    """Score the exported model in RUN on other labelled DATA (every split of it).

    The task's data options (a CSV's column names) are those of the search unless given.
    """
    interrupt.stop_at_once()
    given = {name: value for name, value in options.items() if value is not None}
    scores = predictor.ExportedModel(run_dir).evaluate(data, data_dir=data_dir, options=given)
    if as_json:
        _echo_json(scores)
        return
    count = scores["examples"]
    on = f"on {count} example{'s' * (count != 1)}"
    if "mae" in scores:
        click.echo(f"MAE {scores['mae']:.6g}  RMSE {scores['rmse']:.6g}  R2 {scores['r2']:.4f} {on}")
        return
    if "micro_f1" in scores:
        click.echo(f"micro F1 {scores['micro_f1']:.4f}  macro F1 {scores['macro_f1']:.4f}  "
                   f"subset accuracy {scores['subset_accuracy']:.4f} {on}")
    else:
        click.echo(f"accuracy {scores['accuracy']:.4f}  balanced accuracy "
                   f"{scores['balanced_accuracy']:.4f} {on}")
    for name, row in scores.get("per_class", scores.get("per_label", {})).items():
        click.echo(f"  {name}: precision {row['precision']:.3f}  recall {row['recall']:.3f}  "
                   f"f1 {row['f1']:.3f}  ({row['support']})")


@cli.command(epilog="\b\nExamples:\n  automl serve runs/photos runs/reviews\n"
                    "  automl serve --name digits=runs/digits --tflite --port 8080\n\n"
                    "\b\nRoutes (docs/serving.md): TF Serving REST /v1/models/NAME[:predict], "
                    "KServe v2\n/v2/models/NAME[/infer], health /v2/health/ready, demo page /")
@click.argument("runs", metavar="[RUN]...", nargs=-1, type=click.Path())
@click.option("--name", "named", multiple=True, metavar="NAME=RUN",
              help="Serve RUN under NAME (repeatable).  [default: each run's folder name]")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; other than loopback, anyone who can reach it can "
                   "use the models (no authentication).")
@click.option("--port", type=click.IntRange(0, 65535), default=8501, show_default=True,
              help="Port to listen on.")
@click.option("--tflite", is_flag=True,
              help="Serve each run's LiteRT file instead of its SavedModel.  [default: off]")
@click.option("--quantize", "quantization", type=click.Choice(["none", "float16", "dynamic",
                                                                "int8"]),
              help="Which LiteRT file, with --tflite.  [default: none where exported]")
@click.option("--max-batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Most examples run together; 1 turns batching off.")
@click.option("--batch-wait-ms", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="How long a batch waits for more requests once one arrives.")
@click.option("--max-request-mb", type=click.FloatRange(min=0, min_open=True), default=16.0,
              show_default=True, help="Larger request bodies get 413.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="Seconds a prediction may take before it gets 504.")
@_verbose_option
def serve(runs, named, host, port, tflite, quantization, max_batch_size, batch_wait_ms,
          max_request_mb, timeout):
    """Serve exported runs over HTTP (TF Serving REST, KServe v2) with a demo page.

    SIGTERM or Ctrl-C stops taking requests, answers those in flight and exits 0.
    """
    interrupt.stop_at_once()
    try:
        serve_runs = server_lib.serve
    except ImportError as error:
        raise AutomlError(f"serving needs {error.name}: pip install 'keras-automl[serve]'") \
            from None
    serve_runs(list(runs), list(named), host, port, tflite, quantization, max_batch_size,
                 batch_wait_ms, max_request_mb, timeout, echo=click.echo)


@cli.group()
def cache():
    """See and reclaim the data cache."""


_CACHE_DIR_OPTION = click.option(
    "--cache-dir", metavar="PATH",
    help="Data cache folder.  [default: $AUTOML_CACHE_DIR or ~/.cache/keras-automl]")


@cache.command("list", epilog="\b\nExample:\n  automl cache list --json")
@_CACHE_DIR_OPTION
@_JSON_OPTION
def cache_list(cache_dir, as_json):
    """List the cached data sets: task, source, size and last use."""
    root = cache_lib.root_folder(cache_dir)
    found = cache_lib.entries(root)
    if as_json:
        _echo_json([{"folder": e.folder, "task": e.task, "source": e.source,
                     "size_bytes": e.size_bytes,
                     "last_used": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(e.last_used))}
                    for e in found])
        return
    for entry in found:
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.last_used))
        what = f"{entry.task}\t{entry.source}" if entry.task else "-\t(incomplete write)"
        click.echo(f"{_size(entry.size_bytes):>9}  {used}  {what}  {os.path.basename(entry.folder)}")
    total = sum(e.size_bytes for e in found)
    click.echo(f"{len(found)} folder{'s' * (len(found) != 1)}, {_size(total)} in {root}")


@cache.command("clean", epilog="\b\nExamples:\n  automl cache clean --older-than 30d\n"
                              "  automl cache clean --all")
@click.option("--older-than", metavar="DURATION",
              help="Remove data sets not used for this long (e.g. 30d, 12h).")
@click.option("--all", "remove_all", is_flag=True, help="Remove every cached data set.")
@_CACHE_DIR_OPTION
def cache_clean(older_than, remove_all, cache_dir):
    """Remove cached data sets; a later search decodes its data again."""
    if not remove_all and older_than is None:
        raise AutomlError("say what to remove: --older-than DURATION or --all")
    cutoff = time.time() - (0 if remove_all else
                            settings_lib.parse_duration(older_than, "--older-than"))
    root = cache_lib.root_folder(cache_dir)
    removed = [e for e in cache_lib.entries(root) if remove_all or e.last_used < cutoff]
    for entry in removed:
        cache_lib.remove(entry)
    click.echo(f"removed {len(removed)} folder{'s' * (len(removed) != 1)}, "
               f"{_size(sum(e.size_bytes for e in removed))} from {root}")


def _size(count):
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024


@cli.group()
def plugin():
    """Write task plugins of your own."""


@plugin.command("new", epilog="\b\nExample:\n  automl plugin new tabular --path ./automl-tabular")
@click.argument("name")
@click.option("--path", type=click.Path(file_okay=False),
              help="Folder to write (created with its parents; default ./automl-NAME).")
def plugin_new(name, path):
    """Write a ready-to-install task-plugin package for task NAME."""
    folder = scaffold.write_plugin(name, path)
    click.echo(f"wrote the '{name}' task plugin to {folder}")
    click.echo(f"install it with `pip install -e {folder}`; then `automl tasks` lists it")


def main():
    interrupt.install()
    cli(prog_name="automl")
