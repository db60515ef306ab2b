"""Raw libsvm rows as dense, padded tensors, which XLA can compile."""

from typing import Any

import tensorflow as tf

PADDING_ID = -1
"""The id of a padding slot: `keras_fm.layers.SparseFM` gives it value 0."""


def padded_widths(limit: int = 2**24) -> list[int]:
    """The widths rows are padded to: 4, 8, 12, 16, then four steps per
    doubling (20, 24, 28, 32, 40, 48, ...), up to ``limit``.

    A batch is padded to the first of these that holds its longest row, so
    padding adds at most 3 slots to rows of up to 16 pairs and at most 25%
    beyond, and XLA compiles the step once per width met (a few per
    doubling of the longest row) rather than once per batch.

    Args:
        limit: the largest width listed (rows longer than the last one are
            padded to their own length).

    Returns:
        The widths, increasing.
    """
    widths = [4, 8, 12, 16]
    while widths[-1] < limit:
        base = widths[-1]
        widths.extend(base + base // 4 * j for j in range(1, 5))
    return widths


_WIDTHS = padded_widths()


def padded_width(length: Any) -> Any:
    """The `padded_widths` entry for a longest row of ``length`` (a scalar
    tensor); ``length`` itself beyond the last entry."""
    widths = tf.constant(_WIDTHS, dtype=length.dtype)
    index = tf.searchsorted(widths, length[None], side="left")[0]
    return tf.where(
        index < len(_WIDTHS),
        tf.gather(widths, tf.minimum(index, len(_WIDTHS) - 1)),
        length,
    )


def pad_rows(features: dict[str, Any], *rest: Any) -> Any:
    """Ragged ``ids`` and ``values`` rows as dense ``(batch, width)`` tensors.

    For ``dataset.map``: the batches `keras_fm.data.read_libsvm` yields,
    padded with id `PADDING_ID` and value 0 to the batch's longest row,
    rounded up to a `padded_widths` entry. `keras_fm.layers.SparseFM` gives
    a padding slot nothing, so a model scores padded rows as it scores the
    ragged ones; built with ``build_sparse_fm(..., padded=True)``, it takes
    dense inputs, and `keras_fm.models.compile_for_task` compiles its steps
    with XLA (ragged inputs cannot be).

    Args:
        features: dict with ragged ``"ids"`` and ``"values"`` `(batch, None)`;
            other entries pass through.
        *rest: the labels (and sample weights), passed through.

    Returns:
        ``features`` with dense ``"ids"`` and ``"values"``, then ``*rest``.

    Example:
    >>> import tensorflow as tf
    >>> rows = {"ids": tf.ragged.constant([[3, 17], [5]], dtype="int64"),
    ...         "values": tf.ragged.constant([[1.0, 0.5], [2.0]])}
    >>> pad_rows(rows)["ids"].numpy().tolist()
    [[3, 17, -1, -1], [5, -1, -1, -1]]
    """
    ids, values = features["ids"], features["values"]
    length = tf.reduce_max(tf.concat([[0], ids.row_lengths()], 0))
    shape = tf.stack([ids.nrows(), padded_width(length)])
    padded = {
        **features,
        "ids": ids.to_tensor(default_value=PADDING_ID, shape=shape),
        "values": values.to_tensor(default_value=0.0, shape=shape),
    }
    return (padded, *rest) if rest else padded
