"""Whole-table L1/L2 penalties applied by a row-sparse optimizer to updated rows.

A Keras regularizer on a table adds ``penalty(table)`` to the loss at every
step, whose gradient is dense: every row of the table, used or not, is
updated at every step, and a row-sparse optimizer gets a dense gradient
(one step of DeepFM at 1e7 ids then cost as much as 150 steps at 1e4). A
row-sparse optimizer moves a row only when a batch uses it, keeping the
moments of the others as they were (`LazyAdam`); applied the same way, the
penalty adds its gradient to the rows a step updates, each row once, and
leaves the others. For a row a step updates this is the whole-table
penalty's gradient exactly; the rows it leaves are not decayed.
"""

from typing import Any

import keras
import tensorflow as tf

# Penalties that are sums of one term per entry, whose gradient at a row
# needs that row only.
SEPARABLE = (keras.regularizers.L1, keras.regularizers.L2, keras.regularizers.L1L2)


def is_separable(regularizer: Any) -> bool:
    """Whether ``regularizer`` is an L1, L2 or L1L2 penalty (exactly these classes)."""
    return type(regularizer) in SEPARABLE


def penalty_gradient(regularizer: Any, rows: Any) -> Any:
    """The gradient of ``regularizer`` at the given table rows.

    Args:
        regularizer: a `keras.regularizers.L1`, `L2` or `L1L2`.
        rows: the rows' values, `(n, ...)`.

    Returns:
        ``2 * l2 * rows + l1 * sign(rows)``, shaped as ``rows``.
    """
    config = regularizer.get_config()
    gradient = tf.zeros_like(rows)
    if config.get("l2"):
        gradient += 2.0 * config["l2"] * rows
    if config.get("l1"):
        gradient += config["l1"] * tf.sign(rows)
    return gradient
