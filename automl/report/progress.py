"""One progress display per search: a live line on a terminal or in Jupyter, plain lines
otherwise, nothing when quiet."""

import sys

import click


def _clock(seconds):
    seconds = max(int(seconds), 0)
    return f"{seconds // 60:d}:{seconds % 60:02d}"


class Progress:
    """Reports phases and trials of a search to the user."""

    def __init__(self, settings, budget, live=None, to_stderr=False, quiet=False, callbacks=()):
        """`live`: one updating line (default: on a terminal or in Jupyter); `quiet`: no
        output; `callbacks`: functions called with each finished trial's record."""
        self.settings, self.budget = settings, budget
        self.stream = sys.stderr if to_stderr else sys.stdout
        self.quiet = quiet
        self.callbacks = list(callbacks)
        if live is None:
            live = self.stream.isatty() or _in_jupyter()
        self.live_enabled = live and not quiet
        self.best = None
        self.current = None
        self.trial_count = 0
        self.total = "?"
        self.ended = 0
        self._live = None

    # Rendering -------------------------------------------------------------

    def _status(self):
        parts = [f"trial {self.trial_count}/{self.total}", f"elapsed {_clock(self.budget.elapsed())}"]
        eta = self._eta()
        if eta is not None:
            parts.append(f"eta {_clock(eta)}")
        best = "-" if self.best is None else f"{self.best:.4f}"
        parts.append(f"best {self.settings.objective} {best}")
        return "  ".join(parts)

    def _eta(self):
        """Seconds until the search ends: the budget's remainder, or trials left at the mean pace."""
        if self.budget.seconds is not None:
            return self.budget.remaining()
        if isinstance(self.total, int) and self.ended:
            return self.budget.elapsed() / self.ended * max(self.total - self.ended, 0)
        return None

    def __rich__(self):
        from rich.table import Table
        from rich.text import Text

        line = Table.grid(padding=(0, 2))
        line.add_row(Text("search", style="bold"), *self._bar(), Text(self._status()))
        return line

    def _bar(self):
        """The budget spent as a bar (none without a budget)."""
        if self.budget.seconds is None:
            return []
        from rich.progress_bar import ProgressBar

        return [ProgressBar(total=self.budget.seconds, width=24,
                            completed=min(self.budget.elapsed(), self.budget.seconds))]

    def _start_live(self):
        if self.live_enabled and self._live is None:
            from rich.live import Live

            from rich.console import Console

            self._live = Live(self, refresh_per_second=2, transient=False,
                              console=Console(file=self.stream))
            self._live.start()

    def say(self, message):
        if self.quiet:
            return
        if self._live is not None:
            self._live.console.print(message, highlight=False, markup=False)
        else:
            click.echo(message, file=self.stream)
            self.stream.flush()

    # Events ----------------------------------------------------------------

    def phase(self, message):
        self.say(message)

    def trial_started(self, trial, tuner):
        self.trial_count = len(tuner.oracle.trials)
        self.total = tuner.max_trials or "?"
        self.current = trial.trial_id
        self._start_live()

    def trial_ended(self, trial, seconds, tuner):
        self.ended += 1
        best = tuner.best_trial()
        self.best = best.score if best is not None else None
        if trial.status == "COMPLETED":
            outcome = f"{self.settings.objective} {trial.score:.4f}"
        else:
            outcome = f"failed: {trial.message}"
        line = f"trial {trial.trial_id}{_fidelity(trial)} {outcome} ({seconds:.1f}s)"
        self.say(line if self._live is not None else f"{line}  [{self._status()}]")
        if self.callbacks:
            record = trial_record(trial, seconds, self.settings.objective)
            for callback in self.callbacks:
                callback(record)

    def close(self):
        if self._live is not None:
            self._live.stop()
            self._live = None


# A trial record's field -> the trial metric it holds.
RECORDED_METRICS = {"epochs": "epochs_run", "best_epoch": "best_epoch",
                    "examples_seen": "examples_seen"}


def trial_record(trial, seconds, objective):
    """What a `callbacks=` hook receives for a finished trial: a JSON-ready dict."""
    values = trial.hyperparameters.values
    last = {field: _plain(trial.metrics.get_last_value(metric))
            for field, metric in RECORDED_METRICS.items() if trial.metrics.exists(metric)}
    return {"trial_id": trial.trial_id, "status": trial.status,
            "objective": objective, "seconds": round(seconds, 2),
            "score": None if trial.score is None else float(trial.score),
            "hyperparameters": {k: v for k, v in values.items() if not k.startswith("tuner/")},
            "fidelity": {k[len("tuner/"):]: v for k, v in values.items()
                         if k.startswith("tuner/")},
            "message": trial.message, **{k: v for k, v in last.items() if v is not None}}


def _plain(value):
    """A count as a Python number (`int` where whole), or None."""
    if value is None:
        return None
    value = float(value)
    return int(value) if value.is_integer() else value


def _in_jupyter():
    """Whether output goes to a Jupyter notebook that can show rich's live display
    (which needs ipywidgets: the `notebook` extra)."""
    import importlib.util

    from rich.console import Console

    return Console().is_jupyter and importlib.util.find_spec("ipywidgets") is not None


def _fidelity(trial):
    """` (epochs 2-7, continues 0003)` for scheduled trials, empty otherwise."""
    values = trial.hyperparameters.values
    if "tuner/epochs" not in values:
        return ""
    parts = [f"epochs {values.get('tuner/initial_epoch', 0)}-{values['tuner/epochs']}"]
    if float(values.get("tuner/fraction", 1.0)) < 1.0:
        parts.append(f"{float(values['tuner/fraction']):.0%} of train")
    if values.get("tuner/trial_id"):
        parts.append(f"continues {values['tuner/trial_id']}")
    return f" ({', '.join(parts)})"
