"""Options shared by every categorical feature spec."""

from typing import Any

import tensorflow as tf

from keras_fm.features.feature import Feature

COMBINERS = ("sum", "mean", "sqrtn")
INPUT_DTYPES = ("int64", "string")


class CategoricalFeature(Feature):
    """Base of categorical specs: one id per example, or a list of ids.

    Args:
        name: str. The feature's name.
        multivalent: bool. Whether an example holds a variable-length list of
            ids (e.g. genres, tags) instead of exactly one. Defaults to `False`.
        combiner: str. How a list of ids is pooled into one field vector:
            `"sum"`, `"mean"` (sum / total weight) or `"sqrtn"`
            (sum / sqrt(sum of squared weights)). Defaults to `"sum"`.
        weight_feature: Optional str. Name of a float input holding one weight
            per id (same shape as the ids), which scales that id's vector.
            Defaults to `None` (every id weighs 1).
        pad_value: Optional int or str. The value that pads dense `(batch,
            length)` lists of a multivalent feature; padded slots take no
            part. Defaults to `-1` for integer and `""` for string ids.
        table: Optional str. Features with the same `table` share one block
            of embedding rows (they must need the same number of rows), e.g.
            a clicked-items history and the candidate item, or the fields of
            a libffm file whose ids are global. Defaults to `None` (rows of
            its own).
    """

    def __init__(
        self,
        name: str,
        *,
        input_dtype: str,
        multivalent: bool = False,
        combiner: str = "sum",
        weight_feature: str | None = None,
        pad_value: int | str | None = None,
        table: str | None = None,
    ) -> None:
        super().__init__(name)
        if input_dtype not in INPUT_DTYPES:
            raise ValueError(
                f"`dtype` of feature {name!r} must be one of {INPUT_DTYPES}. "
                f"Received: dtype={input_dtype!r}"
            )
        if not isinstance(multivalent, bool):
            raise ValueError(
                f"`multivalent` must be a bool. Received: multivalent={multivalent!r}"
            )
        if combiner not in COMBINERS:
            raise ValueError(
                f"`combiner` must be one of {COMBINERS}. "
                f"Received: combiner={combiner!r}"
            )
        if weight_feature is not None and not isinstance(weight_feature, str):
            raise ValueError(
                "`weight_feature` must be the name of an input or None. "
                f"Received: weight_feature={weight_feature!r}"
            )
        if table is not None and (not isinstance(table, str) or not table):
            raise ValueError(
                f"`table` must be a non-empty str or None. Received: table={table!r}"
            )
        if pad_value is None:
            pad_value = -1 if input_dtype == "int64" else ""
        if input_dtype == "int64" and (
            isinstance(pad_value, bool) or not isinstance(pad_value, int)
        ):
            raise ValueError(
                f"`pad_value` of integer feature {name!r} must be an int. "
                f"Received: pad_value={pad_value!r}"
            )
        if input_dtype == "string" and not isinstance(pad_value, str):
            raise ValueError(
                f"`pad_value` of string feature {name!r} must be a str. "
                f"Received: pad_value={pad_value!r}"
            )
        self.input_dtype = input_dtype
        self.multivalent = multivalent
        self.combiner = combiner
        self.weight_feature = weight_feature
        self.pad_value = pad_value
        self.table = table

    def pad_weights(self, values: Any) -> Any:
        """float32 zeros at padded slots (multivalent only), ones elsewhere."""
        if not self.multivalent:
            return tf.ones(tf.shape(values), tf.float32)
        return tf.cast(tf.not_equal(values, self.pad_value), tf.float32)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "multivalent": self.multivalent,
                "combiner": self.combiner,
                "weight_feature": self.weight_feature,
                "pad_value": self.pad_value,
                "table": self.table,
            }
        )
        return config
