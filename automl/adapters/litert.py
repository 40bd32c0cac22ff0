"""LiteRT's private names: the converter's calibrate-only and per-channel switches, the
MLIR quantizer that keeps chosen layers float, and the interpreter's op list.

Supported: tensorflow >=2.21,<2.22 (the TFLite converter) and ai-edge-litert >=2,<3.
"""

from automl.adapters import require

SUPPORTED_TENSORFLOW = ">=2.21,<2.22"
SUPPORTED_LITERT = ">=2,<3"


def check():
    """Raise an `AutomlError` naming the supported versions if a private name is gone."""
    import tensorflow as tf
    from ai_edge_litert import interpreter
    from tensorflow.lite.python import convert

    require(convert, ["mlir_quantize"], "tensorflow", SUPPORTED_TENSORFLOW)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([], None)
    require(converter, ["_experimental_calibrate_only", "_experimental_disable_per_channel"],
            "tensorflow", SUPPORTED_TENSORFLOW)
    require(interpreter.Interpreter, ["_get_ops_details"], "ai-edge-litert", SUPPORTED_LITERT)


def set_per_channel(converter, per_channel):
    """Quantize int8 weights per channel (True) or per tensor."""
    converter._experimental_disable_per_channel = not per_channel


def quantized_except(tf, converter, interpreter_class, denied, input_type):
    """Full-integer int8 of `converter`'s model, except the ops whose tensor names
    `denied(names)` picks, which keep float kernels.

    Calibrates, then quantizes with those ops on the deny list, as
    `tf.lite.experimental.QuantizationDebugger` does for selective quantization.
    """
    from tensorflow.lite.python import convert

    converter._experimental_calibrate_only = True
    calibrated = converter.convert()
    names = [t["name"] for t in interpreter_class(model_content=calibrated).get_tensor_details()]
    return convert.mlir_quantize(
        calibrated, fully_quantize=True, input_data_type=input_type, output_data_type=tf.int8,
        denylisted_nodes=denied(names),
        disable_per_channel=converter._experimental_disable_per_channel)


def ops_details(interpreter):
    """Each op of a loaded model: its name and its input and output tensor indices."""
    return interpreter._get_ops_details()
