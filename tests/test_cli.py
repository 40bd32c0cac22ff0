"""The command line itself: start-up cost, backend check, task listing, help."""

import re

from conftest import invoke, run_python


def test_help_does_not_import_tensorflow():
    result = run_python(
        "import sys\n"
        "from click.testing import CliRunner\n"
        "import automl\n"
        "from automl.cli import cli\n"
        "out = CliRunner().invoke(cli, ['--help'])\n"
        "assert out.exit_code == 0 and 'search' in out.output\n"
        "out = CliRunner().invoke(cli, ['tasks'])\n"
        "assert out.exit_code == 0, out.output\n"
        "out = CliRunner().invoke(cli, ['search', '--help'])\n"
        "assert out.exit_code == 0, out.output\n"
        "print(automl.Task.__name__)\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Task", "False", "False"]


def test_tasks_lists_name_package_version_and_description():
    result = run_python("import sys; sys.argv = ['automl', 'tasks']; from automl.cli import main; main()")
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    for name in ("image", "text", "audio"):
        assert name in lines, result.stdout
        assert "keras-automl" in lines[name] and "0.1.0" in lines[name]
    assert "Image classification" in lines["image"]


def test_another_keras_backend_is_refused():
    result = run_python("import sys; sys.argv = ['automl', 'tasks']; from automl.cli import main; main()",
                        KERAS_BACKEND="jax")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Error: KERAS_BACKEND=jax is not supported: keras-automl exports TensorFlow "
        "SavedModels and needs KERAS_BACKEND=tensorflow"]


def test_the_top_level_help_names_every_problem_type():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "classify, tag or score images, text and audio" in " ".join(result.output.split())


def test_search_help_lists_each_installed_tasks_options_and_examples():
    result = invoke("search", "--help")
    assert result.exit_code == 0, result.output
    sections = re.findall(r"^Options of --task (\w+):$", result.output, re.MULTILINE)
    assert sections == ["audio", "image", "text"]
    for flag in ("--sample-rate", "--max-image-size", "--text-column", "--path-column"):
        assert re.search(rf"^  {flag} ", result.output, re.MULTILINE), flag
    examples = re.findall(r"automl search --task (\w+)", result.output)
    assert examples == ["image", "text", "audio"]


def test_search_help_for_one_task_shows_its_options_and_its_own_example():
    result = invoke("search", "--task", "text", "--help")
    assert result.exit_code == 0, result.output
    assert "Options of --task" not in result.output
    assert re.search(r"^  --text-column TEXT ", result.output, re.MULTILINE)
    assert "--max-image-size" not in result.output
    assert "Example:" in result.output
    assert re.findall(r"automl search --task (\w+)", result.output) == ["text"]
    assert "--data reviews.csv" in result.output


def test_evaluate_help_lists_the_data_options_it_takes():
    result = invoke("evaluate", "--help")
    assert result.exit_code == 0, result.output
    assert re.findall(r"^Options of --task (\w+):$", result.output, re.MULTILINE) == [
        "audio", "image", "text"]
    assert re.search(r"^  --text-column TEXT ", result.output, re.MULTILINE)
    assert "automl evaluate runs/photos" in result.output
