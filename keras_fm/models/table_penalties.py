"""Where the whole-table penalties of a model's embedding tables apply."""

from typing import Any

import keras

from keras_fm.optimizers.row_penalties import is_separable
from keras_fm.optimizers.sparse_rows import RowSparseMixin


def table_penalties(model: keras.Model) -> list[tuple[Any, Any]]:
    """``(table, regularizer)`` for each regularized table of the model's
    embedding layers (`FieldEmbedding`, `FieldAwareEmbedding`, `SparseFM`):
    the latent table with ``embeddings_regularizer``, the first-order one
    with ``weights_regularizer``, as the layers' configs give them."""
    from keras_fm.layers import SparseFM
    from keras_fm.layers.field_input_layer import FieldInputLayer

    pairs = []
    for layer in model._flatten_layers():
        if not isinstance(layer, (FieldInputLayer, SparseFM)):
            continue
        for name, regularizer in (
            ("embeddings", layer.embeddings_regularizer),
            ("linear_weights", layer.weights_regularizer),
        ):
            table = getattr(layer, name, None)
            if table is not None and regularizer is not None:
                pairs.append((table, regularizer))
    return pairs


def place_table_penalties(model: keras.Model, optimizer: Any) -> int:
    """Puts the tables' penalties where ``optimizer`` applies them cheaply.

    A row-sparse optimizer (`keras_fm.optimizers`) takes the tables' L1 and
    L2 penalties and applies them to the rows each step updates (see
    `keras_fm.optimizers.row_penalties`), so that a step costs the batch's
    rows rather than the tables'; their terms leave the model's loss. Any
    other optimizer gets them back on the tables, as Keras applies them:
    to every row at every step.

    Args:
        model: a built model.
        optimizer: the optimizer it is compiled with.

    Returns:
        The number of penalties the optimizer applies to rows.
    """
    row_sparse = isinstance(optimizer, RowSparseMixin)
    moved = []
    for table, regularizer in table_penalties(model):
        if row_sparse and is_separable(regularizer):
            table.regularizer = None
            moved.append((table, regularizer))
        else:
            table.regularizer = regularizer
    if row_sparse:
        optimizer.penalize_rows(moved)
    return len(moved)
