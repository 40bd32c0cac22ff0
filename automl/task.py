"""The task-plugin API: what a kind of data supplies to a search.

A plugin subclasses `Task` and registers it under the `automl.tasks` entry-point
group. The core reads the data through it, builds each trial's network with its
`build` (the core adds the head, loss and metrics of the problem type, see
`automl.problems`, and the optimizer), and exports a model that takes the raw
examples described by `input_spec`. Optional capabilities (augmentation, a
test-time model, on-device export, ...) are mixins a task opts into
(`automl.capabilities`).
"""

import os

import numpy as np

from automl import capabilities
from automl.data import cache, fingerprint, in_memory, manifest, sources as data_lib
from automl.errors import AutomlError

API_VERSION = "4.0"  # a plugin of the same major version and no newer minor one loads
HOOKS_BY_NAME_API = "3.1"  # plugins of 3.0 to 3.1 load too; their optional hooks are found by name
LEGACY_MAJOR = 2     # plugins of this major version load too, for classification only


class Task:
    """Base class of a task plugin.

    A task writes four things: its `name`, how a raw example is read
    (`decode_file`, or `read_path` for layouts of its own), what an example is
    (`input_spec`) and the searchable network body (`build`). Every other method
    has a default that works; optional capabilities are mixins of
    `automl.capabilities` that the task inherits next to `Task`.

    Class attributes:
        name: the task's name on the command line (`--task NAME`).
        description: one line for `automl tasks`.
        api_version: the plugin API this task is written for (`API_VERSION`).
        default_epochs: epochs per trial when the user sets none.
        default_batch_size: batch size when the user sets none.
        patience: epochs without improvement before a trial stops early.
        ensemble_size: most trials averaged in the export when the user sets none
            (1: the final trial alone, retrained on train+val).
        file_extensions: file endings read from data folders (lower case).
        tfds_feature: the TensorFlow Datasets feature that holds the raw example
            (or a tuple of candidates, the first one present is used).
        options: the task's own settings, a tuple of `Option`.
        string_examples: whether raw examples are strings (texts); strings given
            in memory are then examples, otherwise paths of files to decode.
        problem_types: the problem types (`automl.problems.NAMES`) the task's
            networks serve; a plugin written for API 2.x serves classification only.
    """

    name = None
    description = ""
    api_version = API_VERSION
    default_epochs = 10
    default_batch_size = 32
    patience = 3
    ensemble_size = 1
    file_extensions = ()
    tfds_feature = None
    options = ()
    string_examples = False
    problem_types = ("classification",)

    def supported_problems(self):
        """The problem types a search may use this task for."""
        if capabilities.api_major(self) == LEGACY_MAJOR:
            return ("classification",)
        return tuple(self.problem_types)

    # Reading data ------------------------------------------------------------

    def read_source(self, settings):
        """Decoded examples of `settings.data`: `{split: LabelledExamples}`.

        Splits are "train", "val", "test", or "all" for unsplit data. Override
        `read_path` for file layouts of your own and `builtin_sources` for named
        data sets.
        """
        source = settings.data
        if in_memory.is_source(source):
            return in_memory.read(source, self)
        if source.startswith("tfds:"):
            if not self.tfds_feature:
                raise AutomlError(f"task '{self.name}' does not read TensorFlow Datasets")
            return data_lib.load_tfds(source[len("tfds:"):], self.tfds_feature,
                                      settings.data_dir, settings.download, self.decode_tfds)
        builtins = self.builtin_sources()
        if source in builtins:
            return builtins[source](settings)
        if not os.path.exists(source):
            raise AutomlError(f"data not found: {source}")
        return self.read_path(source, settings)

    def builtin_sources(self):
        """Named data sets that need no files: `{name: function(settings)}`."""
        return {}

    def read_path(self, path, settings):
        """Decoded examples of a local path: a class-per-folder tree, or a CSV manifest
        of file paths and labels (`automl.data.manifest`) for a task that reads files."""
        if manifest.is_manifest(path) and self.reads_manifests():
            return manifest.read(path, settings.options, self.file_extensions, self.decode_file)
        if not os.path.isdir(path):
            raise AutomlError(f"expected a data folder or a CSV manifest, got a file: {path}")
        return data_lib.decode_folder(path, self.file_extensions, self.decode_file)

    def reads_manifests(self):
        """Whether a CSV at `--data` is a manifest of files: the task declares
        `automl.MANIFEST_OPTIONS` among its options."""
        return any(option.name == "path_column" for option in self.options)

    def decode_file(self, path):
        """One raw example read from a file; raise to report the file as corrupt."""
        raise NotImplementedError(f"task '{self.name}' does not read files")

    def decode_tfds(self, value):
        """One raw example from the value of `tfds_feature` (a numpy value)."""
        return value

    def decode_arrays(self, values, options):
        """Raw examples from values given in memory (`automl.search(task, (x, y))`).

        `values` is an array whose first axis runs over examples, or a list; `options`
        are the task's settings. Returns one raw example per value, as `decode_file`
        returns them (default: each value as it is); raise `AutomlError` to refuse.
        """
        return list(values)

    def describe(self, train_examples, settings):
        """Facts about the data that fix the model input (sizes, sample rate).

        Returned as a JSON-serialisable dict; it is recorded in the model card
        and passed back to `prepare` and `input_spec`.
        """
        return {}

    def prepare(self, examples, meta):
        """Stack decoded examples into one array in the model's input format."""
        return np.stack(examples)

    def input_spec(self, meta):
        """`(shape, dtype)` of one raw example, without the batch dimension."""
        raise NotImplementedError

    # Searching -----------------------------------------------------------------

    def build(self, hp, inputs, dataset):
        """Searchable network body from raw `inputs` to a feature tensor.

        Use `hp.Int`/`hp.Choice`/... with stable names prefixed by the task's name
        (`image/stage_2/filters`). Preprocessing adapted on `dataset.train` goes
        here, inside the model, so the export takes raw examples. `dataset.problem`
        names the problem type; `dataset.train.y` holds labels as it stores them
        (class ids, multi-hot rows or values, `automl.problems`).
        """
        raise NotImplementedError

    def batch_size(self, hp):
        """Training batch size for the configuration `hp` (default: `default_batch_size`)."""
        return self.default_batch_size

    # Loading through the core --------------------------------------------------

    def load(self, settings):
        """The whole data set named by `settings`, checked and prepared, from the data cache.

        The first load decodes every example and writes the cache (`automl.data.cache`);
        later loads of the same data stream from it.
        """
        return cache.load(self, settings, fingerprint.of_source(settings, self))
