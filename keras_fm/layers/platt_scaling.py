"""An affine map of a logit: Platt scaling and temperature scaling."""

from typing import Any

import keras
from keras import ops

from keras_fm.registration import register


@register
class PlattScaling(keras.layers.Layer):
    """Calibrates a logit: ``scale * logit + shift``.

    Platt (1999) scaling fits both numbers by log loss on held-out data;
    temperature scaling (Guo et al., 2017) fits ``scale = 1 / T`` alone.
    Both keep the order of the scores, so AUC is unchanged.
    `keras_fm.calibration.calibrate` fits them and puts this layer between
    a model's ``logit`` and its sigmoid, so that the `.keras` file, the
    SavedModel and the TFLite file are all calibrated. The numbers are
    fixed (not trained by `fit`) and saved in the config.

    Args:
        scale: float. The logit's factor. Defaults to `1.0`.
        shift: float. Added after scaling. Defaults to `0.0`.
        **kwargs: Base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: a tensor of logits, any shape.

    Returns:
        A tensor of the same shape and dtype.

    Example:

    >>> import numpy as np
    >>> PlattScaling(scale=0.5, shift=-1.0)(np.array([[2.0], [4.0]])).numpy()
    array([[0.],
           [1.]], dtype=float32)

    References:
        - Platt, 1999. Probabilistic Outputs for Support Vector Machines.
        - [Guo et al., 2017. On Calibration of Modern Neural Networks](
          https://arxiv.org/abs/1706.04599).
    """

    def __init__(self, scale: float = 1.0, shift: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name, value in (("scale", scale), ("shift", shift)):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or (not abs(value) < float("inf"))
            ):
                raise ValueError(
                    f"`{name}` must be a finite float. Received: {name}={value!r}"
                )
        self.scale = float(scale)
        self.shift = float(shift)

    def call(self, inputs: Any) -> Any:
        inputs = ops.cast(inputs, self.compute_dtype)
        return inputs * self.scale + self.shift

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update({"scale": self.scale, "shift": self.shift})
        return config
