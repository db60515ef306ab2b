"""The feed-forward tower shared by the deep models."""

from collections.abc import Sequence
from typing import Any

import keras


def dnn_tower(
    inputs: Any,
    units: Sequence[int],
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    name: str = "dnn",
) -> Any:
    """Dense layers (each optionally followed by batch norm and dropout).

    Args:
        inputs: a `(batch, width)` tensor.
        units: sizes of the hidden layers, in order.
        activation: their activation. Defaults to `"relu"`.
        dropout: dropout rate after each layer. Defaults to `0.0`.
        batch_norm: whether to batch-normalize before the activation.
        name: prefix of the layer names.

    Returns:
        The last hidden layer's output (the inputs if ``units`` is empty).
    """
    x = inputs
    for index, size in enumerate(units):
        x = keras.layers.Dense(
            size, use_bias=not batch_norm, name=f"{name}_dense_{index}"
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"{name}_batch_norm_{index}")(x)
        x = keras.layers.Activation(activation, name=f"{name}_activation_{index}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout_{index}")(x)
    return x
