"""The command line itself: start-up cost, backend check, task listing."""

from conftest import run_python


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
