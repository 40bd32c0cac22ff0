"""Where the time of a command goes: one running phase at a time, every second counted.

The phases are those of `search.seconds` in the model card. Time is always
charged to the current phase, so the phases add up to the command's wall time.
"""

import contextlib
import threading
import time

PHASES = ("startup", "data", "proposals", "trials", "retrain", "evaluate", "export")


class PhaseClock:
    """Seconds per phase since `started_at`, plus `carried` seconds of an earlier session.

    Any thread may read the totals while the main thread switches phases.
    """

    def __init__(self, started_at, carried=None, now=time.time):
        self._now = now
        self._lock = threading.RLock()
        self.seconds = {phase: float((carried or {}).get(phase, 0.0)) for phase in PHASES}
        self.current = "startup"
        self._mark = started_at

    def switch(self, phase):
        """Charge the time since the last switch to the current phase, then enter `phase`."""
        with self._lock:
            now = self._now()
            self.seconds[self.current] += now - self._mark
            self.current, self._mark = phase, now

    @contextlib.contextmanager
    def phase(self, phase):
        """Charge a block to `phase`, then return to the phase it interrupted."""
        previous = self.current
        self.switch(phase)
        try:
            yield
        finally:
            self.switch(previous)

    def totals(self):
        """Seconds per phase up to now, rounded to a tenth."""
        with self._lock:
            self.switch(self.current)
            return {phase: round(seconds, 1) for phase, seconds in self.seconds.items()}
