"""FTRL-Proximal that reads and writes only the embedding rows a batch uses."""

from typing import Any

import keras
from keras import ops

from keras_fm.optimizers.sparse_rows import (
    RowSparseMixin,
    is_row_sparse,
    read_rows,
    write_rows,
)
from keras_fm.registration import register


@register
class SparseFtrl(RowSparseMixin, keras.optimizers.Ftrl):
    """`keras.optimizers.Ftrl` with row-sparse updates of embedding tables.

    For a row-sparse gradient (a `tf.IndexedSlices`) the touched rows'
    weights, accumulators and linear terms are gathered, updated with FTRL's
    equations (McMahan et al., 2013, as `keras.optimizers.Ftrl` writes them)
    and written back; other rows are left as they are. On the rows a step
    touches the result equals stock Ftrl's (tested); stock Ftrl also
    rewrites every untouched row from its linear term, which for a row never
    seen sets it to zero, so the two differ there (FTRL's lazy form, as in
    the per-coordinate algorithm of the paper, where a weight is computed
    when its feature occurs).

    Args:
        learning_rate, learning_rate_power, initial_accumulator_value,
            l1_regularization_strength, l2_regularization_strength,
            l2_shrinkage_regularization_strength, beta, **kwargs: as
            `keras.optimizers.Ftrl`.

    Example:

    >>> SparseFtrl(learning_rate=0.05).get_config()["learning_rate_power"]
    -0.5
    """

    def __init__(self, *args: Any, name: str = "sparse_ftrl", **kwargs: Any) -> None:
        super().__init__(*args, name=name, **kwargs)

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        if not is_row_sparse(gradient):
            super().update_step(gradient, variable, learning_rate)
            return
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        index = self._get_variable_index(variable)
        accumulator, linear = self._accumulators[index], self._linears[index]
        rows, grad, weights = self.rows_and_gradient(gradient, variable)
        accum = read_rows(accumulator, rows)
        lin = read_rows(linear, rows)
        power = self.learning_rate_power
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        shrunk = grad + 2 * self.l2_shrinkage_regularization_strength * weights
        new_accum = accum + ops.square(grad)
        lin = (
            lin
            + shrunk
            - ((ops.power(new_accum, -power) - ops.power(accum, -power)) / lr * weights)
        )
        quadratic = ops.power(new_accum, -power) / lr + 2 * l2
        l1 = self.l1_regularization_strength
        weights = (ops.clip(lin, -l1, l1) - lin) / quadratic
        write_rows(self, linear, rows, lin)
        write_rows(self, accumulator, rows, new_accum)
        write_rows(self, variable, rows, weights)
