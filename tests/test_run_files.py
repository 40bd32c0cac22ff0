"""Files of a run directory: ordinary modes, swaps a crash cannot break, readable state."""

import json
import os
import stat

import pytest

from automl.errors import AutomlError
from automl.run_folder import RunDir
from automl.runtime.files import recover_folder, replace_folder, write_json


@pytest.fixture(params=[0o022, 0o077])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_files_and_folders_get_the_modes_of_open_and_mkdir(tmp_path, umask):
    write_json(tmp_path / "card.json", {"a": 1})

    def build(folder):
        with open(os.path.join(folder, "weights.bin"), "wb") as handle:
            handle.write(b"x")
        os.mkdir(os.path.join(folder, "variables"))

    replace_folder(build, tmp_path / "model")
    assert mode(tmp_path / "card.json") == 0o666 & ~umask
    assert mode(tmp_path / "model") == 0o777 & ~umask
    assert mode(tmp_path / "model" / "weights.bin") == 0o666 & ~umask
    assert mode(tmp_path / "model" / "variables") == 0o777 & ~umask


def test_a_swap_interrupted_between_its_renames_is_undone(tmp_path):
    target = tmp_path / "model"
    moved = tmp_path / ".model.old-abc"
    moved.mkdir()
    (moved / "model_card.json").write_text("old")
    (tmp_path / ".model.tmp-def").mkdir()
    recover_folder(target)
    assert (target / "model_card.json").read_text() == "old"
    assert sorted(n for n in os.listdir(tmp_path) if not n.endswith(".lock")) == ["model"]


def test_leftovers_beside_a_model_in_place_are_removed(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model_card.json").write_text("new")
    (tmp_path / ".model.old-abc").mkdir()
    replace_folder(lambda folder: open(os.path.join(folder, "model_card.json"), "w").write("newer"),
                   tmp_path / "model")
    assert (tmp_path / "model" / "model_card.json").read_text() == "newer"
    assert sorted(n for n in os.listdir(tmp_path) if not n.endswith(".lock")) == ["model"]


def test_an_unreadable_state_is_an_error_not_a_fresh_budget(tmp_path):
    run = RunDir(str(tmp_path))
    assert run.read_state() == {"elapsed_seconds": 0.0, "finished": False}
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(AutomlError, match="state.json.*the budget spent so far is unknown"):
        run.read_state()
    write_json(str(tmp_path / "state.json"), {"elapsed_seconds": 12.5, "finished": False})
    assert run.read_state()["elapsed_seconds"] == 12.5
    assert json.load(open(tmp_path / "state.json"))["finished"] is False


def test_a_bundled_source_name_is_that_source_even_beside_a_folder_of_that_name(
        tmp_path, monkeypatch):
    from types import SimpleNamespace

    from automl.data import fingerprint

    (tmp_path / "digits" / "a").mkdir(parents=True)
    (tmp_path / "digits" / "a" / "x.png").write_bytes(b"\x89PNG")
    monkeypatch.chdir(tmp_path)
    settings = SimpleNamespace(data="digits", split_seed=0, group_by=None, options={},
                               problem=None, label_separator="|")
    # Loaded as the bundled set wherever the search runs, so a resume from another folder agrees.
    bundled = SimpleNamespace(file_extensions=(".png",), string_examples=False,
                              builtin_sources=lambda: {"digits": None})
    folder = SimpleNamespace(file_extensions=(".png",), string_examples=False,
                             builtin_sources=dict)
    assert "files" not in fingerprint.of_source(settings, bundled)
    assert "files" in fingerprint.of_source(settings, folder)
