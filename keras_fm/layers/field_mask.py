"""Validation and application of ``(batch, num_fields)`` field masks."""

from typing import Any

import keras
from keras import ops


def check_field_mask(mask: Any, inputs: Any, layer_name: str) -> None:
    """Raises a `ValueError` if ``mask`` is not a ``(batch, num_fields)`` mask.

    Args:
        mask: The mask passed to the layer (not None).
        inputs: The layer's inputs, whose axis 1 is the field axis.
        layer_name: Name used in the error message.
    """
    mask_shape = tuple(mask.shape)
    num_fields = inputs.shape[1]
    if len(mask_shape) != 2 or (
        mask_shape[1] is not None
        and num_fields is not None
        and mask_shape[1] != num_fields
    ):
        raise ValueError(
            f"`{layer_name}` expects a field mask of shape (batch, {num_fields}). "
            f"Received: mask.shape={mask_shape}"
        )


def field_weights(mask: Any, dtype: str) -> Any:
    """Returns 1.0 where a field is present and 0.0 where it is masked.

    Boolean masks are used as they are; numeric masks count any non-zero entry
    as present, so a ``{0, 1}`` integer mask and a boolean mask agree.
    """
    if keras.backend.standardize_dtype(mask.dtype) != "bool":
        mask = ops.not_equal(mask, ops.zeros_like(mask))
    return ops.cast(mask, dtype)


def any_field_present(mask: Any, dtype: str) -> Any:
    """Returns ``(batch, 1)``: 1.0 where a row has at least one unmasked field."""
    present = ops.max(field_weights(mask, dtype), axis=1, keepdims=True)
    return ops.cast(present > 0, dtype)
