"""The `automl` command line."""

import time

import click

from automl import env
from automl.errors import AutomlError, SearchFailed, SearchInterrupted

_SEARCH_OPTIONS = [
    click.option("--task", help="Task plugin name (see `automl tasks`)."),
    click.option("--data", help="tfds:NAME[/CONFIG], a folder, a file, or a built-in name."),
    click.option("--out", help="Run directory to write."),
    click.option("--tuner", type=str, help="bayesian (default), random, hyperband or grid."),
    click.option("--max-trials", type=str,
                 help="Trials to run (default: 20 without a budget, as many as fit with one)."),
    click.option("--epochs", type=str, help="Epochs per trial (task default)."),
    click.option("--scheduler", type=str,
                 help="asha (successive halving; default with a budget) or full (every trial "
                      "trains all epochs; default without one)."),
    click.option("--time-budget", type=str, help="Budget for the whole command: 600, 90s, 10m, 1h."),
    click.option("--objective", type=str, help="Metric to optimise (default val_accuracy)."),
    click.option("--seed", type=str, help="Seed for the trial sequence and training (default 0)."),
    click.option("--batch-size", type=str, help="Training batch size (task default)."),
    click.option("--max-failures", type=str, help="Stop after this many failed trials in a row."),
    click.option("--ensemble", type=str, help="Most trials averaged in the export (task default)."),
    click.option("--data-dir", type=str, help="TensorFlow Datasets data folder."),
    click.option("--download", is_flag=True, default=None, help="Allow downloading tfds data."),
    click.option("--overwrite", is_flag=True, default=None, help="Replace an existing run."),
    click.option("--text-column", type=str, help="CSV column with the text (default text)."),
    click.option("--label-column", type=str, help="CSV column with the label (default label)."),
    click.option("--sample-rate", type=str, help="Audio: target sample rate in Hz."),
    click.option("--duration", type=str, help="Audio: clip length in seconds."),
]


class AutomlGroup(click.Group):
    """Reports input errors in one line with exit code 2, search failure with 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AutomlError as error:
            click.echo(f"Error: {error}", err=True)
            ctx.exit(2)
        except SearchFailed as error:
            click.echo(f"Error: {error}", err=True)
            ctx.exit(1)
        except SearchInterrupted as error:
            click.echo(f"\ninterrupted; the search state is saved: resume with "
                       f"`automl resume {error.run_dir}`", err=True)
            ctx.exit(130)


@click.group(cls=AutomlGroup)
@click.option("-v", "--verbose", is_flag=True, help="Show TensorFlow's own logging.")
@click.version_option(package_name="keras-automl")
def cli(verbose):
    """Search, retrain and export Keras classifiers for images, text and audio."""
    env.set_verbose(verbose)
    env.check_backend()


@cli.command()
def tasks():
    """List the installed task plugins."""
    from automl.registry import installed_tasks

    found = installed_tasks()
    if not found:
        click.echo("no task plugins installed")
    width = max((len(name) for name in found), default=4)
    for name, info in found.items():
        click.echo(f"{name:<{width}}  {info.package} {info.version}  {info.description}")


def _search_options(function):
    for option in reversed(_SEARCH_OPTIONS):
        function = option(function)
    return function


@cli.command()
@_search_options
def search(**options):
    """Search architectures and training settings, retrain the best, export it."""
    from automl import settings as settings_lib

    started = time.time()
    given = {k: v for k, v in options.items() if v is not None}
    settings = settings_lib.from_mapping(given, source="search option")
    _run(settings, started)


@cli.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe setting (repeatable).")
def run(recipe, overrides):
    """Run the search described by a YAML RECIPE."""
    from automl import settings as settings_lib

    started = time.time()
    _run(settings_lib.load_recipe(recipe, overrides), started)


def _run(settings, started, resume=False):
    from automl.pipeline import run_search

    run_search(settings, started_at=started, resume=resume)


@cli.command()
@click.argument("run_dir", metavar="RUN", type=click.Path())
def resume(run_dir):
    """Continue an interrupted search in RUN (or re-export a finished one)."""
    from automl.pipeline import resume_search

    resume_search(run_dir, started_at=time.time())


@cli.command()
@click.argument("run_dir", metavar="RUN", type=click.Path())
@click.argument("inputs", nargs=-1, type=click.Path())
@click.option("--text", "texts", multiple=True, help="Text to classify (text tasks; repeatable).")
@click.option("--top-k", type=click.IntRange(min=1), default=1, show_default=True,
              help="Classes to show per input.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def predict(run_dir, inputs, texts, top_k, as_json):
    """Classify files (or folders of files) with the exported model in RUN."""
    import json

    from automl.serving import ExportedModel

    model = ExportedModel(run_dir)
    results = model.predict_inputs(list(inputs), list(texts), top_k)
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    for result in results:
        ranked = "  ".join(f"{p['label']} {p['probability']:.4f}" for p in result["predictions"])
        click.echo(f"{result['input']}\t{ranked}")


@cli.command()
@click.argument("run_dir", metavar="RUN", type=click.Path())
@click.argument("data")
@click.option("--data-dir", help="TensorFlow Datasets data folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
def evaluate(run_dir, data, data_dir, as_json):
    """Score the exported model in RUN on other labelled DATA (every split of it)."""
    import json

    from automl.serving import ExportedModel

    scores = ExportedModel(run_dir).evaluate(data, data_dir=data_dir)
    if as_json:
        click.echo(json.dumps(scores, indent=2))
        return
    click.echo(f"accuracy {scores['accuracy']:.4f} on {scores['examples']} examples")
    for name, row in scores["per_class"].items():
        click.echo(f"  {name}: precision {row['precision']:.3f}  recall {row['recall']:.3f}  "
                   f"f1 {row['f1']:.3f}  ({row['support']})")


@cli.group()
def plugin():
    """Write task plugins of your own."""


@plugin.command("new")
@click.argument("name")
@click.option("--path", type=click.Path(file_okay=False),
              help="Folder to write (created with its parents; default ./automl-NAME).")
def plugin_new(name, path):
    """Write a ready-to-install task-plugin package for task NAME."""
    from automl.scaffold import write_plugin

    folder = write_plugin(name, path)
    click.echo(f"wrote the '{name}' task plugin to {folder}")
    click.echo(f"install it with `pip install -e {folder}`; then `automl tasks` lists it")


def main():
    cli(prog_name="automl")
