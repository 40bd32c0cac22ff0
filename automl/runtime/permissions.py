"""File modes as `open()` and `mkdir()` give them, for what `tempfile` creates private.

`tempfile.mkstemp` makes files 0600 and `mkdtemp` folders 0700, and a rename keeps
the mode: a model written that way could be read by its owner only. Everything
written through a temporary name gets the ordinary mode under the process's umask
(0644 and 0755 with umask 022) before it is renamed into place.
"""

import os
import tempfile

PROC_STATUS = "/proc/self/status"


def umask():
    """The process's umask, read without changing it (changing it, even for a moment,
    would race with other threads creating files)."""
    try:
        with open(PROC_STATUS, encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    with tempfile.TemporaryDirectory() as private:  # elsewhere: the mode a mkdir gets
        probe = os.path.join(private, "probe")
        os.mkdir(probe, 0o777)
        return 0o777 & ~os.stat(probe).st_mode


def as_created(path):
    """Give `path` the mode an ordinary `open()` (file) or `mkdir()` (folder) would."""
    full = 0o777 if os.path.isdir(path) else 0o666
    os.chmod(path, full & ~umask())
