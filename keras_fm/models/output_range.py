"""Clipping of regression predictions to the target's range."""

from typing import Any

import keras
from keras import ops

from keras_fm.registration import register


@register
class OutputRange(keras.layers.Layer):
    """Clips predictions to ``[minimum, maximum]`` (e.g. ratings 1 to 5).

    libFM clips its regression predictions to the range of the training
    targets; this layer does the same inside the model, so that the exported
    model clips too. As in libFM, clipping applies to predictions only: in
    training the scores pass unclipped, so that a score outside the range
    still gets a gradient (a model initialised near 0 for ratings 1 to 5
    would otherwise never learn).

    Args:
        minimum: float. The smallest prediction.
        maximum: float. The largest prediction.
        **kwargs: Base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: Tensor of any shape.
        training: Python bool; clipping is skipped when true.

    Returns:
        The clipped tensor, same shape and dtype.

    Example:

    >>> import numpy as np
    >>> OutputRange(1.0, 5.0)(np.array([[0.2], [3.3], [7.0]])).numpy().ravel()
    array([1. , 3.3, 5. ], dtype=float32)
    """

    def __init__(self, minimum: float, maximum: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not minimum < maximum:
            raise ValueError(
                f"`minimum` must be below `maximum`. Received: {minimum!r}, {maximum!r}"
            )
        self.minimum = float(minimum)
        self.maximum = float(maximum)

    def call(self, inputs: Any, training: Any = None) -> Any:
        if training:
            return inputs
        return ops.clip(inputs, self.minimum, self.maximum)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update({"minimum": self.minimum, "maximum": self.maximum})
        return config
