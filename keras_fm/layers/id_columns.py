"""Encoding of runs of one-column id features as one block.

A model of libsvm fields (`DataFormat`'s fields by position or from a
fields file) has one `IdFeature` per field, each one dense column. Encoded
one by one, each took about twenty small ops (range check,
out-of-vocabulary row, weights, offset), so that a 10-field model's forward
pass was about 360 ops, most of them this bookkeeping: `model.predict`,
which Keras unrolls over its ``steps_per_execution`` steps in one graph,
built 11,427 nodes for 32 steps (FM, 1e7 ids) and the process kept about
160 MB for them. Encoded as one `(batch, n)` block with per-column
vocabulary sizes and offsets, a run of ``n`` such features costs the ops
of one.
"""

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from keras_fm.features.feature import Feature, id_weights
from keras_fm.features.id_feature import IdFeature


def is_plain_id(feature: Feature, value: Any, weight: Any, preprocessor: Any) -> bool:
    """Whether a feature can join a block: a single-valued `IdFeature`
    without a preprocessor whose input (and weight input, if any) is dense."""
    if type(feature) is not IdFeature or feature.multivalent:
        return False
    if preprocessor is not None:
        return False
    return not any(
        isinstance(tensor, (tf.RaggedTensor, tf.SparseTensor))
        for tensor in (value, weight)
    )


def encode_id_columns(
    features: Sequence[IdFeature],
    values: Sequence[Any],
    weights: Sequence[Any],
    offsets: Sequence[int],
) -> tuple[Any, Any]:
    """The rows and weights of ``n`` one-column id features, as one block.

    Each column does what `IdFeature.encode` and the feature's weight input
    do one by one: ids outside ``[0, vocabulary_size)`` go to the feature's
    out-of-vocabulary row, its offset is added, a missing (NaN) weight is
    1.0 and the others are clipped (`id_weights`).

    Args:
        features: the `IdFeature`s, in field order.
        values: their inputs, each `(batch, 1)`.
        weights: their weight inputs, each `(batch, 1)`, or None for a
            feature without one.
        offsets: each feature's first row in the stacked table.

    Returns:
        ``(ids, weights)``: `(batch, n)` int32 rows and float32 weights.
    """
    ids = tf.concat([tf.cast(value, tf.int64) for value in values], axis=1)
    sizes = tf.constant([f.vocabulary_size for f in features], tf.int64)
    in_range = tf.logical_and(ids >= 0, ids < sizes)
    rows = tf.cast(tf.where(in_range, ids, sizes), tf.int32)
    rows = rows + tf.constant(offsets, tf.int32)
    if all(weight is None for weight in weights):
        return rows, tf.ones(tf.shape(rows), tf.float32)
    columns = [
        tf.ones(tf.shape(value), tf.float32)
        if weight is None
        else tf.cast(weight, tf.float32)
        for value, weight in zip(values, weights, strict=True)
    ]
    return rows, id_weights(tf.concat(columns, axis=1))
