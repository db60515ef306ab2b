"""Reading rows of a table variable without reading the whole table."""

from typing import Any

import keras
import tensorflow as tf


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
    """
    value = variable.value if isinstance(variable, keras.Variable) else variable
    rows = tf.gather(value, ids)
    return rows if dtype is None else tf.cast(rows, dtype)
