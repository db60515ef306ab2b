"""Sparse rows regrouped into one feature per field, for the field embedding layers."""

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from keras_fm.features import Feature, IdFeature


def field_name(field: int) -> str:
    return f"field_{field}"


def split_fields(
    num_fields: int,
) -> Callable[[dict[str, Any], Any], tuple[dict[str, Any], Any]]:
    """A `dataset.map` function from libffm triples to per-field features.

    Turns ``{"fields", "ids", "values"}`` (the output of `read_libffm`) into
    ``{"field_0": ids, "field_0_value": values, ..., }``: for each field the
    ragged list of its feature ids and their values, in file order. Use with
    `libffm_features`.

    Args:
        num_fields: int. The number of fields; a field index beyond it is an
            error of the reader.

    Returns:
        A function ``(features, labels) -> (per-field features, labels)``.

    Example (``read_libffm`` from `keras_fm.data`)::

        dataset = read_libffm("train.ffm", task="binary", num_fields=39)
        dataset = dataset.map(split_fields(39))
    """

    def split(features: dict[str, Any], labels: Any) -> tuple[dict[str, Any], Any]:
        result = {}
        for field in range(num_fields):
            in_field = tf.equal(features["fields"], field)
            result[field_name(field)] = tf.ragged.boolean_mask(
                features["ids"], in_field
            )
            result[f"{field_name(field)}_value"] = tf.ragged.boolean_mask(
                features["values"], in_field
            )
        return result, labels

    return split


def libffm_features(num_fields: int, num_features: int) -> list[Feature]:
    """Specs matching `split_fields`: one multivalent `IdFeature` per field.

    libffm feature ids are global (one id space for all fields), so the fields
    share one table of ``num_features + 1`` rows; each id is weighted by its
    value. `FieldEmbedding` and `FieldAwareEmbedding` then give, for each
    field, the sum of ``value * vector`` of its features, which is libffm's
    model exactly when a row has at most one feature per field (as in the
    Criteo and Avazu files); pairs of two features of the same field are not
    modeled.

    Args:
        num_fields: int. The number of fields.
        num_features: int. The size of the global id space.

    Returns:
        ``num_fields`` specs named ``field_0``, ``field_1``, ..., weighted by
        ``field_k_value``.
    """
    return [
        IdFeature(
            field_name(field),
            vocabulary_size=num_features,
            multivalent=True,
            weight_feature=f"{field_name(field)}_value",
            table="libffm",
        )
        for field in range(num_fields)
    ]


def split_positions(
    num_fields: int,
) -> Callable[[dict[str, Any], Any], tuple[dict[str, Any], Any]]:
    """A `dataset.map` function from libsvm rows to fields by position.

    For libsvm / libFM files whose rows hold exactly one ``index:value`` per
    field, in a fixed field order (frappe, and the MovieLens files of the NFM
    paper), pair ``k`` of a row is field ``k``. Turns ``{"ids", "values"}``
    (the output of `read_libsvm`) into ``{"field_0": ids, "field_0_value":
    values, ...}``, each `(batch,)`, for `position_features`. A row with a
    different number of pairs fails with an error naming the count.

    Args:
        num_fields: int. The number of pairs of every row.

    Returns:
        A function ``(features, labels) -> (per-field features, labels)``.
    """

    def split(features: dict[str, Any], labels: Any) -> tuple[dict[str, Any], Any]:
        lengths = features["ids"].row_lengths()
        check = tf.debugging.assert_equal(
            lengths,
            tf.cast(num_fields, lengths.dtype),
            message=f"keras_fm: split_positions({num_fields}) needs rows of exactly "
            f"{num_fields} index:value pairs",
        )
        with tf.control_dependencies([check]):
            ids = tf.reshape(features["ids"].flat_values, [-1, num_fields])
            values = tf.reshape(features["values"].flat_values, [-1, num_fields])
        result = {}
        for field in range(num_fields):
            result[field_name(field)] = ids[:, field]
            result[f"{field_name(field)}_value"] = values[:, field]
        return result, labels

    return split


def position_features(num_fields: int, num_features: int) -> list[Feature]:
    """Specs matching `split_positions`: one `IdFeature` per field, one shared table.

    The ids of a libsvm file are global, so the fields share one table of
    ``num_features + 1`` rows, and each id is weighted by its value (for
    one-hot files such as frappe, all values are 1).

    Args:
        num_fields: int. The number of pairs (fields) per row.
        num_features: int. The size of the global id space.

    Returns:
        ``num_fields`` specs named ``field_0``, ``field_1``, ..., weighted by
        ``field_k_value``.
    """
    return [
        IdFeature(
            field_name(field),
            vocabulary_size=num_features,
            weight_feature=f"{field_name(field)}_value",
            table="libsvm",
        )
        for field in range(num_fields)
    ]
