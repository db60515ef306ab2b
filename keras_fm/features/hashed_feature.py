"""Strings or integers hashed into a fixed number of rows."""

from typing import Any

import keras
import tensorflow as tf

from keras_fm.features.categorical_feature import CategoricalFeature
from keras_fm.registration import register


@register
class HashedFeature(CategoricalFeature):
    """Raw strings or integers hashed into ``num_bins`` rows in the graph.

    Uses `keras.layers.Hashing` (FarmHash 64 of the value's string form, or a
    keyed SipHash with ``salt``), so no vocabulary is needed and any value,
    seen or not, has a row; distinct values can share one.

    Args:
        name: str. The feature's name.
        num_bins: int. Number of rows.
        dtype: str. `"string"` or `"int64"`. Defaults to `"string"`.
        salt: Optional int or pair of ints. Key of the hash. Defaults to
            `None`.
        multivalent, combiner, weight_feature, pad_value, table: see
            `CategoricalFeature`.

    Example:

    >>> HashedFeature("device_ip", num_bins=1 << 20).num_rows
    1048576
    """

    def __init__(
        self,
        name: str,
        num_bins: int,
        dtype: str = "string",
        salt: int | list[int] | None = None,
        multivalent: bool = False,
        combiner: str = "sum",
        weight_feature: str | None = None,
        pad_value: int | str | None = None,
        table: str | None = None,
    ) -> None:
        super().__init__(
            name,
            input_dtype=dtype,
            multivalent=multivalent,
            combiner=combiner,
            weight_feature=weight_feature,
            pad_value=pad_value,
            table=table,
        )
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1:
            raise ValueError(
                f"`num_bins` of feature {name!r} must be a positive int. "
                f"Received: num_bins={num_bins!r}"
            )
        self.num_bins = num_bins
        self.dtype = dtype
        self.salt = list(salt) if isinstance(salt, (list, tuple)) else salt

    @property
    def num_rows(self) -> int:
        return self.num_bins

    def make_preprocessor(self) -> keras.layers.Layer:
        return keras.layers.Hashing(
            self.num_bins, salt=self.salt, name=f"{self.name}_hashing"
        )

    def encode(self, values: Any, preprocessor: Any) -> tuple[Any, Any]:
        if self.dtype == "int64":
            values = tf.cast(values, tf.int64)
        return tf.cast(preprocessor(values), tf.int32), self.pad_weights(values)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {"num_bins": self.num_bins, "dtype": self.dtype, "salt": self.salt}
        )
        return config
