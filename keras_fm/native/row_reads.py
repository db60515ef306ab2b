"""Training's reads of table rows through a C++ gather that prefetches.

At 1e7 ids a batch's rows are random rows of tables far larger than the
caches, and TensorFlow's gather (``ResourceGather``) copies them one after
another, each copy waiting on memory. `gather` copies them with the row a
few ids ahead prefetched (``row_reads.cc``, built like the optimizers' ops,
`keras_fm.native.build`): DeepFM at 1e7 ids trained at 135k examples/s
against 126k, in one process with epochs alternating (6 each, the data and
model of `examples/benchmarks/throughput.py`).

It is used for tables of at least `MIN_ENTRIES` entries, and only where a
gradient tape records (a training step): a SavedModel, an evaluation or a
prediction never holds the op, so exported models need nothing beyond
TensorFlow. Also not under XLA (which compiles its own gather), a
`tf.distribute` strategy, for tables other than float32 ones in CPU memory
(`keras_fm.native.runs_on`), nor where the ops are off
(``KERAS_FM_NATIVE=0``) or cannot be built; `gather` then gives None and
the caller uses ``tf.gather``.
Its rows and gradient (a `tf.IndexedSlices`) are those of ``tf.gather``.
"""

from functools import cache
from pathlib import Path
from typing import Any

import tensorflow as tf
from tensorflow.python.eager import record
from tensorflow.python.ops import resource_variable_ops

from keras_fm.native import loaded_ops, runs_on

SOURCE = Path(__file__).with_name("row_reads.cc")

# Tables of fewer entries stay in tf.gather: they sit in the caches, where
# prefetching gains nothing (DeepFM at 1e4 ids, 1.6e5 entries: 0.96-1.0x).
MIN_ENTRIES = 1 << 22


@cache
def read_ops() -> Any:
    """The loaded gather op's module, or None where it is off or cannot be
    built (with a warning, once)."""
    return loaded_ops(SOURCE, "training gathers table rows with TensorFlow's op")


def gather(variable: Any, ids: Any) -> Any:
    """``tf.gather(variable, ids)`` by the prefetching op, or None where it
    does not apply (see the module's docstring).

    Args:
        variable: a `tf.Variable`.
        ids: int32 or int64 row ids, any shape.

    Returns:
        float32 rows of shape ``ids.shape + variable.shape[1:]``, or None.

    Raises:
        tf.errors.InvalidArgumentError: for an id outside the table, as
            ``tf.gather`` says it.
    """
    if not _applies(variable, ids):
        return None
    resource_variable_ops.variable_accessed(variable)  # the tape watches it
    rows = read_ops().keras_fm_gather_rows(variable.handle, ids)
    rows.set_shape(ids.shape.concatenate(variable.shape[1:]))
    return rows


def _applies(variable: Any, ids: Any) -> bool:
    return (
        record.could_possibly_record()
        and isinstance(variable, tf.Variable)
        and runs_on(variable)
        and (variable.shape.num_elements() or 0) >= MIN_ENTRIES
        and ids.dtype in (tf.int32, tf.int64)
        and read_ops() is not None
    )


@tf.RegisterGradient("KerasFmGatherRows")
def _gather_rows_gradient(op: Any, gradient: Any) -> tuple[Any, None]:
    """``ResourceGather``'s gradient: the rows' gradients at the flat ids."""
    handle, ids = op.inputs
    shape = resource_variable_ops.variable_shape(handle)
    size = tf.expand_dims(tf.size(ids), 0)
    values = tf.reshape(gradient, tf.concat([size, shape[1:]], 0))
    return tf.IndexedSlices(values, tf.reshape(ids, size), shape), None
