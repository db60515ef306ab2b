"""The Compressed Interaction Network of xDeepFM (Lian et al., 2018)."""

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_fm.layers.field_mask import (
    any_field_present,
    check_field_mask,
    field_weights,
)
from keras_fm.layers.precision import accumulation_dtype
from keras_fm.registration import register


@register
class CIN(keras.layers.Layer):
    """Compressed Interaction Network: explicit, vector-wise high-order terms.

    With ``X^0 = inputs`` (``F`` field vectors of size ``D``), layer ``k``
    builds ``H_k`` feature maps from the Hadamard products of the previous
    layer's maps with the input fields:

        X^k[h, :] = act( sum_i sum_j W^k[i, j, h] * (X^{k-1}[i, :] * X^0[j, :])
                         + b^k[h] )

    where ``i`` runs over the maps ``X^{k-1}`` passes on and ``j`` over the
    ``F`` input fields. Each map is then sum-pooled over the embedding axis,
    and the pooled maps of all layers are concatenated.

    With ``split_half=True`` (the xDeepFM reference implementation's default)
    every layer but the last passes the first half of its maps to the next
    layer and sends the second half to the output, so
    ``layer_sizes=[4, 4, 2]`` gives ``2 + 2 + 2 = 6`` outputs; with
    ``split_half=False`` every map goes both ways and the output has
    ``sum(layer_sizes)`` units. With a linear activation and no bias, the maps
    of layer ``k`` (``X^1`` being the first) are homogeneous polynomials of
    degree ``k + 1`` in the input: layer ``k`` models ``(k + 1)``-way feature
    interactions.

    Kernels and biases stay float32 under mixed precision and the whole
    network is evaluated in float32 (degree-``k`` products overflow float16
    quickly); the result is cast back to the layer's compute dtype.

    Args:
        layer_sizes: sequence of int. Number of feature maps ``H_k`` of each
            layer. With `split_half=True`, every size but the last must be
            even.
        split_half: bool. Whether each non-final layer sends half of its maps
            to the output and half to the next layer. Defaults to `True`.
        activation: str or callable. Activation applied to each feature map.
            Defaults to `"relu"`. Use `"linear"` (or `None`) for the plain
            polynomial form.
        use_bias: bool. Whether each feature map has a bias. Defaults to
            `True`.
        kernel_initializer: str or `keras.initializers.Initializer`. Defaults
            to `"glorot_uniform"`.
        bias_initializer: str or `keras.initializers.Initializer`. Defaults to
            `"zeros"`.
        kernel_regularizer: Optional str or `keras.regularizers.Regularizer`
            applied to every kernel. Defaults to `None`.
        bias_regularizer: Optional str or `keras.regularizers.Regularizer`
            applied to every bias. Defaults to `None`.
        **kwargs: Base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: Tensor of shape `(batch, num_fields, embedding_dim)`.
        mask: Optional tensor of shape `(batch, num_fields)`, boolean or
            numeric (non-zero means present). A masked field's vector is
            zeroed in ``X^0``, which is the same as deleting the field (and its
            kernel entries); a row with every field masked gives zeros.

    Returns:
        Tensor of shape `(batch, output_units)` in the layer's compute dtype,
        where `output_units` is `sum(layer_sizes[:-1]) // 2 + layer_sizes[-1]`
        with `split_half=True` and `sum(layer_sizes)` otherwise. The output
        carries no mask.

    Example:

    >>> import numpy as np
    >>> cin = CIN(layer_sizes=[4, 4, 2])
    >>> tuple(cin(np.ones((8, 5, 3), dtype="float32")).shape)
    (8, 6)

    References:
        - [Lian et al., 2018. xDeepFM: Combining Explicit and Implicit Feature
          Interactions for Recommender Systems](
          https://arxiv.org/abs/1803.05170), Section 3.2, Eq. (6).
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        split_half: bool = True,
        activation: Any = "relu",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(layer_sizes, (str, bytes)) or not isinstance(
            layer_sizes, Sequence
        ):
            raise ValueError(
                "`layer_sizes` must be a non-empty list of positive ints. "
                f"Received: layer_sizes={layer_sizes!r}"
            )
        layer_sizes = list(layer_sizes)
        if not layer_sizes or any(
            isinstance(size, bool) or not isinstance(size, int) or size < 1
            for size in layer_sizes
        ):
            raise ValueError(
                "`layer_sizes` must be a non-empty list of positive ints. "
                f"Received: layer_sizes={layer_sizes!r}"
            )
        if not isinstance(split_half, bool):
            raise ValueError(
                f"`split_half` must be a bool. Received: split_half={split_half!r}"
            )
        if split_half and any(size % 2 for size in layer_sizes[:-1]):
            raise ValueError(
                "With `split_half=True`, every entry of `layer_sizes` but the "
                f"last must be even. Received: layer_sizes={layer_sizes!r}"
            )
        if not isinstance(use_bias, bool):
            raise ValueError(
                f"`use_bias` must be a bool. Received: use_bias={use_bias!r}"
            )
        try:
            resolved_activation = keras.activations.get(activation)
        except (ValueError, TypeError) as error:
            raise ValueError(
                "`activation` must be the name of a Keras activation or a "
                f"callable. Received: activation={activation!r}"
            ) from error
        self.layer_sizes = layer_sizes
        self.split_half = split_half
        self.activation = resolved_activation
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.supports_masking = True

    def _is_split(self, layer_index: int) -> bool:
        return self.split_half and layer_index < len(self.layer_sizes) - 1

    def _output_units(self) -> list[int]:
        return [
            size // 2 if self._is_split(index) else size
            for index, size in enumerate(self.layer_sizes)
        ]

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != 3:
            raise ValueError(
                "`CIN` expects inputs of shape (batch, num_fields, embedding_dim). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        num_fields = input_shape[1]
        if num_fields is None or input_shape[2] is None:
            raise ValueError(
                "`CIN` needs the field and embedding axes to be known. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.kernels = []
        self.biases = []
        maps_in = num_fields
        for index, size in enumerate(self.layer_sizes):
            # kernel[i, j, h]: weight of (map i of the previous layer) x
            # (input field j) in map h; flattened to (maps_in * F, H) for one
            # matmul.
            self.kernels.append(
                self.add_weight(
                    name=f"kernel_{index}",
                    shape=(maps_in * num_fields, size),
                    initializer=self.kernel_initializer,
                    regularizer=self.kernel_regularizer,
                    autocast=False,
                )
            )
            if self.use_bias:
                self.biases.append(
                    self.add_weight(
                        name=f"bias_{index}",
                        shape=(size,),
                        initializer=self.bias_initializer,
                        regularizer=self.bias_regularizer,
                        autocast=False,
                    )
                )
            maps_in = size // 2 if self._is_split(index) else size
        self.built = True

    def call(self, inputs: Any, mask: Any = None) -> Any:
        dtype = accumulation_dtype(self.compute_dtype)
        _, num_fields, embedding_dim = inputs.shape
        x0 = ops.transpose(ops.cast(inputs, dtype), (0, 2, 1))  # (B, D, F)
        if mask is not None:
            check_field_mask(mask, inputs, "CIN")
            x0 = x0 * field_weights(mask, dtype)[:, None, :]
        hidden = x0  # (B, D, H_{k-1})
        pooled = []
        for index, size in enumerate(self.layer_sizes):
            maps_in = hidden.shape[-1]
            products = hidden[:, :, :, None] * x0[:, :, None, :]  # (B, D, H, F)
            products = ops.reshape(products, (-1, embedding_dim, maps_in * num_fields))
            maps = ops.matmul(products, ops.cast(self.kernels[index], dtype))
            if self.use_bias:
                maps = maps + ops.cast(self.biases[index], dtype)
            maps = ops.cast(self.activation(maps), dtype)  # (B, D, H_k)
            if self._is_split(index):
                hidden, direct = maps[..., : size // 2], maps[..., size // 2 :]
            else:
                hidden = direct = maps
            pooled.append(ops.sum(direct, axis=1))  # (B, H_k')
        outputs = ops.concatenate(pooled, axis=-1)
        if mask is not None:
            outputs = outputs * any_field_present(mask, dtype)
        return ops.cast(outputs, self.compute_dtype)

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def compute_output_shape(
        self, input_shape: tuple[int | None, ...]
    ) -> tuple[int | None, ...]:
        return (input_shape[0], sum(self._output_units()))

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            {
                "layer_sizes": list(self.layer_sizes),
                "split_half": self.split_half,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(
                    self.kernel_regularizer
                ),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            }
        )
        return config
