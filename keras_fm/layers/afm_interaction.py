"""Attention-pooled pairwise interaction of AFM (Xiao et al., 2017)."""

from typing import Any

import keras
import numpy as np
from keras import ops

from keras_fm.layers.field_mask import check_field_mask, field_weights
from keras_fm.layers.masked_softmax import masked_softmax
from keras_fm.layers.precision import accumulation_dtype
from keras_fm.registration import register


@register
class AFMInteraction(keras.layers.Layer):
    """Attentional FM: pairwise interactions pooled by learned attention.

    For every pair of fields ``i < j`` the layer forms the element-wise
    product ``e_i * e_j`` and scores it with a one-hidden-layer attention
    network; the scores are softmax-normalised over the pairs of the row:

        a_ij = softmax_{(i,j)}( h . relu(W (e_i * e_j) + b) )
        out  = p . sum_{i<j} a_ij (e_i * e_j)

    so that pairs of different importance get different weights instead of
    FM's uniform weight 1. With ``reduce_sum=False`` the projection ``p`` is
    left out and the pooled `(batch, embedding_dim)` vector is returned.
    Vectorised over pairs with one gather of the upper-triangle pairs. The
    network runs in float32 under mixed precision (weights too).

    Args:
        attention_units: int. Size of the attention network's hidden layer.
            Defaults to `8`.
        dropout: float. Dropout rate on the attention weights in training.
            Defaults to `0.0`.
        reduce_sum: bool. Whether to project the pooled vector with ``p`` to
            `(batch, 1)`. Defaults to `True`.
        kernel_initializer: initializer of ``W``, ``h`` and ``p``. Defaults to
            `"glorot_uniform"`.
        kernel_regularizer: Optional regularizer of ``W`` (the paper's L2 on
            the attention network). Defaults to `None`.
        **kwargs: Base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: Tensor of shape `(batch, num_fields, embedding_dim)`.
        mask: Optional `(batch, num_fields)` mask. Pairs with a masked field
            are left out of the softmax (the same as deleting the field); a
            row with fewer than two unmasked fields gives zeros.
        training: Python bool, for the dropout.

    Returns:
        `(batch, 1)` if `reduce_sum`, else `(batch, embedding_dim)`, with no
        mask.

    Example:

    >>> import numpy as np
    >>> layer = AFMInteraction(attention_units=4)
    >>> tuple(layer(np.ones((2, 5, 3), dtype="float32")).shape)
    (2, 1)

    References:
        - [Xiao et al., 2017. Attentional Factorization Machines: Learning the
          Weight of Feature Interactions via Attention Networks](
          https://arxiv.org/abs/1708.04617), Eqs. (3)-(5).
    """

    def __init__(
        self,
        attention_units: int = 8,
        dropout: float = 0.0,
        reduce_sum: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        kernel_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (
            isinstance(attention_units, bool)
            or not isinstance(attention_units, int)
            or attention_units < 1
        ):
            raise ValueError(
                "`attention_units` must be a positive int. "
                f"Received: attention_units={attention_units!r}"
            )
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout!r}"
            )
        if not isinstance(reduce_sum, bool):
            raise ValueError(
                f"`reduce_sum` must be a bool. Received: reduce_sum={reduce_sum!r}"
            )
        self.attention_units = attention_units
        self.dropout = float(dropout)
        self.reduce_sum = reduce_sum
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != 3 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(
                "`AFMInteraction` expects inputs of shape (batch, num_fields, "
                "embedding_dim) with known sizes. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        num_fields, dim = input_shape[1], input_shape[2]
        self._rows, self._cols = (
            i.astype("int32") for i in np.triu_indices(num_fields, 1)
        )

        def weight(name: str, shape: tuple[int, ...], regularizer: Any = None) -> Any:
            initializer = (
                "zeros" if name == "attention_bias" else self.kernel_initializer
            )
            return self.add_weight(
                name=name,
                shape=shape,
                initializer=initializer,
                regularizer=regularizer,
                autocast=False,
            )

        self.attention_kernel = weight(
            "attention_kernel", (dim, self.attention_units), self.kernel_regularizer
        )
        self.attention_bias = weight("attention_bias", (self.attention_units,))
        self.attention_projection = weight(
            "attention_projection", (self.attention_units,)
        )
        if self.reduce_sum:
            self.projection = weight("projection", (dim,))
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.built = True

    def call(self, inputs: Any, mask: Any = None, training: Any = None) -> Any:
        dtype = accumulation_dtype(self.compute_dtype)
        if len(self._rows) == 0:
            width = 1 if self.reduce_sum else inputs.shape[2]
            return ops.zeros((ops.shape(inputs)[0], width), dtype=self.compute_dtype)
        weights, products = self.attention(inputs, mask, training)
        pooled = ops.sum(weights[:, :, None] * products, axis=1)  # (B, D)
        if self.reduce_sum:
            pooled = ops.matmul(pooled, ops.cast(self.projection, dtype))[:, None]
        return ops.cast(pooled, self.compute_dtype)

    def attention(
        self, inputs: Any, mask: Any = None, training: Any = None
    ) -> tuple[Any, Any]:
        """The attention weights and products of the pairs ``i < j``.

        Args:
            inputs: `(batch, num_fields, embedding_dim)` field vectors.
            mask: Optional `(batch, num_fields)` mask, as in `call`.
            training: Python bool, for the dropout.

        Returns:
            ``(weights, products)``: `(batch, P)` and `(batch, P, D)`, the
            pairs in `numpy.triu_indices(num_fields, 1)` order, in the
            accumulation dtype.
        """
        dtype = accumulation_dtype(self.compute_dtype)
        x = ops.cast(inputs, dtype)  # (B, F, D)
        products = ops.take(x, self._rows, axis=1) * ops.take(
            x, self._cols, axis=1
        )  # (B, P, D)
        hidden = ops.relu(
            ops.matmul(products, ops.cast(self.attention_kernel, dtype))
            + ops.cast(self.attention_bias, dtype)
        )  # (B, P, A)
        logits = ops.matmul(
            hidden, ops.cast(self.attention_projection, dtype)
        )  # (B, P)
        pairs = None
        if mask is not None:
            check_field_mask(mask, inputs, "AFMInteraction")
            present = field_weights(mask, dtype)
            pairs = ops.take(present, self._rows, axis=1) * ops.take(
                present, self._cols, axis=1
            )
        weights = masked_softmax(logits, pairs, axis=1)  # a row without pairs: zeros
        weights = ops.cast(self.dropout_layer(weights, training=training), dtype)
        return weights, products

    def pair_terms(self, inputs: Any, mask: Any = None) -> Any:
        """Each pair's term of the output, ``p . a_ij (e_i * e_j)`` (inference).

        They sum to `call`'s `(batch, 1)` output (``reduce_sum=True`` only).

        Args:
            inputs: `(batch, num_fields, embedding_dim)` field vectors.
            mask: Optional `(batch, num_fields)` mask, as in `call`.

        Returns:
            `(batch, P)`, the pairs in `numpy.triu_indices(num_fields, 1)` order.
        """
        if not self.reduce_sum:
            raise ValueError("pair_terms needs reduce_sum=True (a projection p)")
        dtype = accumulation_dtype(self.compute_dtype)
        weights, products = self.attention(inputs, mask, training=False)
        projected = ops.matmul(products, ops.cast(self.projection, dtype))  # (B, P)
        return weights * projected

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def compute_output_shape(
        self, input_shape: tuple[int | None, ...]
    ) -> tuple[int | None, ...]:
        return (
            (input_shape[0], 1) if self.reduce_sum else (input_shape[0], input_shape[2])
        )

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            {
                "attention_units": self.attention_units,
                "dropout": self.dropout,
                "reduce_sum": self.reduce_sum,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "kernel_regularizer": keras.regularizers.serialize(
                    self.kernel_regularizer
                ),
            }
        )
        return config
