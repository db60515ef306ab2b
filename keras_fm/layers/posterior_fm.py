"""The posterior predictive mean of a Bayesian factorization machine."""

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_fm.layers.sparse_fm import sparse_nonzeros
from keras_fm.registration import register

LINKS = ("identity", "probit")
TINY = 1e-30  # the smallest probability a probit score keeps (its log: -69)


@register
class PosteriorFM(keras.layers.Layer):
    """Averages a factorization machine over samples of its parameters.

    Holds ``num_samples`` FMs over raw rows of (feature id, value) pairs (as
    `SparseFM`), e.g. the samples that `keras_fm.bayes.fit_mcmc` keeps, and
    returns the posterior predictive mean of the task:

    - ``link="identity"`` (regression): the mean of the samples' scores
      ``yhat_s = w0_s + sum_i w_is x_i + sum_{i<j} <v_is, v_js> x_i x_j``,
      each first clipped to ``clip`` when given (as libFM's MCMC clips each
      sample's prediction to the range of the training targets);
    - ``link="probit"`` (binary): the logit of the mean probability
      ``p = mean_s Phi(yhat_s)``, computed as
      ``log(mean_s Phi(yhat_s)) - log(mean_s Phi(-yhat_s))`` so that a
      sigmoid gives ``p`` back without the cancellation of ``1 - p``.
      Probabilities below 1e-30 count as 1e-30, so the logit stays finite.

    Ids outside ``[0, num_features)`` use an out-of-vocabulary row (zeros
    unless set), as `SparseFM`'s.

    Args:
        num_features: int. Size of the feature space.
        embedding_dim: int. Size of each sample's latent vectors (``k``).
        num_samples: int. Number of samples (``S``).
        link: `"identity"` or `"probit"`.
        clip: Optional ``(low, high)``: the range of each sample's score
            (identity link only).
        **kwargs: Base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: dict with `"ids"` and `"values"`, as `SparseFM` takes.

    Returns:
        Tensor of shape `(batch, 1)`: the posterior mean score (identity) or
        the logit of the posterior mean probability (probit).

    Example:

    >>> import tensorflow as tf
    >>> layer = PosteriorFM(num_features=10, embedding_dim=2, num_samples=3)
    >>> rows = {"ids": tf.ragged.constant([[3, 7], [5]], dtype="int64"),
    ...         "values": tf.ragged.constant([[1.0, 0.5], [1.0]])}
    >>> tuple(layer(rows).shape)
    (2, 1)

    References:
        - [Freudenthaler, Schmidt-Thieme and Rendle, 2011. Bayesian
          Factorization Machines](
          https://www.ismll.uni-hildesheim.de/pub/pdfs/FreudenthalerRendle_BayesianFactorizationMachines.pdf).
        - [Rendle, 2012. Factorization Machines with libFM](
          https://doi.org/10.1145/2168752.2168771), section 4.
    """

    def __init__(
        self,
        num_features: int,
        embedding_dim: int,
        num_samples: int,
        link: str = "identity",
        clip: tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for arg, value in (
            ("num_features", num_features),
            ("embedding_dim", embedding_dim),
            ("num_samples", num_samples),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{arg}` must be a positive int. Received: {arg}={value!r}"
                )
        if link not in LINKS:
            raise ValueError(f"`link` must be one of {LINKS}. Received: {link!r}")
        if clip is not None:
            low, high = map(float, clip)
            if link != "identity" or not low < high:
                raise ValueError(
                    "`clip` takes (low, high) with low < high, for the identity "
                    f"link. Received: clip={clip!r}, link={link!r}"
                )
            clip = (low, high)
        self.clip = clip
        self.num_features = num_features
        self.embedding_dim = embedding_dim
        self.num_samples = num_samples
        self.link = link

    def build(self, input_shape: Any) -> None:
        samples, rows = self.num_samples, self.num_features + 1  # + the OOV row
        self.bias = self.add_weight(name="bias", shape=(samples,), initializer="zeros")
        self.linear_weights = self.add_weight(
            name="linear_weights", shape=(rows, samples), initializer="zeros"
        )
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(rows, samples, self.embedding_dim),
            initializer="zeros",
        )
        self.built = True

    def call(self, inputs: Any) -> Any:
        ids, values, rows, batch = sparse_nonzeros(
            inputs, self.num_features, "PosteriorFM"
        )
        x = tf.cast(values, self.compute_dtype)
        vectors = tf.gather(self.embeddings, ids) * x[:, None, None]  # (N, S, k)
        sums = tf.math.unsorted_segment_sum(vectors, rows, batch)  # (B, S, k)
        squares = tf.math.unsorted_segment_sum(tf.square(vectors), rows, batch)
        pairs = 0.5 * tf.reduce_sum(tf.square(sums) - squares, axis=2)  # (B, S)
        linear = tf.math.unsorted_segment_sum(
            tf.gather(self.linear_weights, ids) * x[:, None], rows, batch
        )
        scores = self.bias + linear + pairs  # (B, S)
        if self.link == "identity":
            if self.clip is not None:
                scores = tf.clip_by_value(scores, *self.clip)
            return tf.reduce_mean(scores, axis=1, keepdims=True)
        positive = tf.reduce_mean(_normal_cdf(scores), axis=1, keepdims=True)
        negative = tf.reduce_mean(_normal_cdf(-scores), axis=1, keepdims=True)
        return tf.math.log(tf.maximum(positive, TINY)) - tf.math.log(
            tf.maximum(negative, TINY)
        )

    def set_samples(self, w0: Any, w: Any, v: Any) -> None:
        """Sets the samples: ``w0`` `(S,)`, ``w`` `(S, p)`, ``v`` `(S, p, k)`
        (the out-of-vocabulary row stays zero)."""
        w0, w, v = (np.asarray(a, np.float32) for a in (w0, w, v))
        expected = (self.num_samples, self.num_features, self.embedding_dim)
        if v.shape != expected or w.shape != expected[:2] or w0.shape != expected[:1]:
            raise ValueError(
                f"samples of shapes {w0.shape}, {w.shape}, {v.shape} do not fit "
                f"num_samples, num_features, embedding_dim = {expected}"
            )
        if not self.built:
            self.build(None)
        zero_row = np.zeros((1, *expected[::2]), np.float32)
        self.bias.assign(w0)
        self.linear_weights.assign(np.concatenate([w.T, zero_row[:, :, 0]]))
        self.embeddings.assign(np.concatenate([v.transpose(1, 0, 2), zero_row]))

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        batch = input_shape["ids"][0] if isinstance(input_shape, dict) else None
        return (batch, 1)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            {
                "num_features": self.num_features,
                "embedding_dim": self.embedding_dim,
                "num_samples": self.num_samples,
                "link": self.link,
                "clip": list(self.clip) if self.clip else None,
            }
        )
        return config


# The complementary error function by a Chebyshev fit with a relative error
# below 1.2e-7 for every x (Press, Teukolsky, Vetterling and Flannery,
# Numerical Recipes, 2nd ed., section 6.2, "erfcc"): TFLite has no Erfc op,
# and the same formula in both keeps Keras and TFLite outputs equal.
_ERFC = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
         0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277)  # fmt: skip


def erfc(x: Any) -> Any:
    """``erfc(x)`` to a relative error below 1.2e-7, from exp, mul and add."""
    z = tf.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = tf.zeros_like(t)
    for coefficient in reversed(_ERFC[1:]):
        poly = t * (coefficient + poly)
    tail = t * tf.exp(-z * z + _ERFC[0] + poly)
    return tf.where(x >= 0, tail, 2.0 - tail)


def _normal_cdf(x: Any) -> Any:
    return 0.5 * erfc(-x * np.float32(1 / np.sqrt(2.0)))
