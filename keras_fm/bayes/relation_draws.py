"""The draws of a relation block's parameters, in the time of its table.

For a feature ``j`` of a relation (`keras_fm.bayes.Relation`) and a factor
``f``, training row ``r`` holds ``j`` through table row ``t = index[r]`` with
value ``x = x_tj``, and ``h_r = x * (q_rf - v_jf * x)``. Split ``q_rf = a_r +
Q_t``, ``Q_t`` the table row's own ``sum_j v_jf x_tj`` and ``a_r`` the rest
of the row. Then with, per table row, ``n_t`` (its training rows), ``S1_t =
sum a_r``, ``S2_t = sum a_r^2``, ``SE_t = sum e_r`` and ``SAE_t = sum a_r
e_r`` (``e`` the residuals), and ``c_t = Q_t - v_jf x_tj``:

    sum_r h_r^2   = sum_t x^2 (S2_t + 2 c_t S1_t + n_t c_t^2)
    sum_r h_r e_r = sum_t x (SAE_t + c_t SE_t)

and a draw of ``v_jf`` moved by ``delta`` changes ``e_r`` by ``-delta h_r``:
``SE_t`` by ``-delta x (S1_t + n_t c_t)``, ``SAE_t`` by ``-delta x (S2_t +
c_t S1_t)``. So each draw touches only the table rows of ``j`` (as in
Rendle, 2013, "Scaling factorization machines to relational data"); the
training rows are visited once per factor, before (for the sums) and after
(the residuals and ``q``).

Features that share no table row (one color of `color_features` on the
table) are conditionally independent and are drawn at once; the colors are
drawn one after the other in loops compiled by XLA. Colors with about as
many non-zeros are padded to the same sizes (powers of 2) and looped over
together.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from keras_fm.bayes.coloring import color_features
from keras_fm.bayes.relations import Relation
from keras_fm.bayes.rows import SparseRows

DTYPE = tf.float64


@dataclass(frozen=True)
class Bucket:
    """Colors of a relation's features, padded to the same sizes.

    ``features`` `(S, M)`: the features of each of ``S`` colors, padded with
    the id ``num_features`` (a slot dropped after the draws);
    ``table_rows``, ``values`` and ``local`` `(S, L)`: the color's
    non-zeros in the table, and the index in its ``features`` of each,
    padded with row 0, value 0 and index 0 (which add nothing).
    """

    features: tf.Tensor
    table_rows: tf.Tensor
    values: tf.Tensor
    local: tf.Tensor


def buckets_of(relation: Relation, num_features: int) -> list[Bucket]:
    """The colors of ``relation``'s features, by padded sizes."""
    table = SparseRows(relation.rows, relation.ids, relation.values,
                       np.zeros(relation.num_table_rows), num_features)  # fmt: skip
    colors = color_features(table)[relation.ids]
    order = np.lexsort((relation.ids, colors))
    colors, ids = colors[order], relation.ids[order]
    starts = np.searchsorted(colors, np.arange(colors.max(initial=-1) + 2))
    pieces = []
    for color in range(len(starts) - 1):
        entries = order[starts[color] : starts[color + 1]]
        features, local = np.unique(ids[starts[color] : starts[color + 1]],
                                    return_inverse=True)  # fmt: skip
        pieces.append((features, entries, local))
    # By padded number of non-zeros only (fewer loops to compile: 19 rather
    # than 55 for MovieLens 100K's two tables with implicit feedback).
    lengths = [_ceil_pow2(len(entries)) for _, entries, _ in pieces]
    buckets = []
    for length in sorted(set(lengths)):
        mine = [p for p, size in zip(pieces, lengths, strict=True) if size == length]
        widest = _ceil_pow2(max(len(features) for features, _, _ in mine))
        buckets.append(_padded(relation, mine, widest, length, num_features))
    return buckets


