"""Pretrained backbones a search may start from: keras.applications families and KerasHub presets.

A family says how to build its body (no classification top, raw 0..255 pixels in,
its own preprocessing inside), the input size the task resizes images to, what one
example costs it (multiply-adds counted by `automl.cost` at that size; measure seconds
with `benchmarks/transfer_costs.py`), the file
name keras.applications looks for in the Keras cache, and its licence.
"""

import dataclasses
import json
import os

from automl.errors import AutomlError

KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
HUB_PREFIX = "hub:"  # `hub:PRESET`: a KerasHub backbone preset
HUB_LICENCE = "the preset's own (see its metadata.json or model page on Kaggle)"


@dataclasses.dataclass(frozen=True)
class Family:
    """A keras.applications backbone: `constructor(include_top=False, weights=None, ...)`."""

    name: str
    constructor: str
    input_size: int
    cost: int
    cache_file: str
    md5: str
    licence: str
    arguments: tuple = ()
    modality: str = "image"

    @property
    def url(self):
        folder = "efficientnet_v2/" if self.constructor.startswith("EfficientNet") \
            else "mobilenet_v3/"
        return KERAS_APPLICATIONS_URL + folder + self.cache_file

    def build(self, keras, weights_path=None):
        """The body on `[size, size, 3]` images of raw 0..255 pixels, weights from `weights_path`."""
        size = self.input_size
        body = getattr(keras.applications, self.constructor)(
            include_top=False, weights=None, input_shape=(size, size, 3),
            **dict(self.arguments))
        if weights_path:
            body.load_weights(weights_path)
        return freeze_batch_norm(keras, body)


IMAGE_FAMILIES = {
    family.name: family for family in (
        Family("mobilenet_v3_small", "MobileNetV3Small", 128, 28_282_048,
               "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
               "d3e8ec802a04aa4fc771ee12a9a9b836",
               "Apache-2.0 (Keras applications; ImageNet-trained)",
               (("include_preprocessing", True), ("minimalistic", False))),
        Family("mobilenet_v3_large", "MobileNetV3Large", 128, 99_609_536,
               "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
               "07fb09a5933dd0c8eaafa16978110389",
               "Apache-2.0 (Keras applications; ImageNet-trained)",
               (("include_preprocessing", True), ("minimalistic", False))),
        Family("efficientnet_v2_b0", "EfficientNetV2B0", 128, 264_259_840,
               "efficientnetv2-b0_notop.h5", "893217f2bb855e2983157299931e43ff",
               "Apache-2.0 (Keras applications; ImageNet-trained)",
               (("include_preprocessing", True),)),
    )
}


def names(modality):
    """The backbone names `--backbone` takes for `modality` (KerasHub presets aside)."""
    return list(IMAGE_FAMILIES) if modality == "image" else []


def is_hub(name):
    return name.startswith(HUB_PREFIX)


def check_names(names_given):
    """Refuse a backbone name that is neither a family nor `hub:PRESET`."""
    for name in names_given:
        if name not in IMAGE_FAMILIES and not (is_hub(name) and len(name) > len(HUB_PREFIX)):
            raise AutomlError(f"unknown backbone '{name}' (choose one of: "
                              f"{', '.join(IMAGE_FAMILIES)}, or hub:PRESET for a KerasHub "
                              f"preset)")


def hub_backbone(folder_or_handle):
    """A KerasHub backbone and its preset's image converter settings (scale, offset, size).

    Raises `AutomlError` where keras-hub is not installed (`pip install keras-automl[transfer]`).
    """
    try:
        import keras_hub
    except ImportError:
        raise AutomlError("KerasHub backbones need keras-hub: pip install "
                          "'keras-automl[transfer]'") from None
    import keras

    backbone = keras_hub.models.Backbone.from_preset(folder_or_handle)
    return freeze_batch_norm(keras, backbone), hub_image_converter(folder_or_handle)


def freeze_batch_norm(keras, body):
    """`body` with its batch normalisation in inference mode for good, as the Keras
    transfer-learning guide keeps it: a frozen BatchNormalization layer normalises
    with its pretrained statistics and trains neither them nor its scale and offset.
    (Calling a nested model with `training=False` does not reach its layers in Keras 3.)
    """
    for layer in getattr(body, "layers", ()):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
        elif getattr(layer, "layers", None):
            freeze_batch_norm(keras, layer)
    return body


def hub_image_converter(folder):
    """`{"scale", "offset", "image_size"}` of a preset folder's image converter, or defaults.

    The task applies them with built-in layers, so the export needs no KerasHub layer
    in front of the backbone.
    """
    settings = {"scale": 1.0 / 255.0, "offset": 0.0, "image_size": None}
    path = os.path.join(folder, "image_converter.json") if os.path.isdir(str(folder)) else None
    if path and os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle).get("config", {})
        for key in settings:
            if config.get(key) is not None:
                settings[key] = config[key]
    return settings
