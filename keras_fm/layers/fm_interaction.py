"""The second-order factorization machine interaction (Rendle, 2010)."""

from typing import Any

import keras
from keras import ops

from keras_fm.layers.field_mask import check_field_mask, field_weights
from keras_fm.layers.precision import accumulation_dtype
from keras_fm.registration import register


@register
class FMInteraction(keras.layers.Layer):
    """Pairwise interaction of a factorization machine.

    Given one latent vector per field, ``e_1 ... e_F`` (each already scaled by
    its feature value ``x_i``), the layer computes the FM second-order term

        sum_{i<j} <e_i, e_j>
          = 0.5 * sum_d [ (sum_i e_{i,d})^2 - sum_i e_{i,d}^2 ]

    in ``O(F * D)`` time with the square-of-sum identity on the right, instead
    of the ``O(F^2 * D)`` loop over pairs on the left. With
    ``reduce_sum=False`` the sum over the embedding axis ``d`` is left out and
    the layer returns the bi-interaction vector ``sum_{i<j} e_i * e_j`` of NFM.

    Sums are accumulated in float32 under the ``mixed_float16`` and
    ``mixed_bfloat16`` policies (the difference of squares cancels badly in 16
    bits) and the result is cast back to the layer's compute dtype.

    Args:
        reduce_sum: bool. If `True`, return the FM score of shape
            `(batch, 1)`; if `False`, return the bi-interaction vector of shape
            `(batch, embedding_dim)`. Defaults to `True`.
        **kwargs: Base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: Tensor of shape `(batch, num_fields, embedding_dim)`: the field
            embeddings.
        mask: Optional tensor of shape `(batch, num_fields)`, boolean or
            numeric (non-zero means present). Masked fields take part in no
            pair: the result equals that of the same row with those fields
            deleted, and a row with every field masked gives zeros. A mask
            produced by an upstream layer (e.g.
            `keras.layers.Embedding(mask_zero=True)`) is picked up
            automatically.

    Returns:
        Tensor of shape `(batch, 1)` if `reduce_sum=True`, else
        `(batch, embedding_dim)`, in the layer's compute dtype. The output
        carries no mask.

    Example:

    >>> import numpy as np
    >>> embeddings = np.array([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    >>> FMInteraction()(embeddings).numpy()  # 11 + 17 + 39
    array([[67.]], dtype=float32)
    >>> FMInteraction(reduce_sum=False)(embeddings).numpy()
    array([[23., 44.]], dtype=float32)

    References:
        - [Rendle, 2010. Factorization Machines](
          https://doi.org/10.1109/ICDM.2010.127), Lemma 3.1.
        - [He and Chua, 2017. Neural Factorization Machines for Sparse
          Predictive Analytics](https://arxiv.org/abs/1708.05027)
          (bi-interaction pooling).
    """

    def __init__(self, reduce_sum: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(reduce_sum, bool):
            raise ValueError(
                f"`reduce_sum` must be a bool. Received: reduce_sum={reduce_sum!r}"
            )
        self.reduce_sum = reduce_sum
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != 3:
            raise ValueError(
                "`FMInteraction` expects inputs of shape "
                "(batch, num_fields, embedding_dim). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.built = True

    def call(self, inputs: Any, mask: Any = None) -> Any:
        dtype = accumulation_dtype(self.compute_dtype)
        embeddings = ops.cast(inputs, dtype)  # (B, F, D)
        if mask is not None:
            check_field_mask(mask, inputs, "FMInteraction")
            embeddings = embeddings * field_weights(mask, dtype)[:, :, None]
        square_of_sum = ops.square(ops.sum(embeddings, axis=1))  # (B, D)
        sum_of_squares = ops.sum(ops.square(embeddings), axis=1)  # (B, D)
        outputs = 0.5 * (square_of_sum - sum_of_squares)  # (B, D)
        if self.reduce_sum:
            outputs = ops.sum(outputs, axis=1, keepdims=True)  # (B, 1)
        return ops.cast(outputs, self.compute_dtype)

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def compute_output_shape(
        self, input_shape: tuple[int | None, ...]
    ) -> tuple[int | None, ...]:
        if self.reduce_sum:
            return (input_shape[0], 1)
        return (input_shape[0], input_shape[2])

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update({"reduce_sum": self.reduce_sum})
        return config
