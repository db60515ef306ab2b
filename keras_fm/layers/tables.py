"""Embedding tables created without holding several copies of them at once."""

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_fm.huge_pages import advise_huge_pages
from keras_fm.saving import assign_stored
from keras_fm.sparse_read import write_by_blocks

# Tables of more entries are filled block by block. A random initializer
# computes a whole table in several temporaries (a draw, its scaling, its
# shift), which the allocator keeps: a 1e7 x 16 float32 table (640 MB) built
# at once raised the process's resident memory by 2.0 GB, built by blocks of
# this size by the table alone.
BLOCK_ENTRIES = 1 << 22

# Initializers that draw each entry independently of the table's shape, so
# that filling it by blocks draws from the same distribution.
_ELEMENTWISE = (
    keras.initializers.RandomNormal,
    keras.initializers.RandomUniform,
    keras.initializers.TruncatedNormal,
)


def add_table(
    layer: keras.layers.Layer,
    name: str,
    shape: tuple[int, ...],
    initializer: Any,
    regularizer: Any = None,
) -> keras.Variable:
    """``layer.add_weight`` for an embedding table, filled by blocks when large.

    Tables of more than `BLOCK_ENTRIES` entries with a random initializer
    whose entries are independent of the shape (`RandomNormal`,
    `RandomUniform`, `TruncatedNormal`) are created as zeros and filled
    `BLOCK_ENTRIES` entries at a time, each block a fresh draw of the same
    distribution (a seeded initializer gives the same table on every run,
    but not the table it would give in one piece). Smaller tables, other
    initializers and tables under a `tf.distribute` strategy are created in
    one piece. The table is not autocast: gathered rows are cast instead.
    Large tables are backed by huge pages where the system offers them
    (`keras_fm.huge_pages`).

    Args:
        layer: the layer that owns the table.
        name: the weight's name.
        shape: its shape, rows first.
        initializer: a Keras initializer.
        regularizer: Optional Keras regularizer of the whole table.

    Returns:
        The `keras.Variable`.
    """
    initializer = keras.initializers.get(initializer)
    by_blocks = (
        int(np.prod(shape)) > BLOCK_ENTRIES
        and isinstance(initializer, _ELEMENTWISE)
        and not tf.distribute.has_strategy()
    )
    table = layer.add_weight(
        name=name,
        shape=shape,
        initializer="zeros" if by_blocks else initializer,
        regularizer=regularizer,
        autocast=False,
    )
    advise_huge_pages(table)  # while it holds one value
    if by_blocks:
        _fill_by_blocks(table, initializer)
    return table


class TableLoading:
    """For layers with tables: Keras's `load_own_variables`, with stored
    arrays that `keras_fm.saving.load_weights` hands out by blocks of rows
    (`keras_fm.saving.StoredRows`) copied into the tables a block at a
    time."""

    def load_own_variables(self, store: Any) -> None:
        self._check_load_own_variables(store)  # type: ignore[attr-defined]
        variables = self._trainable_variables + self._non_trainable_variables  # type: ignore[attr-defined]
        for index, variable in enumerate(variables):
            assign_stored(variable, store[f"{index}"])


def _fill_by_blocks(table: keras.Variable, initializer: Any) -> None:
    """Assigns ``initializer``'s draws to ``table``, a block of rows at a time."""
    config = initializer.get_config()
    draws = type(initializer).from_config(
        {**config, "seed": keras.random.SeedGenerator(config.get("seed"))}
    )
    write_by_blocks(table, draws, BLOCK_ENTRIES)
