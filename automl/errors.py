"""Errors that the command line reports as one line with exit code 2."""


class AutomlError(Exception):
    """A problem with the user's input: reported in one line, exit code 2."""


class SearchFailed(Exception):
    """Every trial of a search failed: reported in one line, exit code 1."""
