"""The end of a search: what it measures on the chosen model."""

import time

from automl.pipeline import finish


class CountingModel:
    """A model whose every call takes `seconds` and is counted."""

    def __init__(self, seconds):
        self.seconds, self.calls = seconds, 0

    def __call__(self, example, training=False):
        self.calls += 1
        time.sleep(self.seconds)


def test_latency_is_a_median_of_twenty_calls_of_a_fast_model():
    model = CountingModel(0.0)
    assert finish._latency_ms(model, None) < 5
    assert model.calls == 1 + 20


def test_latency_of_a_slow_model_stops_after_three_calls_past_its_time():
    model = CountingModel(0.3)
    assert finish._latency_ms(model, None) >= 300
    assert model.calls == 1 + 3
