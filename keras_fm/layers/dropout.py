"""Dropout whose masks are cheap to draw on CPU, under XLA and outside it."""

from typing import Any

import keras
import tensorflow as tf

from keras_fm.registration import register
from keras_fm.xla_context import in_xla

# The draws of the masks outside XLA: 16 bits an entry.
_HALVES = 1 << 16


@register
class Dropout(keras.layers.Dropout):
    """`keras.layers.Dropout` drawing its masks cheaply on CPU: with Threefry
    under XLA, with 16 bits of Philox an entry outside it.

    Keras draws the mask with TensorFlow's default generator (Philox), which
    XLA compiles into slow code on CPU: in DeepFM on frappe (DNN 400x3,
    batches of 4096, under XLA) the three dropout layers took a third of a
    training step (59k examples/s with them, 94k without); drawn with
    Threefry, 79k. The rate, the ``1 / (1 - rate)`` scaling and the seeding
    (a `keras.random.SeedGenerator` per layer) are Keras's; only the masks
    differ.

    Without XLA (TensorFlow has no Threefry kernel for CPU) each entry's
    draw is 16 bits of a Philox uint32, two entries a draw, and the mask a
    multiplication: Keras's float draws and ``where`` took 4.9 ms a (4096,
    400) batch, these 2.6 ms forward and backward. An entry is dropped with
    probability ``round(rate * 65536) / 65536`` (within 7.7e-6 of
    ``rate``) and kept ones are scaled by the inverse of the kept
    probability, so the expectation is exact. With a ``noise_shape``, and
    out of training, this is `keras.layers.Dropout`.

    Args:
        rate: float in [0, 1). The fraction of the inputs to drop.
        noise_shape: as `keras.layers.Dropout`.
        seed: int. The seed of the layer's generator.
        **kwargs: Base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: a tensor of any shape.
        training: bool. Drops only in training.

    Returns:
        A tensor of the shape and dtype of ``inputs``.

    Example:

    >>> import numpy as np
    >>> Dropout(0.5)(np.ones((2, 3)), training=False).numpy()
    array([[1., 1., 1.],
           [1., 1., 1.]], dtype=float32)

    References:
        - [Srivastava et al., 2014. Dropout: A Simple Way to Prevent Neural
          Networks from Overfitting](https://jmlr.org/papers/v15/srivastava14a.html).
        - [Salmon et al., 2011. Parallel Random Numbers: As Easy as 1, 2, 3](
          https://doi.org/10.1145/2063384.2063405) (Threefry and Philox).
    """

    def call(self, inputs: Any, training: bool = False) -> Any:
        if not training or self.rate == 0 or self.noise_shape is not None:
            return super().call(inputs, training=training)
        seed = tf.cast(
            tf.math.floormod(self.seed_generator.next(), tf.int32.max - 1), tf.int32
        )
        if not in_xla():
            return inputs * tf.stop_gradient(self._mask_of_halves(inputs, seed))
        uniform = tf.random.stateless_uniform(
            tf.shape(inputs), seed, dtype=inputs.dtype, alg="threefry"
        )
        kept = inputs / tf.cast(1.0 - self.rate, inputs.dtype)
        return tf.where(uniform >= self.rate, kept, tf.zeros_like(inputs))

    def _mask_of_halves(self, inputs: Any, seed: Any) -> Any:
        """The mask, ``0`` or ``1 / kept``, from 16-bit halves of Philox draws."""
        dropped = min(round(self.rate * _HALVES), _HALVES - 1)
        size = tf.size(inputs)
        bits = tf.random.stateless_uniform(
            [(size + 1) // 2], seed, minval=None, maxval=None, dtype=tf.uint32
        )
        halves = tf.reshape(tf.bitcast(bits, tf.uint16), [-1])[:size]
        scale = tf.constant(_HALVES / (_HALVES - dropped), inputs.dtype)
        mask = tf.where(halves >= dropped, scale, tf.zeros((), inputs.dtype))
        return tf.reshape(mask, tf.shape(inputs))
