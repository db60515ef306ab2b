"""Row-sparse gradients: the rows a batch touched, and updates of only those rows."""

from typing import Any

import keras
import tensorflow as tf

from keras_fm import native
from keras_fm.huge_pages import advise_huge_pages
from keras_fm.optimizers.row_penalties import penalty_gradient
from keras_fm.saving import assign_stored
from keras_fm.sparse_read import gather_rows
from keras_fm.xla_context import in_xla


def is_row_sparse(gradient: Any) -> bool:
    """Whether ``gradient`` names rows (a `tf.IndexedSlices`, as gathers give)."""
    return isinstance(gradient, tf.IndexedSlices)


def unique_rows(gradient: tf.IndexedSlices) -> tuple[Any, Any]:
    """``(rows, summed gradient rows)``: duplicate indices summed, as dense would.

    Rows of two entries or more are summed by `summed_by_position`; rows of
    one keep TensorFlow's kernel, which is as fast there.
    """
    rows, positions = tf.unique(gradient.indices)
    count = tf.shape(rows)[0]
    width = gradient.values.shape[1:].num_elements()
    if width is not None and width >= 2:
        summed = summed_by_position(gradient.values, positions)[:count]
    else:
        summed = tf.math.unsorted_segment_sum(gradient.values, positions, count)
    return rows, summed


@tf.function(jit_compile=True, autograph=False, reduce_retracing=True)
def summed_by_position(values: Any, positions: Any) -> Any:
    """``unsorted_segment_sum(values, positions)`` into as many rows as
    ``values``, compiled by XLA.

    TensorFlow's CPU kernel adds one row at a time; XLA's loop is
    vectorized. For the 40,960 gradient rows of a DeepFM batch at 1e7 ids
    (about 14,000 distinct), 2.0-3.1x faster for rows of 2 to 64 entries
    (`examples/benchmarks/segment_sum.py`). XLA needs the output's length when
    compiling, hence one row per input row: the first ``max(positions) + 1``
    are the sums, the rest zero.
    """
    return tf.math.unsorted_segment_sum(values, positions, tf.shape(values)[0])


def representatives(indices: Any, scratch: Any) -> Any:
    """For each position of ``indices``, a position holding the same index.

    ``tf.unique`` cannot be compiled by XLA (its output's length depends on
    the data). Here every position writes itself into ``scratch`` (an int32
    vector with a slot per table row) at its index; one write per index
    wins, and reading the slots back names, for every position, the
    representative of its index. The scratch holds nothing between calls.

    Args:
        indices: int32 `(n,)` row indices, with repeats.
        scratch: a `tf.Variable` of int32 with at least ``max(indices) + 1``
            entries.

    Returns:
        int32 `(n,)`: equal entries exactly where the indices are equal, and
        ``representatives[p] == p`` at one position per distinct index.
    """
    positions = tf.range(tf.shape(indices)[0])
    scratch.scatter_update(tf.IndexedSlices(positions, indices))
    return tf.gather(scratch, indices)


def summed_rows(
    gradient: tf.IndexedSlices, representative: Any, num_rows: int
) -> tuple[Any, Any]:
    """``(rows, summed)``: `unique_rows` for XLA, in the gradient's own length.

    The values are summed at each index's representative position (see
    `representatives`); every other position gets the row ``num_rows``,
    past the table's end, whose reads XLA clamps and whose writes XLA
    skips, so an update computed from these rows writes each row once. Only
    for XLA: TensorFlow without it rejects rows past the end.

    Args:
        gradient: a `tf.IndexedSlices` of a table of ``num_rows`` rows.
        representative: `representatives` of its indices.
        num_rows: the table's rows.

    Returns:
        ``(rows, summed)`` of the length and shape of the gradient's indices
        and values.
    """
    count = tf.shape(representative)[0]
    own = tf.equal(representative, tf.range(count))
    rows = tf.where(own, tf.cast(gradient.indices, tf.int32), num_rows)
    summed = tf.math.unsorted_segment_sum(gradient.values, representative, count)
    return rows, summed


