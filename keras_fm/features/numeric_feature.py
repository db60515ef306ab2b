"""A real value that scales its field's latent vector."""

import math
from typing import Any

import numpy as np
import tensorflow as tf

from keras_fm.features.feature import Feature, limit_values, present_weights
from keras_fm.registration import register

TRANSFORMS = (None, "log")


def apply_transform(values: Any, transform: str | None) -> Any:
    """``"log"``: sign(x) * log(1 + |x|) (defined for every real x)."""
    if transform == "log":
        return tf.sign(values) * tf.math.log1p(tf.abs(values))
    return values


def observed_values(values: Any, transform: str | None, name: str) -> np.ndarray:
    """The non-missing values, transformed: what statistics are computed on."""
    values = np.asarray(values, dtype="float64")
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise ValueError(f"Feature {name!r}: no non-missing value to adapt on.")
    if transform == "log":
        values = np.sign(values) * np.log1p(np.abs(values))
    return values


@register
class NumericFeature(Feature):
    """A real-valued field: one latent vector, scaled by the value.

    As in Rendle's FM, the field's vector is ``x * v`` (and its first-order
    term ``x * w``) with ``x`` the value after an optional transform and
    normalization:

        x = (t(value) - mean) / sqrt(variance),   t = identity or log

    ``"log"`` is ``sign(v) * log(1 + |v|)``, defined for every real value (the
    usual choice for heavy-tailed counts such as Criteo's integer columns).
    With ``normalize=True`` the mean and variance are given or computed by
    `keras_fm.features.adapt`. A missing value (NaN) contributes nothing: its
    weight is 0, so it never turns into a NaN score. The resulting ``x`` is
    clipped to ±1e6 (``keras_fm.features.feature.VALUE_LIMIT``), so ±inf and
    huge values (1e38) give a finite score.

    Args:
        name: str. The feature's name.
        transform: Optional str. `None` or `"log"`. Defaults to `None`.
        normalize: bool. Whether to standardize the (transformed) value.
            Defaults to `False`.
        mean: Optional float. Mean for `normalize`. Defaults to `None`.
        variance: Optional float. Variance for `normalize`. Defaults to
            `None`.

    Example:

    >>> NumericFeature("price", transform="log").num_rows
    1
    """

    input_dtype = "float32"

    def __init__(
        self,
        name: str,
        transform: str | None = None,
        normalize: bool = False,
        mean: float | None = None,
        variance: float | None = None,
    ) -> None:
        super().__init__(name)
        if transform not in TRANSFORMS:
            raise ValueError(
                f"`transform` must be one of {TRANSFORMS}. "
                f"Received: transform={transform!r}"
            )
        if not isinstance(normalize, bool):
            raise ValueError(
                f"`normalize` must be a bool. Received: normalize={normalize!r}"
            )
        if (mean is None) != (variance is None):
            raise ValueError(
                f"Feature {name!r}: pass both `mean` and `variance`, or neither. "
                f"Received: mean={mean!r}, variance={variance!r}"
            )
        if variance is not None and not (
            math.isfinite(variance) and variance >= 0 and math.isfinite(mean)  # type: ignore[arg-type]
        ):
            raise ValueError(
                f"Feature {name!r}: `mean` and `variance` must be finite and the "
                f"variance non-negative. Received: mean={mean!r}, variance={variance!r}"
            )
        self.transform = transform
        self.normalize = normalize
        self.mean = None if mean is None else float(mean)
        self.variance = None if variance is None else float(variance)

    @property
    def needs_adapt(self) -> bool:
        return self.normalize and self.mean is None

    @property
    def num_rows(self) -> int:
        return 1

    def encode(self, values: Any, preprocessor: Any) -> tuple[Any, Any]:
        self.check_ready()
        values = tf.cast(values, tf.float32)
        present = present_weights(values)
        values = apply_transform(tf.where(present > 0, values, 0.0), self.transform)
        if self.normalize:
            assert self.mean is not None and self.variance is not None
            scale = 1.0 / math.sqrt(max(self.variance, 1e-12))
            values = (values - self.mean) * scale
        values = limit_values(values) * present
        return tf.zeros(tf.shape(values), tf.int32), values

    def adapted(self, values: Any) -> "NumericFeature":
        values = observed_values(values, self.transform, self.name)
        return NumericFeature(
            self.name,
            transform=self.transform,
            normalize=True,
            mean=float(values.mean()),
            variance=float(values.var()),
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "transform": self.transform,
                "normalize": self.normalize,
                "mean": self.mean,
                "variance": self.variance,
            }
        )
        return config
