"""What one example costs a model: multiply-adds of its layers, counted from their shapes.

The count is a relative cost: the planner (`automl.tuning.planner`) turns it into seconds
with the throughput measured on this machine. Convolutions and dense layers count
their multiply-adds; every other layer counts `ELEMENT_COST` per output value, as
normalisation, activations and pooling are bound by memory, not arithmetic.
"""

import math

ELEMENT_COST = 8


def _elements(shape):
    return math.prod(int(d) for d in shape[1:] if d is not None)


def _layer_cost(layer):
    """Multiply-adds (or the element cost) of one example through `layer`."""
    from keras import layers

    output = getattr(layer, "output", None)
    if output is None or isinstance(output, (list, tuple, dict)):
        return 0
    out = _elements(output.shape)
    kind = type(layer)
    if isinstance(layer, layers.DepthwiseConv2D):
        return out * math.prod(layer.kernel_size)
    if isinstance(layer, layers.SeparableConv2D):
        channels = int(layer.input.shape[-1])
        spatial = out // max(int(output.shape[-1]), 1)
        return (spatial * channels * math.prod(layer.kernel_size)
                + out * channels)
    if isinstance(layer, (layers.Conv1D, layers.Conv2D, layers.Conv3D)):
        channels = int(layer.input.shape[-1]) // max(getattr(layer, "groups", 1), 1)
        return out * channels * math.prod(layer.kernel_size)
    if isinstance(layer, layers.Dense):
        return out * int(layer.input.shape[-1])
    if kind.__name__ in ("InputLayer", "Embedding"):
        return 0
    return ELEMENT_COST * out


def example_cost(model):
    """Relative cost of training `model` on one example (multiply-adds and element costs)."""
    total = 0
    for layer in model.layers:
        if hasattr(layer, "layers") and hasattr(layer, "inputs"):  # a nested model
            total += example_cost(layer)
        else:
            total += _layer_cost(layer)
    return total
