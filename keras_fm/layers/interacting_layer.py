"""AutoInt's interacting layer: multi-head self-attention over fields."""

from typing import Any

import keras
from keras import ops

from keras_fm.layers.field_mask import check_field_mask, field_weights
from keras_fm.layers.masked_softmax import masked_softmax
from keras_fm.layers.precision import accumulation_dtype
from keras_fm.registration import register

LAYER_NORM_EPSILON = 1e-5


@register
class InteractingLayer(keras.layers.Layer):
    """Multi-head self-attention between fields, with a residual connection.

    Each field attends to every field (itself included). For head ``h`` with
    projections ``W_Q, W_K, W_V`` (``D -> head_dim``):

        alpha_ij = softmax_j( <W_Q e_i, W_K e_j> [/ sqrt(head_dim)] )
        o_i^h    = sum_j alpha_ij W_V e_j

    and the layer returns ``relu(concat_h o_i^h + W_res e_i)`` for every field:
    a new `(batch, num_fields, num_heads * head_dim)` set of field vectors
    that models higher-order combinations when layers are stacked. The paper
    uses the plain inner product (``use_scale=False``) and no normalization;
    ``use_layer_norm=True`` normalizes each field's vector before the ReLU,
    ``relu(LayerNorm(concat_h o_i^h + W_res e_i))``, as FuxiCTR's AutoInt
    does for deep stacks. Runs in float32 under mixed precision (weights too).

    Args:
        num_heads: int. Number of attention heads. Defaults to `2`.
        head_dim: int. Size of each head's projections. Defaults to `8`.
        use_residual: bool. Whether to add the projected input ``W_res e_i``.
            Defaults to `True`.
        use_scale: bool. Whether to divide the scores by ``sqrt(head_dim)``.
            Defaults to `False`.
        use_layer_norm: bool. Whether to layer-normalize each field's output
            (learned scale and offset, epsilon 1e-5) before the ReLU.
            Defaults to `False`.
        kernel_initializer: initializer of the projections. Defaults to
            `"glorot_uniform"`.
        kernel_regularizer: Optional regularizer of the projections.
        **kwargs: Base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: Tensor of shape `(batch, num_fields, embedding_dim)`.
        mask: Optional `(batch, num_fields)` mask. Masked fields are not
            attended to and their own outputs are zeros, so the unmasked
            fields' outputs equal those of the row with the masked fields
            deleted. The mask is passed on to the next layer.

    Returns:
        Tensor of shape `(batch, num_fields, num_heads * head_dim)`.

    Example:

    >>> import numpy as np
    >>> layer = InteractingLayer(num_heads=2, head_dim=4)
    >>> tuple(layer(np.ones((3, 5, 6), dtype="float32")).shape)
    (3, 5, 8)

    References:
        - [Song et al., 2019. AutoInt: Automatic Feature Interaction Learning
          via Self-Attentive Neural Networks](https://arxiv.org/abs/1810.11921),
          Eqs. (5)-(8).
    """

    def __init__(
        self,
        num_heads: int = 2,
        head_dim: int = 8,
        use_residual: bool = True,
        use_scale: bool = False,
        use_layer_norm: bool = False,
        kernel_initializer: Any = "glorot_uniform",
        kernel_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for arg, value in (("num_heads", num_heads), ("head_dim", head_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{arg}` must be a positive int. Received: {arg}={value!r}"
                )
        for arg, value in (
            ("use_residual", use_residual),
            ("use_scale", use_scale),
            ("use_layer_norm", use_layer_norm),
        ):
            if not isinstance(value, bool):
                raise ValueError(f"`{arg}` must be a bool. Received: {arg}={value!r}")
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.use_residual = use_residual
        self.use_scale = use_scale
        self.use_layer_norm = use_layer_norm
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != 3 or input_shape[2] is None:
            raise ValueError(
                "`InteractingLayer` expects inputs of shape (batch, num_fields, "
                f"embedding_dim) with a known embedding_dim. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        dim, width = input_shape[2], self.num_heads * self.head_dim
        names = ["query", "key", "value"] + (["residual"] if self.use_residual else [])
        for name in names:
            setattr(
                self,
                f"{name}_kernel",
                self.add_weight(
                    name=f"{name}_kernel",
                    shape=(dim, width),
                    initializer=self.kernel_initializer,
                    regularizer=self.kernel_regularizer,
                    autocast=False,
                ),
            )
        if self.use_layer_norm:
            self.gamma = self.add_weight(
                name="gamma", shape=(width,), initializer="ones", autocast=False
            )
            self.beta = self.add_weight(
                name="beta", shape=(width,), initializer="zeros", autocast=False
            )
        self.built = True

    def _heads(self, x: Any, kernel: Any, dtype: str) -> Any:
        projected = ops.matmul(x, ops.cast(kernel, dtype))  # (B, F, H * d)
        shape = (ops.shape(x)[0], ops.shape(x)[1], self.num_heads, self.head_dim)
        return ops.transpose(
            ops.reshape(projected, shape), (0, 2, 1, 3)
        )  # (B, H, F, d)

    def call(self, inputs: Any, mask: Any = None) -> Any:
        dtype = accumulation_dtype(self.compute_dtype)
        x = ops.cast(inputs, dtype)  # (B, F, D)
        query = self._heads(x, self.query_kernel, dtype)
        key = self._heads(x, self.key_kernel, dtype)
        value = self._heads(x, self.value_kernel, dtype)
        scores = ops.einsum("bhid,bhjd->bhij", query, key)  # (B, H, F, F)
        if self.use_scale:
            scores = scores / float(self.head_dim) ** 0.5
        present = None
        if mask is not None:
            check_field_mask(mask, inputs, "InteractingLayer")
            present = field_weights(mask, dtype)  # (B, F)
        keys = None if present is None else present[:, None, None, :]
        attention = masked_softmax(scores, keys, axis=-1)  # (B, H, F, F)
        attended = ops.einsum("bhij,bhjd->bhid", attention, value)  # (B, H, F, d)
        outputs = ops.reshape(
            ops.transpose(attended, (0, 2, 1, 3)),
            (ops.shape(x)[0], ops.shape(x)[1], self.num_heads * self.head_dim),
        )
        if self.use_residual:
            outputs = outputs + ops.matmul(x, ops.cast(self.residual_kernel, dtype))
        if self.use_layer_norm:
            mean = ops.mean(outputs, axis=-1, keepdims=True)
            variance = ops.var(outputs, axis=-1, keepdims=True)
            outputs = (outputs - mean) * ops.rsqrt(variance + LAYER_NORM_EPSILON)
            outputs = outputs * ops.cast(self.gamma, dtype) + ops.cast(self.beta, dtype)
        outputs = ops.relu(outputs)
        if present is not None:
            outputs = outputs * present[:, :, None]
        return ops.cast(outputs, self.compute_dtype)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask

    def compute_output_shape(
        self, input_shape: tuple[int | None, ...]
    ) -> tuple[int | None, ...]:
        return (input_shape[0], input_shape[1], self.num_heads * self.head_dim)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "head_dim": self.head_dim,
                "use_residual": self.use_residual,
                "use_scale": self.use_scale,
                "use_layer_norm": self.use_layer_norm,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "kernel_regularizer": keras.regularizers.serialize(
                    self.kernel_regularizer
                ),
            }
        )
        return config
