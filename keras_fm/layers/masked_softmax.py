"""Softmax over an axis where some entries may be masked out."""

from typing import Any

from keras import ops


def masked_softmax(logits: Any, present: Any = None, axis: int = -1) -> Any:
    """Softmax of ``logits`` over ``axis``, over the entries where ``present > 0``.

    Masked entries get weight 0, and a slice with no entry present gets all
    zeros (not NaN, not a uniform distribution). ``present`` (floats, 1 or 0)
    must broadcast against ``logits``. Unlike `keras.ops.softmax`, an axis of
    size 1 is fine (the weight is 1).
    """
    if present is not None:
        logits = ops.where(
            present > 0, logits, ops.min(logits, axis=axis, keepdims=True)
        )
    exponentials = ops.exp(logits - ops.max(logits, axis=axis, keepdims=True))
    if present is not None:
        exponentials = exponentials * present
    total = ops.sum(exponentials, axis=axis, keepdims=True)
    return exponentials / ops.maximum(total, 1e-30)
