"""Strings or integers mapped to rows by a vocabulary (Keras lookup layers)."""

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_fm.features.categorical_feature import CategoricalFeature
from keras_fm.registration import register


@register
class LookupFeature(CategoricalFeature):
    """Raw strings or integers looked up in a vocabulary inside the graph.

    The lookup is a `keras.layers.StringLookup` (``dtype="string"``) or
    `keras.layers.IntegerLookup` (``dtype="int64"``) owned by the embedding
    layer, so a served model takes the raw values. Values not in the
    vocabulary go to ``num_oov_indices`` out-of-vocabulary rows (rows
    ``0 .. num_oov_indices - 1``; with more than one, by hash). The field takes
    ``len(vocabulary) + num_oov_indices`` rows.

    The vocabulary is given, or built from data by
    `keras_fm.features.adapt`: the values seen at least ``min_count`` times,
    most frequent first, at most ``max_tokens`` of them.

    Args:
        name: str. The feature's name.
        vocabulary: Optional sequence of str or int. Defaults to `None` (to be
            adapted).
        dtype: str. `"string"` or `"int64"`. Defaults to `"string"`.
        num_oov_indices: int. Out-of-vocabulary rows. Defaults to `1`.
        min_count: int. With `adapt`, the fewest occurrences a value needs to
            enter the vocabulary. Defaults to `1`.
        max_tokens: Optional int. With `adapt`, the largest vocabulary.
            Defaults to `None` (no limit).
        multivalent, combiner, weight_feature, pad_value, table: see
            `CategoricalFeature`.

    Example:

    >>> LookupFeature("country", vocabulary=["fr", "de", "us"]).num_rows
    4
    """

    def __init__(
        self,
        name: str,
        vocabulary: Sequence[Any] | None = None,
        dtype: str = "string",
        num_oov_indices: int = 1,
        min_count: int = 1,
        max_tokens: int | None = None,
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
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, int):
            raise ValueError(
                "`num_oov_indices` must be a positive int. "
                f"Received: num_oov_indices={num_oov_indices!r}"
            )
        if num_oov_indices < 1:
            raise ValueError(
                "`num_oov_indices` must be a positive int: unknown values need a "
                f"row. Received: num_oov_indices={num_oov_indices!r}"
            )
        if (
            isinstance(min_count, bool)
            or not isinstance(min_count, int)
            or min_count < 1
        ):
            raise ValueError(
                f"`min_count` must be a positive int. Received: min_count={min_count!r}"
            )
        if max_tokens is not None and (
            not isinstance(max_tokens, int) or max_tokens < 1
        ):
            raise ValueError(
                "`max_tokens` must be a positive int or None. "
                f"Received: max_tokens={max_tokens!r}"
            )
        if vocabulary is not None:
            vocabulary = [str(v) if dtype == "string" else int(v) for v in vocabulary]
            if not vocabulary:
                raise ValueError(f"`vocabulary` of feature {name!r} is empty.")
            if len(set(vocabulary)) != len(vocabulary):
                raise ValueError(f"`vocabulary` of feature {name!r} repeats values.")
        self.vocabulary = vocabulary
        self.dtype = dtype
        self.num_oov_indices = num_oov_indices
        self.min_count = min_count
        self.max_tokens = max_tokens

    @property
    def needs_adapt(self) -> bool:
        return self.vocabulary is None

    @property
    def num_rows(self) -> int:
        self.check_ready()
        assert self.vocabulary is not None
        return len(self.vocabulary) + self.num_oov_indices

    def make_preprocessor(self) -> keras.layers.Layer:
        self.check_ready()
        if self.dtype == "string":
            return keras.layers.StringLookup(
                vocabulary=self.vocabulary,
                num_oov_indices=self.num_oov_indices,
                name=f"{self.name}_lookup",
            )
        return keras.layers.IntegerLookup(
            vocabulary=np.asarray(self.vocabulary, dtype="int64"),
            num_oov_indices=self.num_oov_indices,
            vocabulary_dtype="int64",
            name=f"{self.name}_lookup",
        )

    def encode(self, values: Any, preprocessor: Any) -> tuple[Any, Any]:
        if self.dtype == "int64":
            values = tf.cast(values, tf.int64)
        ids = tf.cast(preprocessor(values), tf.int32)
        return ids, self.pad_weights(values)

    def adapted(self, values: Any) -> "LookupFeature":
        values, counts = np.unique(np.asarray(values), return_counts=True)
        keep = counts >= self.min_count
        values, counts = values[keep], counts[keep]
        order = np.lexsort((values, -counts))  # most frequent first, ties by value
        vocabulary = values[order][: self.max_tokens].tolist()
        if self.dtype == "string":
            vocabulary = [
                v.decode() if isinstance(v, bytes) else str(v) for v in vocabulary
            ]
        if not vocabulary:
            raise ValueError(
                f"Feature {self.name!r}: no value occurs at least min_count="
                f"{self.min_count} times in the data; the vocabulary would be empty."
            )
        return LookupFeature(**{**self.get_config(), "vocabulary": vocabulary})

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "vocabulary": self.vocabulary,
                "dtype": self.dtype,
                "num_oov_indices": self.num_oov_indices,
                "min_count": self.min_count,
                "max_tokens": self.max_tokens,
            }
        )
        return config
