"""Adam whose moments move only for the embedding rows a batch uses."""

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
class LazyAdam(RowSparseMixin, keras.optimizers.Adam):
    """Adam that updates embedding rows (and their moments) only when used.

    For a dense gradient this is `keras.optimizers.Adam`, bit for bit. For a
    row-sparse gradient (a `tf.IndexedSlices`, which gathers from an
    embedding table produce) only the rows the batch touched are read and
    written: their first and second moments and their weights follow Adam's
    equations, with the step's bias correction, and every other row, with its
    moments, is left as it is. Stock Adam instead decays the moments of every
    row and moves every row that has any momentum, at every step: a cost in
    the size of the table rather than of the batch, which makes it slower by
    orders of magnitude for tables of millions of rows.

    On a row that every step touches, LazyAdam equals Adam exactly; rows
    seen rarely keep their moments from when they were last seen (the
    behaviour of TensorFlow Addons' ``LazyAdam`` and of the sparse Adam of
    PyTorch), the usual choice for CTR embeddings.

    Outside XLA, a table's rows are updated by one C++ op of
    `keras_fm.native` (the same values as TensorFlow's ops, to the bit),
    where it can be built; otherwise, and under XLA or a `tf.distribute`
    strategy, by TensorFlow's ops (`keras_fm.optimizers.sparse_rows`).

    Args:
        learning_rate, beta_1, beta_2, epsilon, **kwargs: as
            `keras.optimizers.Adam`. ``amsgrad`` is not supported.

    Example:

    >>> optimizer = LazyAdam(learning_rate=1e-3)
    >>> optimizer.get_config()["name"]
    'lazy_adam'
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        name: str = "lazy_adam",
        **kwargs: Any,
    ) -> None:
        if kwargs.pop("amsgrad", False):
            raise ValueError("LazyAdam does not support `amsgrad`.")
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
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
        step = ops.cast(self.iterations + 1, dtype)
        beta_1_power = ops.power(ops.cast(self.beta_1, dtype), step)
        beta_2_power = ops.power(ops.cast(self.beta_2, dtype), step)
        alpha = lr * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        penalties = self.one_pass_penalties(gradient, variable)
        if penalties is not None:
            native.sparse_row_adam(
                variable,
                m,
                v,
                gradient,
                alpha,
                self.beta_1,
                self.beta_2,
                self.epsilon,
                *penalties,
            )
            return
        rows, grad, current = self.rows_and_gradient(gradient, variable)
        m_rows = read_rows(m, rows)
        v_rows = read_rows(v, rows)
        m_rows = m_rows + (grad - m_rows) * (1 - self.beta_1)
        v_rows = v_rows + (ops.square(grad) - v_rows) * (1 - self.beta_2)
        write_rows(self, m, rows, m_rows)
        write_rows(self, v, rows, v_rows)
        step_rows = m_rows * alpha / (ops.sqrt(v_rows) + self.epsilon)
        write_rows(self, variable, rows, current - step_rows)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("amsgrad", None)
        return config
