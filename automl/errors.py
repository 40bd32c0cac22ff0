"""Errors that the command line reports as one line with exit code 2."""

import difflib


def first_line(error, limit=200):
    """The first line of an exception's message, or its type name when it has none."""
    text = str(error).strip()
    return text.splitlines()[0][:limit] if text else type(error).__name__


def did_you_mean(word, choices):
    """`did you mean 'X'? ` for the choice closest to a misspelled `word`, or ''."""
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f"did you mean '{close[0]}'? " if close else ""


class AutomlError(Exception):
    """A problem with the user's input: reported in one line, exit code 2."""


class SearchFailed(AutomlError):
    """Every trial of a search failed: reported in one line, exit code 1."""


class SearchInterrupted(Exception):
    """Ctrl-C during a search: the state is saved; reported with the resume command."""

    def __init__(self, run_dir):
        super().__init__(run_dir)
        self.run_dir = run_dir
