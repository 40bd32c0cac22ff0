"""How a fit trains: eagerly when its steps are too few to repay tracing them."""

import os
from importlib.metadata import EntryPoint

from conftest import invoke
from automl import registry
from automl.tuning.space import EAGER_STEPS, TrainingPlan


def test_a_fit_of_few_steps_runs_eagerly_and_a_longer_or_timed_one_does_not():
    assert TrainingPlan(steps_per_epoch=3, epochs=2).eager()
    assert TrainingPlan(steps_per_epoch=EAGER_STEPS, epochs=1).eager()
    assert not TrainingPlan(steps_per_epoch=EAGER_STEPS + 1, epochs=1).eager()
    assert not TrainingPlan(steps_per_epoch=10, epochs=4).eager()
    # A continued model counts only the epochs it has left to train.
    assert TrainingPlan(steps_per_epoch=10, epochs=12, initial_epoch=10).eager()
    assert not TrainingPlan(steps_per_epoch=1, epochs=1, until=1e12).eager()


def test_the_search_trains_a_tiny_fit_eagerly_and_a_long_one_in_graphs(monkeypatch, tmp_path):
    import keras

    monkeypatch.syspath_prepend(os.path.dirname(__file__))
    steady = EntryPoint("steady", "fake_tasks:SteadyVectorTask", registry.GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda: [steady])
    eager = []
    fit = keras.Model.fit

    def recording_fit(self, *args, **kwargs):
        eager.append(self.run_eagerly)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", recording_fit)
    trial_fits = {}
    for epochs in (1, 40):
        result = invoke("search", "--task", "steady", "--data", "blobs", "--out",
                        tmp_path / str(epochs), "--max-trials", 1, "--epochs", epochs,
                        "--tuner", "random", "--batch-size", 32)
        assert result.exit_code == 0, result.output
        trial_fits[epochs] = eager[0]
        eager.clear()
    assert trial_fits == {1: True, 40: False}
