"""The dtype in which interaction layers accumulate their sums."""

from typing import Any

import keras

_LOW_PRECISION = ("float16", "bfloat16")


def accumulation_dtype(compute_dtype: Any) -> str:
    """Returns the dtype that sums of products should be computed in.

    Half-precision policies (``mixed_float16``, ``mixed_bfloat16``) lose most of
    an FM score to cancellation in ``(sum v)^2 - sum v^2``, so 16-bit compute
    dtypes accumulate in float32; float32 and float64 keep their own dtype.

    Args:
        compute_dtype: str or dtype. The layer's compute dtype.

    Returns:
        The name of the accumulation dtype.
    """
    name = keras.backend.standardize_dtype(compute_dtype)
    return "float32" if name in _LOW_PRECISION else name