def indices_source(indices: Any) -> Any:
    """A key naming where a gradient's indices come from: the ids a gather
    took before any reshape (its gradient and `gather_rows` reshape them),
    so that the gradients of two tables gathered with the same ids share
    one key."""
    op = getattr(indices, "op", None)
    if op is None or op.type != "Reshape":
        return getattr(indices, "name", None) or indices.ref()
    while op.type == "Reshape":
        indices = op.inputs[0]
        op = indices.op
    return indices.name  # unique in its graph


def read_rows(variable: Any, rows: Any) -> Any:
    """The given rows of a Keras or TensorFlow variable."""
    return gather_rows(variable, rows)


def write_rows(optimizer: Any, variable: Any, rows: Any, values: Any) -> None:
    """Writes ``values`` into the given rows of a variable, leaving the others.

    Through ``optimizer.assign``, which scatters an `tf.IndexedSlices` (and
    works under `tf.distribute`).
    """
    optimizer.assign(variable, tf.IndexedSlices(values, rows))


class _RowState:
    """What `RowSparseMixin` keeps beside Keras's slots: the scratch vectors,
    one per table size; the representatives found in the function being
    traced, by the source of their indices; the tables' penalties applied to
    the rows each step updates (`keras_fm.optimizers.row_penalties`). Kept
    out of Keras's and TensorFlow's tracking: the scratches hold nothing to
    save, and the penalties belong to the model's layers."""

    def __init__(self) -> None:
        self.by_rows: dict[int, tf.Variable] = {}
        self.graph: Any = None
        self.found: dict[Any, Any] = {}
        self.penalties: dict[Any, Any] = {}

    def representatives(self, indices: Any, num_rows: int) -> Any:
        """`representatives` of ``indices``, found once per traced function
        for indices of the same source (the first and second-order tables
        of a batch are gathered with the same ids)."""
        graph = tf.compat.v1.get_default_graph()
        if graph is not self.graph:
            self.graph, self.found = graph, {}
        key = (indices_source(indices), num_rows)
        if key not in self.found:
            indices = tf.cast(indices, tf.int32)
            self.found[key] = representatives(indices, self.by_rows[num_rows])
        return self.found[key]


