"""Request values to the model's raw examples, decoded as `automl predict` decodes files.

A value is an encoded file (`{"b64": "..."}` in TF Serving's JSON, a base64 string in a
KServe BYTES tensor: PNG, JPEG, WAV, FLAC, ...), a text (a string), or an array (nested
lists: an image's `[H, W(, C)]` pixel values 0..255, a clip's samples in [-1, 1] at the
model's sample rate).
"""

import base64
import binascii
import os
import tempfile

import numpy as np

from automl.errors import AutomlError, first_line


class RequestError(AutomlError):
    """A request the server cannot answer: a one-line reason and its HTTP status."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def from_base64(text, where):
    """The bytes of a base64 string (standard or URL-safe alphabet, padding optional)."""
    if not isinstance(text, str):
        raise RequestError(f"{where}: b64 must be a string, got {type(text).__name__}")
    text = text.strip()
    try:
        alphabet = b"-_" if "-" in text or "_" in text else None
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=alphabet, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"{where}: not valid base64") from None


def _suffix(content, extensions):
    """The file name ending that tells the task's decoder what `content` is."""
    if content[:4] in (b"RIFF", b"RIFX") and content[8:12] == b"WAVE":
        return ".wav"
    if content[:4] == b"fLaC":
        return ".flac"
    if content[:4] == b"OggS":
        return ".ogg"
    return extensions[0] if extensions else ""


class Decoder:
    """Decodes one model's request values into its examples, then prepares them for it."""

    def __init__(self, exported):
        self.task = exported.task
        self.card = exported.card
        self.kind = exported.card["task"]
        self.text = exported.card["input"]["dtype"] == "string"
        options = dict(exported.card.get("options", {}))
        if "sample_rate" in options or "sample_rate" in exported.meta:
            options["sample_rate"] = exported.meta.get("sample_rate")
        self.options = options

    def examples(self, values, where="instance"):
        """The decoded examples of request `values` (one per example)."""
        if not values:
            raise RequestError("no instances to predict")
        return [self.example(value, f"{where} {i}") for i, value in enumerate(values)]

    def example(self, value, where):
        """One decoded example; `where` names it in errors."""
        if isinstance(value, dict):
            if set(value) == {"b64"}:
                return self.encoded(from_base64(value["b64"], where), where)
            if set(value) == {"inputs"}:
                return self.example(value["inputs"], where)
            raise RequestError(f"{where}: unknown keys {', '.join(sorted(map(str, value)))} "
                               "(give the value itself, {\"b64\": ...} or {\"inputs\": ...})")
        if isinstance(value, str):
            if not self.text:
                raise RequestError(f"{where}: this {self.kind} model takes encoded files as "
                                   "{\"b64\": \"...\"} or arrays as nested lists, not strings")
            return self.text_example(value, where)
        if isinstance(value, list):
            return self.array(value, where)
        raise RequestError(f"{where}: expected {self.accepts()}, got {type(value).__name__}")

    def accepts(self):
        """What a value of this model may be, in words."""
        if self.text:
            return "a string (or {\"b64\": ...} of UTF-8 text)"
        return f"an encoded {self.kind} file as {{\"b64\": ...}} or an array as nested lists"

    def text_example(self, text, where):
        if not text.strip():
            raise RequestError(f"{where}: empty text")
        return text

    def encoded(self, content, where):
        """The example of an encoded file's bytes (UTF-8 bytes for a text model)."""
        if not content:
            raise RequestError(f"{where}: empty file")
        if self.text:
            try:
                return self.text_example(content.decode("utf-8"), where)
            except UnicodeDecodeError:
                raise RequestError(f"{where}: not UTF-8 text") from None
        handle, path = tempfile.mkstemp(suffix=_suffix(content, self.task.file_extensions),
                                        prefix="automl-serve-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(content)
            return self.task.decode_file(path)
        except Exception as error:
            reason = first_line(error).replace(f"cannot decode {path}: ", "")
            reason = reason.replace(f" '{path}'", "").replace(path, "the file")
            raise RequestError(f"{where}: cannot decode the {self.kind} file: {reason}") from None
        finally:
            os.remove(path)

    def array(self, value, where):
        """The example of an array given as nested lists."""
        if self.text:
            raise RequestError(f"{where}: this text model takes strings, not arrays")
        try:
            array = np.asarray(value, dtype="float32")
        except (ValueError, TypeError):
            raise RequestError(f"{where}: the array is not a rectangle of numbers") from None
        if not np.all(np.isfinite(array)):
            raise RequestError(f"{where}: the array holds values that are not finite")
        return self.decoded_array(array, where)

    def decoded_array(self, array, where):
        """The example of one numeric array (an image, or a clip at the model's rate)."""
        if array.size == 0:
            raise RequestError(f"{where}: empty array")
        try:
            return self.task.decode_arrays([array], self.options)[0]
        except Exception as error:
            raise RequestError(f"{where}: {first_line(error)}") from None

    def prepared(self, examples):
        """Examples in the model's input format, as the search prepared them."""
        try:
            return self.task.prepare(examples, self.card["data"])
        except Exception as error:
            raise RequestError(f"cannot prepare the inputs: {first_line(error)}") from None
