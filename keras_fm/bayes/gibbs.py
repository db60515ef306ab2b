"""One sweep of Gibbs sampling (or of alternating least squares) over every
parameter of a second-order factorization machine, in TensorFlow.

The model and its priors (Freudenthaler, Schmidt-Thieme and Rendle, 2011;
Rendle, 2012, "Factorization Machines with libFM", section 4):

    y ~ N(yhat(x), 1 / alpha)          (regression; probit for binary tasks)
    w_i ~ N(mu_w[g], 1 / lambda_w[g]),  v_if ~ N(mu_v[g, f], 1 / lambda_v[g, f])
    lambda ~ Gamma((alpha_l + p_g + 1) / 2, ...),  mu ~ N(mu_0, 1 / (gamma_0 lambda))
    alpha ~ Gamma(alpha_0 / 2, beta_0 / 2)

where ``g`` is the group of feature ``i``. ``yhat`` is linear in each single
parameter ``theta``: ``yhat = g_theta(x) + theta * h_theta(x)``, with
``h = x_i`` for ``w_i`` and ``h = x_i * (q_f - v_if * x_i)`` for ``v_if``
(``q_f = sum_j v_jf x_j`` over the row). Its conditional posterior is then
normal with precision ``alpha * sum h^2 + lambda`` and mean
``(alpha * sum h * (y - g_theta) + mu * lambda) / precision``. The sampler
keeps each row's residual ``y - yhat`` and ``q_f`` and updates them after
every draw, so a sweep costs ``O(k * nnz)``, as libFM's. Features of one
color (`keras_fm.bayes.coloring`) never share a row, so their parameters are
conditionally independent and are drawn together. The features of the
rows' relation blocks are drawn color by color in the time of their tables
(`keras_fm.bayes.relation_draws`).
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from keras_fm.bayes.relation_draws import RelationDraws
from keras_fm.bayes.rows import SparseRows

DTYPE = tf.float64
# Sweeps between recomputations of the residuals and q from the parameters
# (float64 updates drift by about 1e-16 a draw; a recomputation costs about a
# quarter of a sweep).
RECOMPUTE_EVERY = 10


@dataclass(frozen=True)
class Hyperpriors:
    """The fixed top of the hierarchy (libFM's defaults).

    Attributes:
        alpha_0, beta_0: the noise precision's Gamma(alpha_0 / 2, beta_0 / 2).
        lambda_shape, lambda_rate: the prior precisions' Gamma.
        mu_0, gamma_0: the prior means' normal: mean ``mu_0``, precision
            ``gamma_0 * lambda``.
    """

    alpha_0: float = 1.0
    beta_0: float = 1.0
    lambda_shape: float = 1.0
    lambda_rate: float = 1.0
    mu_0: float = 0.0
    gamma_0: float = 1.0


@dataclass(frozen=True)
class Block:
    """The features of one color and their non-zeros in the training rows."""

    features: tf.Tensor  # (m,) feature ids
    rows: tf.Tensor  # (nnz_c,) the row of each non-zero
    local: tf.Tensor  # (nnz_c,) the index in ``features`` of each non-zero
    values: tf.Tensor  # (nnz_c,) x
    # Every row holds one non-zero of the block (a one-hot field), in row
    # order: the row-wise arrays are read and written whole, not gathered
    # and scattered.
    dense: bool = False


def blocks_of(data: SparseRows, colors: np.ndarray) -> list[Block]:
    """One `Block` per color, and one for the features absent from ``data``
    and its relations (drawn from their prior: they have no non-zero)."""
    colors = colors.copy()
    for relation in data.relations:
        colors[relation.features] = -2  # drawn with their relation
    blocks = []
    for color in [*range(int(colors.max(initial=-1)) + 1), -1]:
        features = np.flatnonzero(colors == color)
        if not features.size:
            continue
        local = np.full(data.num_features, -1, np.int64)
        local[features] = np.arange(features.size)
        mine = local[data.ids] >= 0
        blocks.append(
            Block(
                tf.constant(features),
                tf.constant(data.rows[mine]),
                tf.constant(local[data.ids[mine]]),
                tf.constant(data.values[mine], DTYPE),
                dense=bool(np.array_equal(data.rows[mine], np.arange(data.num_rows))),
            )
        )
    return blocks


class GibbsSweep(tf.Module):
    """The state of the chain and the sweep that moves it.

    Args:
        data: the training rows.
        groups: int `(num_features,)`, the prior group of each feature.
        embedding_dim: ``k``.
        task: `"regression"` (Gaussian noise of sampled precision) or
            `"binary"` (probit: a latent normal target whose sign is the
            label).
        colors: the features' colors (`keras_fm.bayes.color_features`).
        seed: the seed of every draw.
        sample: True for Gibbs sampling; False for alternating least squares
            (each parameter set to its conditional mean, with the fixed
            ``l2`` as prior precision and no hyperparameters drawn).
        l2: ``(lambda_w, lambda_v)`` for ALS.
        init_stdev: the standard deviation of the initial latent vectors.
        hyperpriors: the fixed top of the hierarchy.
    """

    def __init__(
        self,
        data: SparseRows,
        groups: np.ndarray,
        embedding_dim: int,
        task: str,
        colors: np.ndarray,
        seed: int = 0,
        sample: bool = True,
        l2: tuple[float, float] = (0.0, 0.0),
        init_stdev: float = 0.1,
        hyperpriors: Hyperpriors | None = None,
    ) -> None:
        super().__init__()
        self.task, self.sample, self.k = task, sample, embedding_dim
        self.priors = hyperpriors or Hyperpriors()
        self.num_rows, self.num_features = data.num_rows, data.num_features
        self.num_groups = int(groups.max(initial=0)) + 1
        self.groups = tf.constant(groups, tf.int64)
        self.group_sizes = tf.constant(
            np.bincount(groups, minlength=self.num_groups), DTYPE
        )
        self.rows, self.ids = tf.constant(data.rows), tf.constant(data.ids)
        self.values = tf.constant(data.values, DTYPE)
        self.labels = tf.constant(data.labels, DTYPE)
        self.blocks = blocks_of(data, colors)
        self.relations = [
            RelationDraws(relation, data.num_features) for relation in data.relations
        ]
        self.generator = tf.random.Generator.from_seed(seed)
        self.init_stdev = init_stdev
        k, p, n, g = embedding_dim, data.num_features, data.num_rows, self.num_groups
        # float64 throughout: a float32 constant (tf.fill of 0.3) would carry
        # its rounding (0.30000001) into every draw.
        variable = lambda value: tf.Variable(tf.cast(value, DTYPE))  # noqa: E731
        self.w0 = variable(0.0)
        self.w = variable(tf.zeros([p]))
        self.vt = variable(
            self.generator.normal([k, p], stddev=init_stdev, dtype=DTYPE)
        )
        self.alpha = variable(1.0)
        self.mu_w, self.mu_v = variable(tf.zeros([g])), variable(tf.zeros([g, k]))
        self.lambda_w = variable(np.full([g], l2[0] if not sample else 1.0))
        self.lambda_v = variable(np.full([g, k], l2[1] if not sample else 1.0))
        self.initial_lambdas = (self.lambda_w.numpy(), self.lambda_v.numpy())
        self.target = variable(self.labels if task == "regression" else tf.zeros([n]))
        self.residual = variable(tf.zeros([n]))
        self.q = variable(tf.zeros([k, n]))
        self.sweeps_done = 0

    def restart(self, seed: int) -> None:
        """Starts a new chain from ``seed``: the state a new `GibbsSweep` of
        that seed starts from, without tracing and compiling its sweep again."""
        self.generator.reset_from_seed(seed)
        self.vt.assign(
            self.generator.normal(self.vt.shape, stddev=self.init_stdev, dtype=DTYPE)
        )
        for variable in (self.w0, self.w, self.mu_w, self.mu_v, self.residual, self.q):
            variable.assign(tf.zeros_like(variable))
        self.alpha.assign(1.0)
        self.lambda_w.assign(self.initial_lambdas[0])
        self.lambda_v.assign(self.initial_lambdas[1])
        self.target.assign(
            self.labels if self.task == "regression" else tf.zeros_like(self.target)
        )
        self.sweeps_done = 0

    # Predictions -------------------------------------------------------

    def scores(
        self,
        rows: Any,
        ids: Any,
        values: Any,
        num_rows: int,
        relations: Any = (),
    ) -> Any:
        """``yhat`` of every row of other data (coordinate form, and its
        relations as `keras_fm.bayes.relation_draws.RelationTable`s), and q."""
        vectors = tf.gather(tf.transpose(self.vt), ids) * values[:, None]
        q = tf.math.unsorted_segment_sum(vectors, rows, num_rows)
        squares = tf.math.unsorted_segment_sum(tf.square(vectors), rows, num_rows)
        linear = tf.math.unsorted_segment_sum(
            tf.gather(self.w, ids) * values, rows, num_rows
        )
        for relation in relations:
            sums = relation.table_sums(self.vt, self.w)
            q, squares, linear = (
                total + tf.gather(part, relation.index)
                for total, part in zip((q, squares, linear), sums, strict=True)
            )
        pairs = 0.5 * tf.reduce_sum(tf.square(q) - squares, axis=1)
        return self.w0 + linear + pairs, q

    def _refresh(self, recompute: Any) -> None:
        """The latent targets of probit, drawn given the current scores; with
        ``recompute`` (a bool tensor), the residuals and q recomputed from the
        parameters (between recomputations they are updated draw by draw)."""

        def recomputed() -> Any:
            yhat, q = self.scores(
                self.rows, self.ids, self.values, self.num_rows, self.relations
            )
            self.q.assign(tf.transpose(q))
            return yhat

        yhat = tf.cond(recompute, recomputed, lambda: self.target - self.residual)
        if self.task == "binary":
            self.target.assign(self._latent_targets(yhat))
        self.residual.assign(self.target - yhat)

    def _latent_targets(self, yhat: Any) -> Any:
        """Probit's latent targets: N(yhat, 1) truncated to the label's sign
        (drawn, or their means for ALS)."""
        sign = tf.where(self.labels > 0, tf.constant(1.0, DTYPE), -1.0)
        mean = sign * yhat  # as if every label were positive: z' > 0
        if self.sample:
            lower = -mean  # draw t ~ N(0, 1) truncated to t > lower
            u = self.generator.uniform(tf.shape(mean), dtype=DTYPE)
            phi_lower = _normal_cdf(lower)
            body = tf.math.ndtri(phi_lower + u * (1.0 - phi_lower))
            tail = -tf.math.ndtri(u * _normal_cdf(-lower))
            t = tf.where(lower <= 0.0, body, tail)
            t = tf.maximum(t, lower)  # rounding of the inverse
        else:  # E[t | t > lower] = pdf(lower) / (1 - cdf(lower))
            t = _mills(mean)
        return sign * (mean + t)

    # One sweep ---------------------------------------------------------

    def sweep(self) -> Any:
        """Draws every parameter once; returns the training residuals' RMSE.

        The parameters' draws run under XLA (TensorFlow's CPU kernels for
        gathers, segment sums and scatters over 1e5 values cost 10-20x
        NumPy's); the hyperparameters' Gamma draws, which XLA does not
        compile, run before and after.
        """
        if self.sample:
            self._draw_hyperparameters()
        recompute = self.sweeps_done % RECOMPUTE_EVERY == 0
        rmse = self._draw_parameters(tf.constant(recompute))
        self.sweeps_done += 1
        if self.sample and self.task == "regression":
            self._draw_noise()
        return rmse

    @tf.function
    def _draw_hyperparameters(self) -> None:
        self._draw_hyper(self.w[:, None], self.mu_w, self.lambda_w)
        self._draw_hyper(tf.transpose(self.vt), self.mu_v, self.lambda_v)

    @tf.function(jit_compile=True)
    def _draw_parameters(self, recompute: Any) -> Any:
        self._refresh(recompute)
        self._draw_w0()
        for block in self.blocks:
            self._draw_block(block, None)
        for relation in self.relations:
            relation.draw_w(self)
        for f in tf.range(self.k):
            for block in self.blocks:
                self._draw_block(block, f)
            for relation in self.relations:
                relation.draw_v(self, f)
        return tf.sqrt(tf.reduce_mean(tf.square(self.residual)))

    @tf.function
    def _draw_noise(self) -> None:
        shape = (self.priors.alpha_0 + self.num_rows) / 2.0
        rate = (self.priors.beta_0 + tf.reduce_sum(tf.square(self.residual))) / 2.0
        self.alpha.assign(self._gamma(shape, rate))

    def _draw_w0(self) -> None:
        precision = self.alpha * self.num_rows  # a flat prior, as libFM's
        mean = tf.reduce_sum(self.residual + self.w0) / self.num_rows
        new = self._normal(mean, precision)
        self.residual.assign_sub(tf.fill([self.num_rows], new - self.w0))
        self.w0.assign(new)

    def _draw_block(self, block: Block, f: Any) -> None:
        """w (f None) or column f of v, for the features of one block."""
        x = block.values
        by_row = self._by_row(block)
        mu, lam = self.priors_of(block.features, f)
        if f is None:
            old = tf.gather(self.w, block.features)
            h = x
        else:
            old = tf.gather(self.vt[f], block.features)
            h = x * (by_row(self.q[f]) - tf.gather(old, block.local) * x)
        m = tf.shape(block.features)[0]
        partial = by_row(self.residual) + tf.gather(old, block.local) * h
        hh = tf.math.unsorted_segment_sum(h * h, block.local, m)
        hy = tf.math.unsorted_segment_sum(h * partial, block.local, m)
        new = self.conditional_draw(hy, hh, mu, lam, None)
        delta = tf.gather(new - old, block.local)
        if block.dense:
            self.residual.assign_sub(delta * h)
        else:
            self.residual.scatter_nd_add(block.rows[:, None], -delta * h)
        if f is None:
            self.w.scatter_nd_update(block.features[:, None], new)
            return
        at_f = tf.fill(tf.shape(block.features), tf.cast(f, tf.int64))
        self.vt.scatter_nd_update(tf.stack([at_f, block.features], 1), new)
        if block.dense:
            self.q.scatter_nd_add([[f]], (delta * x)[None])
        else:
            at_f = tf.fill(tf.shape(block.rows), tf.cast(f, tf.int64))
            self.q.scatter_nd_add(tf.stack([at_f, block.rows], 1), delta * x)

    @staticmethod
    def _by_row(block: Block) -> Any:
        """A row-wise array's entries at the block's non-zeros."""
        if block.dense:
            return lambda array: array
        return lambda array: tf.gather(array, block.rows)

    def conditional_draw(self, hy: Any, hh: Any, mu: Any, lam: Any, noise: Any) -> Any:
        """A draw from the conditional normal of a parameter given ``hy =
        sum h * (y - g)`` and ``hh = sum h^2`` (its mean for ALS); ``noise``
        a standard normal draw (for the relation blocks' loops), or None to
        draw it here."""
        precision = self.alpha * hh + lam
        mean = (self.alpha * hy + mu * lam) / precision
        # No data and no penalty (ALS with l2 0 for an absent feature): mu.
        mean = tf.where(precision > 0, mean, mu)
        precision = tf.where(precision > 0, precision, 1.0)
        if noise is None:
            return self._normal(mean, precision)
        return mean + noise / tf.sqrt(precision) if self.sample else mean

    def priors_of(self, features: Any, f: Any) -> tuple[Any, Any]:
        """The prior means and precisions of ``w`` (``f`` None) or of
        column ``f`` of ``v``, for ``features``."""
        groups = tf.gather(self.groups, features)
        if f is None:
            return tf.gather(self.mu_w, groups), tf.gather(self.lambda_w, groups)
        return (
            tf.gather(self.mu_v[:, f], groups),
            tf.gather(self.lambda_v[:, f], groups),
        )

    def standard_normal(self, shape: Any) -> Any:
        """Standard normal draws of the given shape (zeros for ALS)."""
        if not self.sample:
            return tf.zeros(shape, DTYPE)
        return self.generator.normal(shape, dtype=DTYPE)

    def set_factor(self, f: Any, column: Any, q_f: Any) -> None:
        """Sets column ``f`` of the latent vectors, and q's of the rows."""
        self.vt.scatter_nd_update([[f]], column[None])
        self.q.scatter_nd_update([[f]], q_f[None])

    def _draw_hyper(self, params: Any, mu: tf.Variable, lam: tf.Variable) -> None:
        """mu, then lambda, of every group and column of ``params`` (w as one
        column, or the k columns of v), as libFM draws them."""
        p = self.priors
        sizes = self.group_sizes[:, None]
        sums = tf.math.unsorted_segment_sum(params, self.groups, self.num_groups)
        mean = (sums + p.gamma_0 * p.mu_0) / (sizes + p.gamma_0)
        new_mu = self._normal(
            mean, (sizes + p.gamma_0) * tf.reshape(lam, tf.shape(mean))
        )
        spread = tf.math.unsorted_segment_sum(
            tf.square(params - tf.gather(new_mu, self.groups)), self.groups,
            self.num_groups,
        )  # fmt: skip
        rate = (p.lambda_rate + p.gamma_0 * tf.square(new_mu - p.mu_0) + spread) / 2.0
        new_lambda = self._gamma((p.lambda_shape + sizes + 1.0) / 2.0, rate)
        mu.assign(tf.reshape(new_mu, tf.shape(mu)))
        lam.assign(tf.reshape(new_lambda, tf.shape(lam)))

    def _normal(self, mean: Any, precision: Any) -> Any:
        if not self.sample:
            return mean
        noise = self.generator.normal(tf.shape(mean), dtype=DTYPE)
        return mean + noise / tf.sqrt(precision)

    def _gamma(self, shape: Any, rate: Any) -> Any:
        shape = tf.broadcast_to(tf.cast(shape, DTYPE), tf.shape(rate))
        seed = self.generator.make_seeds(1)[:, 0]
        return (
            tf.random.stateless_gamma(tf.shape(rate), seed, shape, dtype=DTYPE) / rate
        )

    def draw_order(self) -> np.ndarray:
        """The features in the order a sweep draws them, for ``w`` and for
        each factor (within a color block the order does not matter)."""
        parts = [block.features.numpy() for block in self.blocks]
        for relation in self.relations:
            for bucket in relation.buckets:
                ids = bucket.features.numpy().ravel()
                parts.append(ids[ids < self.num_features])
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def parameters(self) -> tuple[float, np.ndarray, np.ndarray]:
        """``(w0, w, v)`` as NumPy: the current sample."""
        return float(self.w0.numpy()), self.w.numpy(), self.vt.numpy().T.copy()


def _normal_cdf(x: Any) -> Any:
    return 0.5 * tf.math.erfc(-x / np.sqrt(2.0))


def _mills(mean: Any) -> Any:
    """E[t | t > -mean] for t ~ N(0, 1): pdf(mean) / cdf(mean), stably."""
    log_pdf = -0.5 * tf.square(mean) - 0.5 * np.log(2.0 * np.pi)
    log_cdf = tf.math.log(_normal_cdf(mean))
    return tf.exp(log_pdf - log_cdf)
