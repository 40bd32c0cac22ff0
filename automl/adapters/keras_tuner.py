"""keras-tuner's private names: its gRPC modules, the oracle's internals our oracles and
the chief build on, and the tuner's worker test.

Supported: keras-tuner >=1.4.8,<1.5 (the oracle's private methods and `_retry_queue`
are unchanged across 1.4).
"""

import importlib

from automl.adapters import require

SUPPORTED = ">=1.4.8,<1.5"
ORACLE_NAMES = ("_retry_queue", "_seed_state", "_max_collisions", "_random_values", "_duplicate",
                "_compute_values_hash", "_save_trial", "_get_trial_dir", "_get_oracle_fname")
BAYESIAN_NAMES = ("_vectorize_trials", "_get_hp_bounds", "_vector_to_values", "_random_state",
                  "_random_populate_space")
TUNER_NAMES = ("_is_worker", "_get_tuner_fname")
MODULES = ("protos", "distribute.oracle_chief", "distribute.oracle_client", "engine.conditions",
           "engine.metrics_tracking")


def _module(name):
    return importlib.import_module(f"keras_tuner.src.{name}")


def check():
    """Raise an `AutomlError` naming the supported versions if a private name is gone."""
    import keras_tuner as kt

    for name in MODULES:
        parent, _, child = name.rpartition(".")
        try:
            _module(name)
        except ImportError:
            require(_module(parent) if parent else kt.src, [child], "keras-tuner", SUPPORTED)
    oracle = kt.Oracle(objective="loss", max_trials=1)
    require(oracle, ORACLE_NAMES, "keras-tuner", SUPPORTED)
    bayesian = kt.oracles.BayesianOptimizationOracle(objective="loss", max_trials=1)
    require(bayesian, BAYESIAN_NAMES, "keras-tuner", SUPPORTED)
    require(kt.engine.base_tuner.BaseTuner, TUNER_NAMES, "keras-tuner", SUPPORTED)
    require(_module("engine.conditions").Parent, ["to_proto"], "keras-tuner", SUPPORTED)
    require(_module("engine.metrics_tracking"), ["MetricsTracker"], "keras-tuner", SUPPORTED)


def protos():
    return _module("protos")


def oracle_chief():
    return _module("distribute.oracle_chief")


def oracle_client():
    return _module("distribute.oracle_client")


def conditions():
    return _module("engine.conditions")


def fresh_metrics():
    """An empty `MetricsTracker` for a trial that runs again from scratch."""
    return _module("engine.metrics_tracking").MetricsTracker()


def quiet_conditions():
    """Send trials without the line keras-tuner prints for each of their conditions.

    keras-tuner 1.4.8's `Parent.to_proto` prints a condition's first value (for
    example `adamw`) to stdout whenever a trial crosses the wire; stdout carries
    `--json` documents. This is that method without the print.
    """
    proto_module = protos()

    def to_proto(self):
        proto, first = proto_module.get_proto(), self.values[0]
        field = ("string_value" if isinstance(first, str) else
                 "boolean_value" if isinstance(first, bool) else
                 "int_value" if isinstance(first, int) else "float_value")
        return proto.Condition(parent=proto.Condition.Parent(
            name=self.name, values=[proto.Value(**{field: value}) for value in self.values]))

    conditions().Parent.to_proto = to_proto


# The oracle -----------------------------------------------------------------------------


def retry_queue(oracle):
    """The ids of trials the oracle hands out again before proposing new ones (a list)."""
    return oracle._retry_queue


def wrapped_oracle(client):
    """The local oracle inside keras-tuner's `OracleClient`."""
    return client._oracle


def random_values(oracle):
    return oracle._random_values()


def random_proposal(oracle):
    return oracle._random_populate_space()


def is_duplicate(oracle, values):
    return oracle._duplicate(values)


def values_hash(oracle_class, oracle, values):
    """keras-tuner's identity of a configuration, as `oracle_class`'s base computes it."""
    return super(oracle_class, oracle)._compute_values_hash(values)


def oracle_file(oracle):
    return oracle._get_oracle_fname()


def trial_dir(oracle, trial_id):
    return oracle._get_trial_dir(trial_id)


def vectorized_trials(oracle):
    """`(x, y)` of the Bayesian oracle's finished trials, in its unit space."""
    return oracle._vectorize_trials()


def hp_bounds(oracle):
    return oracle._get_hp_bounds()


def vector_to_values(oracle, vector):
    return oracle._vector_to_values(vector)


def random_state(oracle):
    return oracle._random_state


def max_collisions(oracle):
    return oracle._max_collisions


def next_seed(oracle):
    """The oracle's next seed for random draws (each call a new one)."""
    seed = oracle._seed_state
    oracle._seed_state += 1
    return seed


# The tuner ------------------------------------------------------------------------------


def is_worker(tuner):
    return tuner._is_worker()


def tuner_file(tuner):
    return tuner._get_tuner_fname()
