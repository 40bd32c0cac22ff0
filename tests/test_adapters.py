"""Private names of keras-tuner, TensorFlow, LiteRT and Keras: each behind one adapter,
which says which versions it supports when a release drops one."""

import os
import re

import pytest

from automl.adapters import keras_tuner as kt_private
from automl.adapters import litert as litert_private
from automl.adapters import tensorflow as tf_private
from automl.errors import AutomlError
from automl_plugins import keras_private

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADAPTERS = {os.path.join("automl", "adapters", name) for name in
            ("keras_tuner.py", "tensorflow.py", "litert.py")} | {
    os.path.join("plugins", "keras_private.py")}
PRIVATE = re.compile(
    r"keras_tuner\.src|_retry_queue|_vectorize_trials|_get_hp_bounds|_vector_to_values|"
    r"_random_populate_space|_get_oracle_fname|_get_trial_dir|_get_tuner_fname|_is_worker\(|"
    r"_seed_state|_gradient_registry|_RESOURCE_TRACKER_STACK|mlir_quantize|_experimental_|"
    r"_get_ops_details|_inbound_nodes|_keras_history|_lookup_layer|\._duplicate\(|"
    r"\._random_values\(|\._max_collisions")


@pytest.mark.parametrize("adapter", [kt_private, tf_private, litert_private, keras_private],
                         ids=["keras-tuner", "tensorflow", "litert", "keras"])
def test_the_installed_libraries_still_have_every_private_name_we_use(adapter):
    adapter.check()


def test_a_missing_private_name_is_named_with_the_supported_versions(monkeypatch):
    import keras_tuner as kt

    monkeypatch.delattr(kt.Oracle, "_duplicate")
    with pytest.raises(AutomlError, match=r"keras-tuner [\d.]+ no longer has Oracle\._duplicate, "
                                          r"which keras-automl uses: install keras-tuner>=1\.4\.8,<1\.5"):
        kt_private.check()


def test_no_module_outside_the_adapters_touches_a_private_name():
    found = []
    for folder in ("automl", "plugins"):
        for top, _, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                path = os.path.relpath(os.path.join(top, name), ROOT)
                if not name.endswith(".py") or path in ADAPTERS:
                    continue
                for number, line in enumerate(open(os.path.join(ROOT, path), encoding="utf-8"), 1):
                    if PRIVATE.search(line):
                        found.append(f"{path}:{number}: {line.strip()}")
    assert not found, "private names outside automl/adapters:\n" + "\n".join(found)
