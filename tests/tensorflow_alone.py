"""An interpreter in which keras-automl cannot be imported, running the Python code it is sent.

The export tests check with it that what a run exports loads and predicts with
TensorFlow and Keras alone. It imports TensorFlow once for all the checks of a test
process (the `tensorflow_alone` fixture of conftest.py) and runs each check in a fresh
namespace. Importing `automl` or `automl_plugins` raises ImportError, so a check passes
only where the export needs neither.

Protocol: one JSON string of code per line on stdin; for each, a line that starts with
`REPLY` and goes on with the JSON `[exit code, stdout, stderr]` of running it, every
warning shown.
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
        except SystemExit as stop:  # as an interpreter exits
            if isinstance(stop.code, int) or stop.code is None:
                status = stop.code or 0
            else:
                print(stop.code, file=sys.stderr)
                status = 1
        except Exception:
            traceback.print_exc()
            status = 1
    return [status, out.getvalue(), err.getvalue()]


def main():
    sys.meta_path.insert(0, RefusePackage())
    reply = sys.stdout
    for line in sys.stdin:
        # A line of its own, whatever the code printed at the C level without a newline.
        reply.write("\n" + REPLY + json.dumps(run(json.loads(line))) + "\n")
        reply.flush()


if __name__ == "__main__":
    main()
