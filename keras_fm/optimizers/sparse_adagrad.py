"""Adagrad that reads and writes only the embedding rows a batch uses."""

from typing import Any

import keras
from keras import ops

from keras_fm import native
from keras_fm.optimizers.sparse_rows import (
    RowSparseMixin,
    is_row_sparse,
    read_rows,
    write_rows,
)
from keras_fm.registration import register


@register
class SparseAdagrad(RowSparseMixin, keras.optimizers.Adagrad):
    """`keras.optimizers.Adagrad` with row-sparse updates of embedding tables.

    Adagrad leaves a row with a zero gradient unchanged, so updating only the
    rows a batch touched gives exactly stock Adagrad's result (tested), at a
    cost in the batch's rows instead of the table's: for a row-sparse
    gradient (a `tf.IndexedSlices`) the accumulator and weights of the
    touched rows are gathered, updated with Adagrad's equations and written
    back (outside XLA by one C++ op of `keras_fm.native` where it can be
    built, as in `LazyAdam`). Adagrad is the optimizer of libffm and xLearn
    for FFM.

    Args:
        learning_rate, initial_accumulator_value, epsilon, **kwargs: as
            `keras.optimizers.Adagrad`.

    Example:

    >>> round(SparseAdagrad(learning_rate=0.05).get_config()["learning_rate"], 6)
    0.05
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        name: str = "sparse_adagrad",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate,
            initial_accumulator_value=initial_accumulator_value,
            epsilon=epsilon,
            name=name,
            **kwargs,
        )

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        if not is_row_sparse(gradient):
            super().update_step(gradient, variable, learning_rate)
            return
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        accumulator = self._accumulators[self._get_variable_index(variable)]
        penalties = self.one_pass_penalties(gradient, variable)
        if penalties is not None:
            native.sparse_row_adagrad(
                variable, accumulator, gradient, lr, self.epsilon, *penalties
            )
            return
        rows, grad, current = self.rows_and_gradient(gradient, variable)
        accumulated = read_rows(accumulator, rows) + ops.square(grad)
        write_rows(self, accumulator, rows, accumulated)
        step_rows = lr * grad / ops.sqrt(accumulated + self.epsilon)
        write_rows(self, variable, rows, current - step_rows)
