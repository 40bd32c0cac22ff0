"""What one training example of a configuration costs on this machine, before it trains.

A task states what one example of a configuration costs in its own units
(`automl.CostEstimate`); seconds grow in proportion to that cost plus
`COST_OFFSET`, at the median rate measured on this machine: the probe's, then every
finished trial's. An architecture that has run is taken at its own measured speed.
"""

import statistics

COST_OFFSET = 5e6  # cost units every example pays besides its layers (input, steps)


def calibrated_seconds(cost, measured):
    """Training seconds per example of a configuration of `cost`, from measured ones.

    `measured` holds `(cost, seconds per example)` of configurations timed on this
    machine (the probe, finished trials).
    """
    rates = [seconds / (known + COST_OFFSET) for known, seconds in measured
             if known is not None and seconds > 0]
    if not rates or cost is None:
        return None
    return statistics.median(rates) * (cost + COST_OFFSET)


def epoch_seconds(trial):
    """A completed trial's measured seconds per epoch on the whole training split."""
    metrics = trial.metrics
    if metrics.exists("epoch_seconds"):
        return metrics.get_last_value("epoch_seconds")
    return metrics.get_last_value("fit_seconds") / max(metrics.get_last_value("epochs_run"), 1)


def architecture_key(values):
    """The values that decide what one example costs (not the optimizer's, nor the plan's)."""
    return tuple(sorted((k, v) for k, v in values.items()
                        if not k.startswith(("optimizer/", "tuner/", "head/"))))


class ExampleCosts:
    """Seconds per training example of configurations, as far as this search has measured.

    `cost(values)` is the task's estimate (None: unknown); `probe` measured the
    configuration `probe_values`; `completed()` returns the finished trials, whose
    epochs saw `examples_per_epoch` examples (validation at its relative cost).
    """

    def __init__(self, cost, probe, probe_values, completed, examples_per_epoch):
        self.cost, self.probe, self.probe_values = cost, probe, probe_values
        self.completed, self.examples_per_epoch = completed, examples_per_epoch
        self._costs = {}

    def cost_of(self, values):
        key = architecture_key(values)
        if key not in self._costs:
            self._costs[key] = self.cost(values)
        return self._costs[key]

    def seconds(self, values):
        """Estimated training seconds per example of the configuration `values` (None: unknown)."""
        timed = [(t.hyperparameters.values, epoch_seconds(t) / self.examples_per_epoch)
                 for t in self.completed()]
        key = architecture_key(values)
        same = [seconds for known, seconds in timed if architecture_key(known) == key]
        if same:
            return statistics.median(same)
        measured = [(self.cost_of(known), seconds) for known, seconds in timed]
        if self.probe is not None and self.probe_values is not None:
            measured.append((self.cost_of(self.probe_values), self.probe.example_seconds))
        return calibrated_seconds(self.cost_of(values), measured)
