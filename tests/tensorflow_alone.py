"""An interpreter in which keras-automl cannot be imported, running the Python code it is sent.

The export tests check that what a run exports loads and predicts with TensorFlow and
Keras alone. Each check would pay TensorFlow's import in a fresh interpreter; this one
pays it once per test process (the `tensorflow_alone` fixture of conftest.py) and runs
each check in a fresh namespace. Importing `automl` or `automl_plugins` raises
ImportError, so a check passes only where the export needs neither.

Protocol: one JSON string of code per line on stdin; one line per code on stdout,
`REPLY` then the JSON `[exit code, stdout, stderr]` of running it (warnings are always
shown, as in a fresh interpreter).
"""

import contextlib
import io
import json
import sys
import traceback
import warnings

REPLY = "\0tensorflow-alone "
PACKAGES = ("automl", "automl_plugins")


class RefusePackage:
    """A meta path finder that refuses to import keras-automl."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in PACKAGES:
            raise ImportError(f"{name} imported where TensorFlow and Keras must do alone")
        return None


def run(code):
    """`[exit code, stdout, stderr]` of `code` run as `__main__` in a fresh namespace."""
    out, err, status = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings():
        warnings.simplefilter("always")
        try:
            exec(compile(code, "<tensorflow-alone>", "exec"), {"__name__": "__main__"})
        except SystemExit as stop:
            status = stop.code if isinstance(stop.code, int) else 1
        except BaseException:  # noqa: B036 - reported like an interpreter's exit
            traceback.print_exc()
            status = 1
    return [status, out.getvalue(), err.getvalue()]


def main():
    sys.meta_path.insert(0, RefusePackage())
    reply = sys.stdout
    for line in sys.stdin:
        reply.write(REPLY + json.dumps(run(json.loads(line))) + "\n")
        reply.flush()


if __name__ == "__main__":
    main()