def _ceil_pow2(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def _padded(
    relation: Relation, pieces: list[Any], m: int, length: int, num_features: int
) -> Bucket:
    features = np.full((len(pieces), m), num_features, np.int64)
    table_rows = np.zeros((len(pieces), length), np.int64)
    values = np.zeros((len(pieces), length))
    local = np.zeros((len(pieces), length), np.int64)
    for s, (ids, entries, where) in enumerate(pieces):
        features[s, : len(ids)] = ids
        table_rows[s, : len(entries)] = relation.rows[entries]
        values[s, : len(entries)] = relation.values[entries]
        local[s, : len(entries)] = where
    return Bucket(tf.constant(features), tf.constant(table_rows),
                  tf.constant(values, DTYPE), tf.constant(local))  # fmt: skip


class RelationTable:
    """A relation's arrays as tensors, and its table rows' sums.

    Args:
        relation: a relation of some rows.
    """

    def __init__(self, relation: Relation) -> None:
        self.num_table_rows = relation.num_table_rows
        self.index = tf.constant(relation.index)
        self.rows = tf.constant(relation.rows)
        self.ids = tf.constant(relation.ids)
        self.values = tf.constant(relation.values, DTYPE)

    def table_sums(self, vt: Any, w: Any) -> tuple[Any, Any, Any]:
        """Per table row: ``q`` `(T, k)`, the squares' sums `(T, k)` and the
        linear term `(T,)`, of the parameters ``vt`` `(k, p)` and ``w``."""
        vectors = tf.gather(tf.transpose(vt), self.ids) * self.values[:, None]
        size = self.num_table_rows
        return (
            tf.math.unsorted_segment_sum(vectors, self.rows, size),
            tf.math.unsorted_segment_sum(tf.square(vectors), self.rows, size),
            tf.math.unsorted_segment_sum(
                tf.gather(w, self.ids) * self.values, self.rows, size
            ),
        )


class RelationDraws(RelationTable):
    """The draws of the features of one relation of the training rows.

    Args:
        relation: the relation of the training rows.
        num_features: the size of the feature space.
    """

    def __init__(self, relation: Relation, num_features: int) -> None:
        super().__init__(relation)
        self.counts = tf.constant(
            np.bincount(relation.index, minlength=relation.num_table_rows), DTYPE
        )
        self.buckets = buckets_of(relation, num_features)

    def _per_table_row(self, x: Any) -> Any:
        return tf.math.unsorted_segment_sum(x, self.index, self.num_table_rows)

    def draw_w(self, chain: Any) -> None:
        """Every first-order weight of the relation's features, color by color."""
        sums = self._per_table_row(chain.residual)
        moved = tf.zeros([self.num_table_rows], DTYPE)

        def draw(t: Any, x: Any, local: Any, old: Any, prior: Any, carry: Any) -> Any:
            sums, moved = carry
            n = tf.gather(self.counts, t)
            hh = _per_feature(x * x * n, local, old)
            hy = _per_feature(x * tf.gather(sums, t), local, old) + old * hh
            new = chain.conditional_draw(hy, hh, *prior)
            delta = tf.gather(new - old, local)
            at = t[:, None]
            return new, (
                tf.tensor_scatter_nd_add(sums, at, -delta * x * n),
                tf.tensor_scatter_nd_add(moved, at, delta * x),
            )

        w, (_, moved) = self._loop(chain, draw, chain.w, None, (sums, moved))
        chain.w.assign(w)
        chain.residual.assign_sub(tf.gather(moved, self.index))

    def draw_v(self, chain: Any, f: Any) -> None:
        """Column ``f`` of the latent vectors of the relation's features."""
        vt_f = chain.vt[f]
        vectors = tf.gather(vt_f, self.ids) * self.values
        before = tf.math.unsorted_segment_sum(vectors, self.rows, self.num_table_rows)
        rest = chain.q[f] - tf.gather(before, self.index)
        residual = chain.residual
        s1, s2 = self._per_table_row(rest), self._per_table_row(tf.square(rest))
        carry = (
            before,
            tf.zeros([self.num_table_rows], DTYPE),  # the squares' change
            self._per_table_row(residual),
            self._per_table_row(rest * residual),
        )

        def draw(t: Any, x: Any, local: Any, old: Any, prior: Any, carry: Any) -> Any:
            q_t, squares, se, sae = carry
            n, s1_t, s2_t = (tf.gather(a, t) for a in (self.counts, s1, s2))
            before = tf.gather(old, local)
            c = tf.gather(q_t, t) - before * x
            hh = _per_feature(x * x * (s2_t + 2.0 * c * s1_t + n * c * c), local, old)
            hy = _per_feature(
                x * (tf.gather(sae, t) + c * tf.gather(se, t)), local, old
            )
            new = chain.conditional_draw(hy + old * hh, hh, *prior)
            after = tf.gather(new, local)
            delta = after - before
            at = t[:, None]
            return new, (
                tf.tensor_scatter_nd_add(q_t, at, delta * x),
                tf.tensor_scatter_nd_add(
                    squares, at, (after * after - before * before) * x * x
                ),
                tf.tensor_scatter_nd_add(se, at, -delta * x * (s1_t + n * c)),
                tf.tensor_scatter_nd_add(sae, at, -delta * x * (s2_t + c * s1_t)),
            )

        vt_f, (after, squares, _, _) = self._loop(chain, draw, vt_f, f, carry)
        new_q, old_q = tf.gather(after, self.index), tf.gather(before, self.index)
        change = 0.5 * (new_q - old_q) * (2.0 * rest + new_q + old_q)
        chain.residual.assign_sub(change - 0.5 * tf.gather(squares, self.index))
        chain.set_factor(f, vt_f, rest + new_q)

    def _loop(self, chain: Any, draw: Any, params: Any, f: Any, carry: Any) -> Any:
        """``draw`` for every color, bucket by bucket: the new ``params``
        (``w``, or column ``f`` of ``v``) and ``carry``.

        ``draw(t, x, local, old, prior, carry)`` returns the new values of
        one color's parameters and the new carry, given the color's table
        rows, values and indices into its features, their current values,
        and ``prior``: their prior means and precisions and standard normal
        draws.
        """
        padded = tf.concat([params, tf.zeros([1], DTYPE)], 0)  # the padding slot
        for bucket in self.buckets:
            size = tf.shape(bucket.features)[0]
            features = tf.minimum(bucket.features, chain.num_features - 1)
            priors = (
                *chain.priors_of(features, f),
                chain.standard_normal(tf.shape(features)),
            )
            values = tf.gather(padded, bucket.features)

            def body(
                s: Any, values: Any, carry: Any, bucket: Bucket = bucket,
                priors: Any = priors,
            ) -> Any:  # fmt: skip
                prior = tuple(part[s] for part in priors)
                new, carry = draw(bucket.table_rows[s], bucket.values[s],
                                  bucket.local[s], values[s], prior, carry)  # fmt: skip
                return s + 1, tf.tensor_scatter_nd_update(values, [[s]], [new]), carry

            _, values, carry = tf.while_loop(
                lambda s, *_, size=size: s < size, body, (tf.constant(0), values, carry)
            )
            padded = tf.tensor_scatter_nd_update(
                padded, tf.reshape(bucket.features, [-1, 1]), tf.reshape(values, [-1])
            )
        return padded[:-1], carry


def _per_feature(x: Any, local: Any, like: Any) -> Any:
    """Sums of ``x`` per feature of a color (``like``: one entry each)."""
    return tf.math.unsorted_segment_sum(x, local, tf.shape(like)[0])
