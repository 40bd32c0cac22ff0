"""CSV manifests: a table of file paths and labels instead of class folders.

`--data labels.csv` for a task that reads files (images, audio): one row per
example, a column of paths relative to the CSV's folder, a label column and,
optionally, a `split` column (train, val, test and their aliases). A path outside the
CSV's folder (absolute, or climbing out with `..`) is refused unless the
`allow_outside_paths` option is set, and a file listed twice is refused (it would be
in two splits, or count twice). An empty label cell is kept: it means no labels in
multilabel data and is refused for the other problem types (`automl.data.cache`).
Columns are named by the `path_column` and `label_column` options (`MANIFEST_OPTIONS`, which a task
lists among its own) or detected:
the first of the usual names present, else, for paths, the column whose cells name
files the task reads. The files are decoded lazily, as a folder's are.
"""

import csv
import os

from automl.data import sources as data_lib
from automl.errors import AutomlError
from automl.options import Option

PATH_COLUMNS = ("path", "file", "filename", "file_name", "filepath", "image", "audio", "clip")
LABEL_COLUMNS = ("label", "labels", "class", "category", "target", "y")
SPLIT_COLUMN = "split"

MANIFEST_OPTIONS = (
    Option("path_column", str, None, "CSV manifest column with the file paths.  "
           "[default: path, file, filename, ... or the column naming files]"),
    Option("label_column", str, None, "CSV manifest column with the labels.  "
           "[default: label, labels, class, ... or the one column left]"),
    Option("allow_outside_paths", bool, False, "Let a CSV manifest list files outside its "
           "own folder (absolute paths, or paths climbing out with '..')."),
)


def is_manifest(path):
    return os.path.isfile(path) and path.lower().endswith(".csv")


def read(path, options, extensions, decode_file):
    """`{split: LabelledExamples}` of the manifest at `path` ("all" without a split column)."""
    rows, path_column, label_column = _table(path, options, extensions)
    base = os.path.dirname(os.path.abspath(path))
    entries, missing, lines = {}, [], {}
    for line, row in rows:
        listed = row[path_column].strip()
        file = _resolve(base, listed, options, f"{path} line {line}")
        if not os.path.isfile(file):
            missing.append(listed)
            continue
        same = os.path.realpath(file)
        if same in lines:
            raise AutomlError(f"{path} lists {listed} twice (lines {lines[same]} and {line}): "
                              "an example listed twice can be in two splits; keep one row")
        lines[same] = line
        label = (row.get(label_column) or "").strip()
        split = _split_of(row, path, line)
        entries.setdefault(split, []).append((file, label, listed))
    if missing:
        shown = ", ".join(missing[:data_lib.MAX_LISTED])
        more = f" and {len(missing) - data_lib.MAX_LISTED} more" if len(missing) > \
            data_lib.MAX_LISTED else ""
        raise AutomlError(f"{len(missing)} file{'s' * (len(missing) > 1)} listed in {path} "
                          f"not found: {shown}{more}")
    if not entries:
        raise AutomlError(f"{path} lists no examples")
    if "all" in entries and len(entries) > 1:
        raise AutomlError(f"{path}: some rows have a split and some do not; give every row one")
    return {split: data_lib.LabelledExamples(
                data_lib.FileExamples([file for file, _, _ in listed], decode_file),
                [label for _, label, _ in listed], [name for _, _, name in listed])
            for split, listed in entries.items()}


def _resolve(base, listed, options, row):
    """The full path of `listed`, a path from the manifest in the folder `base`; refused
    outside `base` unless the `allow_outside_paths` option is set (`row` names the row)."""
    file = os.path.normpath(os.path.join(base, listed))
    if options.get("allow_outside_paths") or _inside(base, file):
        return file
    raise AutomlError(f"{row}: {listed} is outside the manifest's folder {base} "
                      "(pass --allow-outside-paths to read it)")


def _inside(folder, path):
    try:
        return os.path.commonpath([folder, path]) == folder
    except ValueError:  # another drive
        return False


def listed_files(path, options, extensions):
    """The paths (as written) of the files the manifest at `path` lists, for its fingerprint."""
    rows, path_column, _ = _table(path, options, extensions)
    return [row[path_column].strip() for _, row in rows]


def _table(path, options, extensions):
    """`([(line, row)], path column, label column)` of the CSV at `path`."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = list(reader.fieldnames or [])
            rows = [(line, row) for line, row in enumerate(reader, start=2)
                    if any((value or "").strip() for value in row.values() if isinstance(value, str))]
    except UnicodeDecodeError:
        raise AutomlError(f"cannot decode {path}: not UTF-8 text") from None
    except csv.Error as error:
        raise AutomlError(f"malformed CSV {path}: {error}") from None
    path_column = _column(path, columns, options.get("path_column"), PATH_COLUMNS, "path",
                          lambda name: _names_files(rows, name, extensions))
    rest = [c for c in columns if c not in (path_column, SPLIT_COLUMN)]
    label_column = _column(path, rest, options.get("label_column"), LABEL_COLUMNS, "label",
                           lambda name: len(rest) == 1)
    for line, row in rows:
        if not (row.get(path_column) or "").strip():
            raise AutomlError(f"{path} line {line} has no file path")
    return rows, path_column, label_column


def _column(path, columns, chosen, usual, what, fits):
    if chosen:
        if chosen not in columns:
            raise AutomlError(f"{path} has no column '{chosen}' (columns: "
                              f"{', '.join(columns) or 'none'})")
        return chosen
    for name in usual:
        if name in columns:
            return name
    found = [name for name in columns if fits(name)]
    if len(found) == 1:
        return found[0]
    raise AutomlError(f"cannot tell which column of {path} holds the {what}s (columns: "
                      f"{', '.join(columns) or 'none'}); name it with --{what}-column")


def _names_files(rows, column, extensions):
    cells = [(row.get(column) or "").strip().lower() for _, row in rows[:20]]
    return bool(cells) and all(cell.endswith(tuple(extensions)) for cell in cells)


def _split_of(row, path, line):
    if SPLIT_COLUMN not in row:
        return "all"
    value = (row[SPLIT_COLUMN] or "").strip().lower()
    if not value:
        return "all"
    if value not in data_lib.SPLIT_ALIASES:
        raise AutomlError(f"{path} line {line}: unknown split '{value}' (use train, val or test)")
    return data_lib.SPLIT_ALIASES[value]
