"""Integer ids with a known vocabulary size."""

from typing import Any

import tensorflow as tf

from keras_fm.features.categorical_feature import CategoricalFeature
from keras_fm.registration import register


@register
class IdFeature(CategoricalFeature):
    """Integer ids already in ``[0, vocabulary_size)``.

    Ids outside that range (negative, or ``>= vocabulary_size``) go to one
    out-of-vocabulary row, number ``vocabulary_size``, so an unexpected id
    never fails a request; the field takes ``vocabulary_size + 1`` rows.

    Args:
        name: str. The feature's name.
        vocabulary_size: int. Number of valid ids.
        multivalent, combiner, weight_feature, pad_value, table: see
            `CategoricalFeature`.

    Example:

    >>> IdFeature("user_id", vocabulary_size=943).num_rows
    944
    """

    def __init__(
        self,
        name: str,
        vocabulary_size: int,
        multivalent: bool = False,
        combiner: str = "sum",
        weight_feature: str | None = None,
        pad_value: int | None = None,
        table: str | None = None,
    ) -> None:
        super().__init__(
            name,
            input_dtype="int64",
            multivalent=multivalent,
            combiner=combiner,
            weight_feature=weight_feature,
            pad_value=pad_value,
            table=table,
        )
        if (
            isinstance(vocabulary_size, bool)
            or not isinstance(vocabulary_size, int)
            or vocabulary_size < 1
        ):
            raise ValueError(
                f"`vocabulary_size` of feature {name!r} must be a positive int. "
                f"Received: vocabulary_size={vocabulary_size!r}"
            )
        self.vocabulary_size = vocabulary_size

    @property
    def num_rows(self) -> int:
        return self.vocabulary_size + 1

    def encode(self, values: Any, preprocessor: Any) -> tuple[Any, Any]:
        values = tf.cast(values, tf.int64)
        in_range = tf.logical_and(values >= 0, values < self.vocabulary_size)
        ids = tf.where(in_range, values, tf.cast(self.vocabulary_size, tf.int64))
        return tf.cast(ids, tf.int32), self.pad_weights(values)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["vocabulary_size"] = self.vocabulary_size
        return config
