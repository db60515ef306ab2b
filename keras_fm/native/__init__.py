"""C++ ops for the row-sparse optimizers' updates outside XLA (and, in
`keras_fm.native.row_reads`, for training's gathers of large tables).

Composed from TensorFlow's ops, a row-sparse Adam step on a table finds the
batch's rows (``Unique``), sums their gradients, gathers the table and its
two moments at those rows and scatters all three back: for DeepFM at 1e7
ids, about 14,000 random rows of three 640 MB arrays read and written in
separate passes. `sparse_row_adam` and `sparse_row_adagrad` do it in one
pass, row by row, prefetching the rows ahead; they compute exactly what
`keras_fm.optimizers.LazyAdam` and `SparseAdagrad` compute with TensorFlow's
ops (tested bit for bit), whole-table L1/L2 penalties included.

The ops are compiled on first use against the installed TensorFlow
(`keras_fm.native.build`, a few seconds, cached). Where that cannot be done
(no C++ compiler, a failed build) the optimizers keep TensorFlow's ops, and
say so once in a warning; ``KERAS_FM_NATIVE=0`` turns the ops off. They run
on CPU variables without a `tf.distribute` strategy and outside XLA; under
XLA the optimizers have their own route (`keras_fm.optimizers.sparse_rows`).
"""

import logging
import os
from functools import cache
from pathlib import Path
from typing import Any

import tensorflow as tf

from keras_fm.native.build import SOURCE, BuildError, built_library
from keras_fm.xla_context import in_xla

logger = logging.getLogger("keras_fm")


@cache
def row_ops() -> Any:
    """The loaded ops' module, or None where they are off or cannot be built.

    Returns:
        The module `tf.load_op_library` gives, or None (with a warning,
        once, when the build failed).
    """
    return loaded_ops(SOURCE, "row-sparse optimizers use TensorFlow's ops")


def runs_on(variable: Any) -> bool:
    """Whether the ops may work on ``variable`` in the function being traced:
    a float32 variable outside a GPU, outside XLA and any `tf.distribute`
    strategy (whether the ops could be built is asked apart)."""
    return (
        not in_xla()
        and not tf.distribute.has_strategy()
        and tf.as_dtype(variable.dtype) == tf.float32
        and "GPU" not in str(getattr(variable, "device", "")).upper()
    )


def loaded_ops(source: Path, fallback: str) -> Any:
    """The ops of ``source`` loaded, built first where needed; None where
    ``KERAS_FM_NATIVE=0`` or the build fails, saying ``fallback`` in a
    warning then."""
    if os.environ.get("KERAS_FM_NATIVE", "1") == "0":
        return None
    try:
        return tf.load_op_library(str(built_library(source)))
    except (BuildError, OSError, tf.errors.OpError) as error:
        logger.warning("keras_fm: %s (slower on large tables): %s", fallback, error)
        return None


def sparse_row_adam(
    table: Any,
    m: Any,
    v: Any,
    gradient: tf.IndexedSlices,
    alpha: Any,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    l1: float = 0.0,
    l2: float = 0.0,
) -> Any:
    """Adam's update of the rows a row-sparse gradient names, in place.

    Per distinct row, with ``g`` the sum of its gradient rows plus the
    penalty's gradient ``2 * l2 * x + l1 * sign(x)``:
    ``m += (g - m) * (1 - beta_1)``, ``v += (g**2 - v) * (1 - beta_2)``,
    ``x -= m * alpha / (sqrt(v) + epsilon)``.

    Args:
        table: the table, a float32 variable of CPU memory.
        m: its first moments, a variable of the table's shape.
        v: its second moments, likewise.
        gradient: float32 values, one row per index; repeated indices sum.
        alpha: the step's learning rate with Adam's bias correction.
        beta_1: Adam's beta_1.
        beta_2: Adam's beta_2.
        epsilon: Adam's epsilon.
        l1: the table's L1 penalty.
        l2: the table's L2 penalty.

    Returns:
        The op (in a `tf.function`, ordered with the variables' other reads
        and writes).

    Raises:
        tf.errors.InvalidArgumentError: for an index outside the table.
    """
    return row_ops().keras_fm_sparse_row_adam(
        table=table.handle,
        m=m.handle,
        v=v.handle,
        alpha=alpha,
        one_minus_beta_1=1 - beta_1,
        one_minus_beta_2=1 - beta_2,
        epsilon=epsilon,
        **_rows_and_penalties(gradient, l1, l2),
    )


def sparse_row_adagrad(
    table: Any,
    accumulator: Any,
    gradient: tf.IndexedSlices,
    learning_rate: Any,
    epsilon: float,
    l1: float = 0.0,
    l2: float = 0.0,
) -> Any:
    """Adagrad's update of the rows a row-sparse gradient names, in place.

    Per distinct row, with ``g`` as in `sparse_row_adam`:
    ``accumulator += g**2``, ``x -= learning_rate * g / sqrt(accumulator +
    epsilon)`` (Keras's Adagrad, epsilon inside the root).

    Args:
        table: the table, a float32 variable of CPU memory.
        accumulator: its accumulator, a variable of the table's shape.
        gradient: float32 values, one row per index; repeated indices sum.
        learning_rate: the step's learning rate.
        epsilon: Adagrad's epsilon.
        l1: the table's L1 penalty.
        l2: the table's L2 penalty.

    Returns:
        The op.

    Raises:
        tf.errors.InvalidArgumentError: for an index outside the table.
    """
    return row_ops().keras_fm_sparse_row_adagrad(
        table=table.handle,
        accumulator=accumulator.handle,
        learning_rate=learning_rate,
        epsilon=epsilon,
        **_rows_and_penalties(gradient, l1, l2),
    )


def _rows_and_penalties(
    gradient: tf.IndexedSlices, l1: float, l2: float
) -> dict[str, Any]:
    """The inputs both ops end with: the penalties, the gradient's values and
    its distinct rows (``tf.unique``: ``rows``, and ``positions`` naming each
    value's row)."""
    rows, positions = tf.unique(gradient.indices)
    return {
        "l1": l1,
        "l2_twice": 2.0 * l2,
        "values": gradient.values,
        "positions": positions,
        "rows": rows,
    }
