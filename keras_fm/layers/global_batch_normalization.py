"""Batch normalization over the global batch of a `tf.distribute` strategy."""

from typing import Any

import keras
import tensorflow as tf

from keras_fm.registration import register


@register
class GlobalBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` whose training statistics are the
    global batch's under a strategy of several replicas.

    Keras's ``synchronized=True`` sums ``x`` and ``x^2`` over the replicas
    and takes ``E[x^2] - E[x]^2``, which loses the variance of a feature
    whose mean is large against its spread (in NFM on random data, 2
    replicas left weights 0.025 away from one device's after 4 steps). This
    layer all-reduces the sum of ``x`` for the mean, then the sum of
    ``(x - mean)^2`` for the variance, as one device computes them: N
    replicas train as one device would on the same batch (to float
    rounding), for one more all-reduce per layer and step. Outside a
    strategy, or with a mask, it is `keras.layers.BatchNormalization`.

    Args:
        **kwargs: `keras.layers.BatchNormalization` arguments (except
            ``synchronized``, which this layer replaces).

    Call arguments:
        inputs: as `keras.layers.BatchNormalization`.
        training: as `keras.layers.BatchNormalization`.
        mask: as `keras.layers.BatchNormalization`.

    Returns:
        The normalized inputs, of the inputs' shape.

    Example:

    >>> import numpy as np
    >>> norm = GlobalBatchNormalization(epsilon=0.0, momentum=0.9)
    >>> x = np.array([[1.0], [3.0]], dtype="float32")
    >>> np.round(np.asarray(norm(x, training=True)), 4).tolist()
    [[-1.0], [1.0]]

    References:
        - [Ioffe and Szegedy, 2015. Batch Normalization: Accelerating Deep
          Network Training by Reducing Internal Covariate Shift](
          https://arxiv.org/abs/1502.03167), Algorithm 1.
    """

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.pop("synchronized", False):
            raise ValueError(
                "`GlobalBatchNormalization` is synchronized already: leave out "
                "`synchronized`"
            )
        super().__init__(**kwargs)

    def _moments(self, inputs: Any, mask: Any) -> tuple[Any, Any]:
        context = tf.distribute.get_replica_context()
        if mask is not None or context is None or context.num_replicas_in_sync == 1:
            return super()._moments(inputs, mask)
        axes = self._reduction_axes
        count = tf.cast(tf.reduce_prod(tf.gather(tf.shape(inputs), axes)), inputs.dtype)
        total = context.all_reduce("sum", tf.reduce_sum(inputs, axis=axes))
        rows = context.all_reduce("sum", count)
        mean = total / rows
        squares = tf.reduce_sum(tf.square(inputs - mean), axis=axes)
        variance = context.all_reduce("sum", squares) / rows
        return mean, variance

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.pop("synchronized", None)
        return config
