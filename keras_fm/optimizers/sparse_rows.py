"""Row-sparse gradients: the rows a batch touched, and updates of only those rows."""

from typing import Any

import tensorflow as tf

from keras_fm.sparse_read import gather_rows


def is_row_sparse(gradient: Any) -> bool:
    """Whether ``gradient`` names rows (a `tf.IndexedSlices`, as gathers give)."""
    return isinstance(gradient, tf.IndexedSlices)


def unique_rows(gradient: tf.IndexedSlices) -> tuple[Any, Any]:
    """``(rows, summed gradient rows)``: duplicate indices summed, as dense would."""
    rows, positions = tf.unique(gradient.indices)
    summed = tf.math.unsorted_segment_sum(gradient.values, positions, tf.shape(rows)[0])
    return rows, summed


def read_rows(variable: Any, rows: Any) -> Any:
    """The given rows of a Keras or TensorFlow variable."""
    return gather_rows(variable, rows)


def write_rows(optimizer: Any, variable: Any, rows: Any, values: Any) -> None:
    """Writes ``values`` into the given rows of a variable, leaving the others.

    Through ``optimizer.assign``, which scatters an `tf.IndexedSlices` (and
    works under `tf.distribute`).
    """
    optimizer.assign(variable, tf.IndexedSlices(values, rows))
