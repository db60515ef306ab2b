"""Exact decompositions of the FM family's interaction terms by field.

Each function takes a layer's input (the field vectors of one batch) and
returns the term's split: a `(B, F, F)` matrix holding each pair's term at
both ``[i, j]`` and ``[j, i]`` (zero diagonal), or a `(B, F)` share per
field. A field's Shapley value, with "absent" meaning the field is deleted,
is its first-order term plus half of each of its pairs and a third of each
of its triples (each term of ``t`` fields is shared equally by them: it
exists only if all are present). TensorFlow ops in the inputs' dtype, so
the same code runs offline (`keras_fm.explain.attributions`, float64) and
in an exported graph (the SavedModel's ``explain`` signature).
"""

from typing import Any

import numpy as np
import tensorflow as tf


def fm_pairs(vectors: Any) -> Any:
    """``<v_i, v_j>`` for every pair of fields: `(B, F, D)` to `(B, F, F)`."""
    return _zero_diagonal(tf.einsum("bid,bjd->bij", vectors, vectors))


def ffm_pairs(latent: Any) -> Any:
    """``<v_{i, j}, v_{j, i}>`` (field i's vector against field j, and the
    converse): `(B, F, F, D)` to `(B, F, F)`."""
    return _zero_diagonal(tf.einsum("bijd,bjid->bij", latent, latent))


def afm_pairs(terms: Any, num_fields: int) -> Any:
    """AFM's `(B, P)` pair terms (`AFMInteraction.pair_terms`, pairs in
    `numpy.triu_indices` order) as a symmetric `(B, F, F)` matrix."""
    rows, cols = np.triu_indices(num_fields, 1)
    left = tf.one_hot(rows, num_fields, dtype=terms.dtype)  # (P, F)
    right = tf.one_hot(cols, num_fields, dtype=terms.dtype)
    upper = tf.einsum("bp,pi,pj->bij", terms, left, right)
    return upper + tf.transpose(upper, (0, 2, 1))


def anova_shares(vectors: Any, degree: int) -> Any:
    """Each field's share of the degree-``t`` ANOVA term: `(B, F, D)` to `(B, F)`.

    The term is ``sum_d E_t(v_{1d} .. v_{Fd})`` (elementary symmetric
    polynomials); field i's part of it is ``sum_d v_id E_{t-1}(the others)``,
    of which it gets ``1 / t``. ``E_k`` without field i follows from
    ``E_k = E_k(others) + v_i E_{k-1}(others)``.
    """
    power_sums = [tf.reduce_sum(vectors**k, axis=1) for k in range(1, degree)]
    sums = [tf.ones_like(vectors[:, 0])]  # E_0 .. E_{t-1} of all fields, (B, D)
    for t in range(1, degree):  # Newton's identities
        total = tf.zeros_like(sums[0])
        for k in range(1, t + 1):
            term = sums[t - k] * power_sums[k - 1]
            total = total + term if k % 2 else total - term
        sums.append(total / t)
    others = tf.ones_like(vectors)  # E_0 without field i, (B, F, D)
    for k in range(1, degree):
        others = sums[k][:, None, :] - vectors * others
    return tf.reduce_sum(vectors * others, axis=2) / degree


def half_rows(pairs: Any) -> Any:
    """Each field's half of its pairs: `(B, F, F)` to `(B, F)`."""
    return tf.reduce_sum(pairs, axis=2) / 2


def _zero_diagonal(pairs: Any) -> Any:
    return tf.linalg.set_diag(pairs, tf.zeros_like(tf.linalg.diag_part(pairs)))
