"""The field-aware factorization machine interaction (Juan et al., 2016)."""

from typing import Any

import keras
import numpy as np
from keras import ops

from keras_fm.layers.field_mask import check_field_mask, field_weights
from keras_fm.layers.precision import accumulation_dtype
from keras_fm.registration import register


@register
class FieldAwareFM(keras.layers.Layer):
    """Pairwise interaction of a field-aware factorization machine (FFM).

    In an FFM every feature has one latent vector per field it can meet.
    ``inputs[b, i, j]`` is the latent vector of the feature in field ``i``
    that is used against field ``j`` (already scaled by the feature's value).
    The layer computes

        sum_{i<j} <inputs[b, i, j], inputs[b, j, i]>

    with one gather of the ``F * (F - 1) / 2`` upper-triangle pairs: no Python
    loop over pairs, so the exported graph has a fixed, small number of ops
    whatever the number of fields.

    Sums are accumulated in float32 under 16-bit compute dtypes and the result
    is cast back to the layer's compute dtype.

    Args:
        **kwargs: Base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: Tensor of shape `(batch, num_fields, num_fields,
            embedding_dim)`. The two field axes must have the same size.
        mask: Optional tensor of shape `(batch, num_fields)`, boolean or
            numeric (non-zero means present). Masked fields take part in no
            pair; a row with every field masked gives 0.

    Returns:
        Tensor of shape `(batch, 1)` in the layer's compute dtype, with no mask.

    Raises:
        ValueError: if the inputs are not of rank 4, if the two field axes
            differ in size, or if the field or embedding axis is unknown.

    Example:

    >>> import numpy as np
    >>> latent = np.zeros((1, 3, 3, 2), dtype="float32")
    >>> latent[0, 0, 1] = [1.0, 2.0]  # field 0's feature, used against field 1
    >>> latent[0, 1, 0] = [3.0, 4.0]  # field 1's feature, used against field 0
    >>> FieldAwareFM()(latent).numpy()  # 1*3 + 2*4
    array([[11.]], dtype=float32)

    References:
        - [Juan et al., 2016. Field-aware Factorization Machines for CTR
          Prediction](https://doi.org/10.1145/2959100.2959134), Eq. (3).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != 4:
            raise ValueError(
                "`FieldAwareFM` expects inputs of shape "
                "(batch, num_fields, num_fields, embedding_dim). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        num_fields, num_fields_against, embedding_dim = input_shape[1:]
        if num_fields is None or embedding_dim is None:
            raise ValueError(
                "`FieldAwareFM` needs the field and embedding axes to be known. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        if num_fields != num_fields_against:
            raise ValueError(
                "`FieldAwareFM` expects a square field axis: inputs[:, i, j] is "
                "field i's latent vector against field j, so axes 1 and 2 must "
                f"have the same size. Received: input_shape={tuple(input_shape)}"
            )
        rows, cols = np.triu_indices(num_fields, k=1)
        # Positions of (i, j) and (j, i) in the flattened (F * F) field axes.
        self._left_index = (rows * num_fields + cols).astype("int32")
        self._right_index = (cols * num_fields + rows).astype("int32")
        self.built = True

    def call(self, inputs: Any, mask: Any = None) -> Any:
        dtype = accumulation_dtype(self.compute_dtype)
        _, num_fields, _, embedding_dim = inputs.shape
        if num_fields < 2:
            return ops.zeros((ops.shape(inputs)[0], 1), dtype=self.compute_dtype)
        latent = ops.cast(inputs, dtype)  # (B, F, F, D)
        if mask is not None:
            check_field_mask(mask, inputs, "FieldAwareFM")
            latent = latent * field_weights(mask, dtype)[:, :, None, None]
        flat = ops.reshape(latent, (-1, num_fields * num_fields, embedding_dim))
        left = ops.take(flat, self._left_index, axis=1)  # (B, P, D)
        right = ops.take(flat, self._right_index, axis=1)  # (B, P, D)
        outputs = ops.sum(left * right, axis=(1, 2))[:, None]  # (B, 1)
        return ops.cast(outputs, self.compute_dtype)

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def compute_output_shape(
        self, input_shape: tuple[int | None, ...]
    ) -> tuple[int | None, ...]:
        return (input_shape[0], 1)
