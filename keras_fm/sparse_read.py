"""Reading and writing rows of a table variable without the whole table."""

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_fm.native import row_reads


def gather_rows(variable: Any, ids: Any, dtype: Any = None) -> Any:
    """``variable[ids]`` as a sparse read (`ResourceGather`), cast to ``dtype``.

    Once a TensorFlow variable has been gathered from or scattered into, each
    dense read of it (``tf.convert_to_tensor``, what `keras.ops.take` does)
    copies the whole variable, so a step that reads a 1e7-row table densely
    costs O(table) even when it touches a few thousand rows. Reading only the
    rows keeps a step O(rows). Tables read this way are created with
    ``autocast=False`` (an autocast read casts the whole table); ``dtype``
    casts the gathered rows instead.

    The gradient with respect to the variable is a `tf.IndexedSlices`, which
    the optimizers of `keras_fm.optimizers` apply to the touched rows only.
    In training steps the rows are copied by a gather that prefetches them
    (`keras_fm.native.row_reads`), where it applies.
    """
    value = variable.value if isinstance(variable, keras.Variable) else variable
    ids = tf.convert_to_tensor(ids)
    if ids.shape.rank == 1:
        rows = _gather(value, ids)
    else:  # by flat ids, as the gradient names them (see RowSparseMixin)
        flat = _gather(value, tf.reshape(ids, [-1]))
        # The rows' static shape: tf.shape of a variable would read it whole.
        row_shape = tf.TensorShape(value.shape[1:])
        if row_shape.is_fully_defined():
            row_shape = tf.constant(row_shape.as_list(), tf.int32)
        else:
            row_shape = tf.shape(value, tf.int32)[1:]
        rows = tf.reshape(flat, tf.concat([tf.shape(ids, tf.int32), row_shape], 0))
        rows.set_shape(ids.shape.concatenate(value.shape[1:]))
    return rows if dtype is None else tf.cast(rows, dtype)


def _gather(value: Any, ids: Any) -> Any:
    """``tf.gather``; in training steps, `keras_fm.native.row_reads.gather`,
    which prefetches rows, where it applies."""
    rows = row_reads.gather(value, ids)
    return tf.gather(value, ids) if rows is None else rows


def write_by_blocks(variable: Any, values_of: Any, block_entries: int) -> None:
    """Writes every row of ``variable`` in place, a block of rows at a time.

    A scatter writes into the variable's own buffer, where a sliced assign
    copied the whole table, and a block at a time keeps one block's values
    in memory rather than a table's.

    Args:
        variable: a `keras.Variable` or `tf.Variable`, rows first.
        values_of: a function from a block's shape to its values.
        block_entries: about the entries of a block (at least one row).
    """
    value = variable.value if isinstance(variable, keras.Variable) else variable
    rows, width = value.shape[0], int(np.prod(value.shape[1:]))
    block = max(1, block_entries // max(width, 1))
    for start in range(0, rows, block):
        stop = min(rows, start + block)
        values = tf.cast(values_of((stop - start, *value.shape[1:])), value.dtype)
        value.scatter_update(tf.IndexedSlices(values, tf.range(start, stop)))
