"""The base class of feature specs."""

import re
from typing import Any

import keras
import tensorflow as tf

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


class Feature:
    """A declarative description of one field of a model's input.

    A spec says what raw values a field holds (its input dtype), how they become
    rows of an embedding table (lookups, hashing, bucketization run in the
    graph, inside the embedding layer), and how many rows that takes. Specs are
    plain, immutable-by-convention objects that serialize with the model
    (``get_config`` / ``from_config``, registered under ``keras_fm``).

    Every subclass implements:

    - ``input_dtype``: ``"int64"``, ``"string"`` or ``"float32"``;
    - ``num_rows``: the number of embedding rows the field needs;
    - ``make_preprocessor()``: the Keras preprocessing layer that maps raw
      values to local row ids, or None;
    - ``encode(values, preprocessor)``: ``(row_ids, weights)`` of the same shape
      as ``values``: int32 local row ids in ``[0, num_rows)`` and float32
      weights (the value that scales the row's vector; 0 for padding and
      missing values);
    - ``needs_adapt``: whether statistics (a vocabulary, a mean, bin
      boundaries) must first be computed from data with
      `keras_fm.features.adapt`.

    Args:
        name: str. The feature's name: the key of its input in the features
            dict and the name of its serving input.
    """

    input_dtype: str = "float32"
    multivalent: bool = False
    combiner: str = "sum"
    weight_feature: str | None = None
    table: str | None = None

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                "`name` must be a non-empty identifier (letters, digits, '_', '.', "
                f"'-'; not starting with a digit). Received: name={name!r}"
            )
        self.name = name

    @property
    def needs_adapt(self) -> bool:
        return False

    @property
    def num_rows(self) -> int:
        raise NotImplementedError

    def make_preprocessor(self) -> keras.layers.Layer | None:
        return None

    def encode(self, values: Any, preprocessor: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def adapted(self, values: Any) -> "Feature":
        """Returns a copy with statistics computed from ``values`` (a 1-D array).

        Only called when `needs_adapt` is true.
        """
        raise NotImplementedError

    def check_ready(self) -> None:
        if self.needs_adapt:
            raise ValueError(
                f"Feature {self.name!r} needs statistics from data (a vocabulary, "
                "normalization statistics or bin boundaries). Call "
                "`keras_fm.features.adapt(features, dataset)` first, or pass them "
                f"explicitly. Received: {self!r}"
            )

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Feature":
        return cls(**config)

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return False
        assert isinstance(other, Feature)
        return self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.name))

    def __repr__(self) -> str:
        config = self.get_config()
        shown = {
            k: (f"<{len(v)} entries>" if isinstance(v, list) and len(v) > 8 else v)
            for k, v in config.items()
        }
        args = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"{type(self).__name__}({args})"


# The largest magnitude a numeric value or an id's weight has inside a model:
# beyond it (inf included) values are clipped, so that a served score is
# always finite (squares and products of 1e6 stay far below float32's 3e38).
VALUE_LIMIT = 1e6


def limit_values(values: Any) -> Any:
    """``values`` clipped to [-VALUE_LIMIT, VALUE_LIMIT] (NaN passes through)."""
    return tf.clip_by_value(values, -VALUE_LIMIT, VALUE_LIMIT)


def id_weights(weights: Any) -> Any:
    """The weights of ids as a model uses them: a missing weight (NaN) is
    1.0, libsvm's implicit value; others are clipped by `limit_values`."""
    weights = tf.cast(weights, tf.float32)
    return limit_values(tf.where(tf.math.is_nan(weights), 1.0, weights))


def present_weights(values: Any) -> Any:
    """float32 ones where a float value is present, zeros where it is NaN."""
    return tf.cast(tf.logical_not(tf.math.is_nan(values)), tf.float32)
