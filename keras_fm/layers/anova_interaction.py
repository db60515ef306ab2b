"""Higher-order FM interactions through the ANOVA kernel (Blondel et al., 2016)."""

from typing import Any

import keras
from keras import ops

from keras_fm.layers.field_mask import check_field_mask, field_weights
from keras_fm.layers.precision import accumulation_dtype
from keras_fm.registration import register


@register
class ANOVAInteraction(keras.layers.Layer):
    """The degree-``m`` term of a higher-order factorization machine.

    A higher-order FM (Rendle, 2010; Blondel et al., 2016) adds, for each
    order ``m``, the ANOVA kernel of the fields' vectors for that order:

        sum_{i_1 < ... < i_m} sum_d e_{i_1, d} * ... * e_{i_m, d}

    that is, for every embedding coordinate ``d``, the elementary symmetric
    polynomial ``E_m`` of the ``F`` values ``e_{1,d} .. e_{F,d}``. The layer
    computes it from the power sums ``P_k = sum_i e_{i,d}^k`` by Newton's
    identities,

        E_0 = 1,   E_t = (1 / t) * sum_{k=1..t} (-1)^(k-1) E_{t-k} P_k,

    in ``O(m * F * D)`` time with no loop over fields or subsets (Blondel et
    al.'s Eq. (9) computes the same polynomial with a dynamic program over
    the fields). ``degree=2`` is `FMInteraction`. Sums are accumulated in
    float32 under 16-bit compute dtypes (float64 stays float64).

    Args:
        degree: int. The order ``m`` of the interactions, at least 2.
        reduce_sum: bool. If `True`, sum over the embedding axis and return
            `(batch, 1)`; if `False`, return the `(batch, embedding_dim)`
            per-coordinate kernels. Defaults to `True`.
        **kwargs: Base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: Tensor of shape `(batch, num_fields, embedding_dim)`: the
            field vectors for this order.
        mask: Optional `(batch, num_fields)` mask, boolean or numeric. A
            masked field is a zero vector, which takes part in no term: the
            result equals that of the row with the field deleted.

    Returns:
        `(batch, 1)` if `reduce_sum`, else `(batch, embedding_dim)`, in the
        compute dtype, with no mask.

    Example:

    >>> import numpy as np
    >>> x = np.array([[[1.0], [2.0], [3.0], [4.0]]])
    >>> ANOVAInteraction(degree=3)(x).numpy()  # 1*2*3 + 1*2*4 + 1*3*4 + 2*3*4
    array([[50.]], dtype=float32)

    References:
        - [Blondel et al., 2016. Higher-Order Factorization Machines](
          https://arxiv.org/abs/1607.07195), Eqs. (4) and (9).
        - [Rendle, 2010. Factorization Machines](
          https://doi.org/10.1109/ICDM.2010.127), Eq. (5).
    """

    def __init__(self, degree: int, reduce_sum: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(degree, bool) or not isinstance(degree, int) or degree < 2:
            raise ValueError(
                f"`degree` must be an int >= 2. Received: degree={degree!r}"
            )
        if not isinstance(reduce_sum, bool):
            raise ValueError(
                f"`reduce_sum` must be a bool. Received: reduce_sum={reduce_sum!r}"
            )
        self.degree = degree
        self.reduce_sum = reduce_sum
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != 3:
            raise ValueError(
                "`ANOVAInteraction` expects inputs of shape "
                "(batch, num_fields, embedding_dim). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.built = True

    def call(self, inputs: Any, mask: Any = None) -> Any:
        dtype = accumulation_dtype(self.compute_dtype)
        x = ops.cast(inputs, dtype)  # (B, F, D)
        if mask is not None:
            check_field_mask(mask, inputs, "ANOVAInteraction")
            x = x * field_weights(mask, dtype)[:, :, None]
        power = x
        power_sums = []  # P_1 .. P_m, each (B, D)
        for _ in range(self.degree):  # a loop over the degree, not the fields
            power_sums.append(ops.sum(power, axis=1))
            power = power * x
        elementary = [ops.ones_like(power_sums[0])]  # E_0
        for t in range(1, self.degree + 1):
            total = ops.zeros_like(power_sums[0])
            for k in range(1, t + 1):
                term = elementary[t - k] * power_sums[k - 1]
                total = total + term if k % 2 == 1 else total - term
            elementary.append(total / t)
        outputs = elementary[self.degree]  # (B, D)
        if self.reduce_sum:
            outputs = ops.sum(outputs, axis=1, keepdims=True)
        return ops.cast(outputs, self.compute_dtype)

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
        config.update({"degree": self.degree, "reduce_sum": self.reduce_sum})
        return config