class RowSparseMixin:
    """What the row-sparse optimizers share: a row deduplication that runs
    with and without XLA.

    Without XLA, the rows of a row-sparse gradient are deduplicated by
    ``tf.unique`` (`unique_rows`); under XLA (``jit_compile=True``), which
    cannot compile ``tf.unique``, through an int32 scratch vector per table
    size (`representatives`, `summed_rows`; 4 bytes per row, created in
    `build`, never saved), found once for the tables a batch gathers with
    the same ids. Not under a strategy of several replicas, which never
    compiles with XLA.

    Slots of large tables are backed by huge pages where the system offers
    them (`keras_fm.huge_pages`).

    Whole-table L1/L2 penalties handed over by `penalize_rows` (as
    `keras_fm.models.compile_for_task` does for the model's tables) add
    their gradient to the rows each step updates.
    """

    def build(self, var_list: Any) -> None:
        super().build(var_list)  # type: ignore[misc]
        penalties = getattr(getattr(self, "_row_state", None), "penalties", {})
        self._row_state = _RowState()
        self._row_state.penalties = penalties
        for slot in self.variables:  # type: ignore[attr-defined]
            advise_huge_pages(slot)
        if tf.distribute.get_strategy().num_replicas_in_sync > 1:
            return
        for variable in var_list:
            rows = variable.shape[0] if len(variable.shape) >= 1 else None
            if rows and rows not in self._row_state.by_rows:
                scratch = tf.Variable(tf.zeros((rows,), tf.int32), trainable=False)
                advise_huge_pages(scratch)
                self._row_state.by_rows[rows] = scratch

    def save_own_variables(self, store: Any) -> None:
        """Keras's, handing ``store`` each variable rather than a NumPy copy
        of it: `keras_fm.saving.save_weights` writes the slots of large
        tables a block of rows at a time (Keras's stores convert each
        variable as before)."""
        for index, variable in enumerate(self.variables):  # type: ignore[attr-defined]
            store[str(index)] = variable

    def load_own_variables(self, store: Any) -> None:
        """Keras's, copying stored slots of large tables that
        `keras_fm.saving.load_weights` hands out by blocks of rows a block
        at a time."""
        if len(store.keys()) != len(self.variables):  # type: ignore[attr-defined]
            super().load_own_variables(store)  # type: ignore[misc]  # Keras warns
            return
        for index, variable in enumerate(self.variables):  # type: ignore[attr-defined]
            assign_stored(variable, store[str(index)])

    def penalize_rows(self, penalties: Any) -> None:
        """Applies whole-table penalties to the rows each step updates.

        Args:
            penalties: pairs ``(variable, regularizer)``, each regularizer
                an L1, L2 or L1L2 penalty no longer on its variable (see
                `keras_fm.optimizers.row_penalties`); replaces earlier ones.
        """
        if not hasattr(self, "_row_state"):
            self._row_state = _RowState()
        self._row_state.penalties = {
            self._var_key(variable): regularizer  # type: ignore[attr-defined]
            for variable, regularizer in penalties
        }

    def rows_and_gradient(self, gradient: Any, variable: Any) -> tuple[Any, Any, Any]:
        """``(rows, summed gradient rows, variable rows)`` of a row-sparse
        ``gradient``: `unique_rows` without XLA, `summed_rows` under it, the
        gradient cast to the variable's dtype with the variable's row
        penalty's gradient (`penalize_rows`) added, and the variable's values
        at those rows (`variable_rows`), read once for the penalty and the
        update."""
        state = getattr(self, "_row_state", None)
        num_rows = int(variable.shape[0])
        if state is None or not self._by_scratch(variable):
            rows, grad = unique_rows(gradient)
        else:
            representative = state.representatives(gradient.indices, num_rows)
            rows, grad = summed_rows(gradient, representative, num_rows)
        grad = keras.ops.cast(grad, variable.dtype)
        current = self.variable_rows(variable, gradient, rows)
        penalty = state.penalties.get(self._var_key(variable)) if state else None  # type: ignore[attr-defined]
        if penalty is not None:
            grad = grad + penalty_gradient(penalty, current)
        return rows, grad, current

    def one_pass_penalties(
        self, gradient: Any, variable: Any
    ) -> tuple[float, float] | None:
        """The ``(l1, l2)`` penalties with which `keras_fm.native`'s one-pass
        op updates ``variable``'s rows for ``gradient``, or None where the
        update is composed of TensorFlow's ops.

        The op runs outside XLA and any `tf.distribute` strategy, on
        float32 variables outside a GPU and float32 gradients, where the ops
        could be built (`keras_fm.native.row_ops`).
        """
        if (
            not is_row_sparse(gradient)
            or not native.runs_on(variable)
            or gradient.values.dtype != tf.float32
            or native.row_ops() is None
        ):
            return None
        state = getattr(self, "_row_state", None)
        penalty = state.penalties.get(self._var_key(variable)) if state else None  # type: ignore[attr-defined]
        config = penalty.get_config() if penalty is not None else {}
        return float(config.get("l1") or 0.0), float(config.get("l2") or 0.0)

    def variable_rows(self, variable: Any, gradient: Any, rows: Any) -> Any:
        """``read_rows(variable, rows)`` for the ``rows`` of
        `rows_and_gradient`, read where it costs least.

        Under XLA, the variable is read at the gradient's own indices: at
        every position that writes (its own representative) that is the same
        row, the other positions write nowhere, and the read is then the
        forward pass's gather of the same ids (`keras_fm.sparse_read`
        gathers with flat ids, as the gradient names them), which XLA
        computes once for both: one random read of the table less a step.
        """
        if self._by_scratch(variable):
            return read_rows(variable, gradient.indices)
        return read_rows(variable, rows)

    def _by_scratch(self, variable: Any) -> bool:
        """Whether the rows of ``variable``'s gradients are found by scratch
        (`summed_rows`), rather than by ``tf.unique``."""
        state = getattr(self, "_row_state", None)
        if state is None or int(variable.shape[0]) not in state.by_rows:
            return False
        return in_xla()
