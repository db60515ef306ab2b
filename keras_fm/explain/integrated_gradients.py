"""Integrated gradients of a model's deep terms with respect to its field
vectors (Sundararajan, Taly and Yan, 2017)."""

from typing import Any

import keras
import tensorflow as tf


class IntegratedGradients:
    """Splits ``deep(v)`` (the terms fed by the field vectors ``v`` alone: a
    DNN, CIN, attention) by field along the straight path from ``v = 0``
    (every field deleted) to ``v``, with ``steps`` midpoint evaluations.

    Args:
        vectors: the symbolic `(B, F, D)` field vectors of the model.
        terms: the symbolic `(B, 1)` terms computed from them alone.
        steps: points on the path. Defaults to `32`.
    """

    def __init__(self, vectors: Any, terms: list[Any], steps: int = 32) -> None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"`steps` must be a positive int. Received: {steps!r}")
        total = terms[0] if len(terms) == 1 else keras.layers.Add()(terms)
        try:
            self.model = keras.Model(vectors, total)
        except ValueError as error:
            raise ValueError(
                "integrated gradients need deep terms computed from the field "
                f"vectors alone: {error}"
            ) from None
        self.steps = steps

    def __call__(self, vectors: Any) -> tuple[Any, Any, Any]:
        """``(shares, baseline, value)``: `(B, F)` each field's share, and the
        deep terms' `(B,)` value at ``v = 0`` and at ``v`` (float64)."""
        vectors = tf.convert_to_tensor(vectors)
        shape = tf.shape(vectors)
        alphas = (tf.range(self.steps, dtype=vectors.dtype) + 0.5) / self.steps
        path = tf.reshape(
            alphas[:, None, None, None] * vectors[None], (-1, shape[1], shape[2])
        )
        with tf.GradientTape() as tape:
            tape.watch(path)
            outputs = self.model(path, training=False)
        gradients = tf.reshape(
            tape.gradient(outputs, path), (self.steps, *tf.unstack(shape))
        )
        mean = tf.reduce_mean(gradients, axis=0)  # (B, F, D)
        shares = tf.reduce_sum(tf.cast(vectors * mean, tf.float64), axis=2)
        baseline = self.model(tf.zeros_like(vectors), training=False)[:, 0]
        value = self.model(vectors, training=False)[:, 0]
        return shares, tf.cast(baseline, tf.float64), tf.cast(value, tf.float64)
