"""Field features (`keras_fm.features` specs) as the Bayesian learners' rows."""

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from keras_fm.bayes.rows import SparseRows
from keras_fm.features import Feature
from keras_fm.layers.field_ids import FieldIds
from keras_fm.layers.field_input_layer import row_offsets


def field_rows(dataset: Any, features: Sequence[Feature]) -> SparseRows:
    """The rows of a dataset of feature dicts, as the SGD field models read it.

    Each field's values go through its spec (lookup, hashing, bucketing) into
    one feature space, as `keras_fm.layers.FieldIds` maps them; entries of
    value 0 (padding, missing values) are left out.

    Args:
        dataset: batches of ``(features, labels)``: a dict from feature name
            to tensor (dense, ragged or sparse, as `FieldEmbedding` takes),
            e.g. from `keras_fm.data.read_csv`.
        features: the specs, one per field (adapted where they need it).

    Returns:
        The `SparseRows`, of ``num_features`` the specs' rows in all.

    Raises:
        ValueError: for a row holding an id twice (e.g. a list repeating a
            value), which the learners do not take.

    Example:

    >>> import tensorflow as tf
    >>> from keras_fm.features import IdFeature
    >>> specs = [IdFeature("user", 3), IdFeature("item", 2)]  # ids 0..3, 4..6
    >>> data = tf.data.Dataset.from_tensor_slices(
    ...     ({"user": [[0], [2]], "item": [[1], [0]]}, [1.0, 0.0])
    ... ).batch(2)
    >>> field_rows(data, specs).ids.tolist()
    [0, 5, 2, 4]
    """
    layer = FieldIds(features)
    rows, ids, values, labels = [], [], [], []
    count = 0
    for batch, batch_labels in dataset:
        encoded = layer(batch)
        batch_ids, batch_values = encoded["ids"], encoded["values"]
        if isinstance(batch_ids, tf.RaggedTensor):
            row = batch_ids.value_rowids().numpy()
            batch_ids, batch_values = batch_ids.flat_values, batch_values.flat_values
        else:
            row = np.repeat(np.arange(batch_ids.shape[0]), batch_ids.shape[1])
            batch_ids = tf.reshape(batch_ids, [-1])
            batch_values = tf.reshape(batch_values, [-1])
        kept = batch_values.numpy() != 0
        rows.append(row[kept] + count)
        ids.append(batch_ids.numpy()[kept])
        values.append(batch_values.numpy()[kept])
        labels.append(np.asarray(batch_labels, np.float64).reshape(-1))
        count += len(labels[-1])
    joined = [np.concatenate(parts) if parts else np.zeros(0) for parts in
              (rows, ids, values, labels)]  # fmt: skip
    return SparseRows.checked(
        joined[0], joined[1], joined[2], joined[3], layer.num_rows
    )


def field_groups(features: Sequence[Feature]) -> np.ndarray:
    """The prior group of every id of `field_rows`: one group per field.

    Args:
        features: the specs, one per field; features sharing a ``table``
            share the first one's group.

    Returns:
        int64 `(num_features,)`: the group of each id, `fit_mcmc`'s
        ``groups`` (its default when it is given ``features``).
    """
    offsets, total = row_offsets(features)
    groups = np.full(total, -1, np.int64)
    for index, (feature, offset) in enumerate(zip(features, offsets, strict=True)):
        block = groups[offset : offset + feature.num_rows]
        block[block < 0] = index
    return np.unique(groups, return_inverse=True)[1].reshape(-1)
