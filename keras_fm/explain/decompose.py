"""Exact decompositions of the FM family's interaction terms by field.

Each function takes a layer's input (the field vectors of one batch, as
NumPy float64) and returns the term's split: a `(B, F, F)` matrix holding
each pair's term at both ``[i, j]`` and ``[j, i]`` (zero diagonal), or a
`(B, F)` share per field. A field's Shapley value,
with "absent" meaning the field is deleted, is its first-order term plus
half of each of its pairs and a third of each of its triples (each term of
``t`` fields is shared equally by them: it exists only if all are present).
"""

import numpy as np


def fm_pairs(vectors: np.ndarray) -> np.ndarray:
    """``<v_i, v_j>`` for every pair of fields: `(B, F, D)` to `(B, F, F)`."""
    pairs = np.einsum("bid,bjd->bij", vectors, vectors)
    return _zero_diagonal(pairs)


def ffm_pairs(latent: np.ndarray) -> np.ndarray:
    """``<v_{i, j}, v_{j, i}>`` (field i's vector against field j, and the
    converse): `(B, F, F, D)` to `(B, F, F)`."""
    pairs = np.einsum("bijd,bjid->bij", latent, latent)
    return _zero_diagonal(pairs)


def afm_pairs(terms: np.ndarray, num_fields: int) -> np.ndarray:
    """AFM's `(B, P)` pair terms (`AFMInteraction.pair_terms`, pairs in
    `numpy.triu_indices` order) as a symmetric `(B, F, F)` matrix."""
    rows, cols = np.triu_indices(num_fields, 1)
    pairs = np.zeros((terms.shape[0], num_fields, num_fields))
    pairs[:, rows, cols] = terms
    pairs[:, cols, rows] = terms
    return pairs


def anova_shares(vectors: np.ndarray, degree: int) -> np.ndarray:
    """Each field's share of the degree-``t`` ANOVA term: `(B, F, D)` to `(B, F)`.

    The term is ``sum_d E_t(v_{1d} .. v_{Fd})`` (elementary symmetric
    polynomials); field i's part of it is ``sum_d v_id E_{t-1}(the others)``,
    of which it gets ``1 / t``. ``E_k`` without field i follows from
    ``E_k = E_k(others) + v_i E_{k-1}(others)``.
    """
    power_sums = [np.sum(vectors**k, axis=1) for k in range(1, degree)]  # (B, D)
    sums = [np.ones_like(power_sums[0])]  # E_0 .. E_{t-1} of all fields
    for t in range(1, degree):  # Newton's identities
        total = sum(
            (-1) ** (k - 1) * sums[t - k] * power_sums[k - 1] for k in range(1, t + 1)
        )
        sums.append(total / t)
    others = np.ones_like(vectors)  # E_0 without field i, (B, F, D)
    for k in range(1, degree):
        others = sums[k][:, None, :] - vectors * others
    return np.sum(vectors * others, axis=2) / degree


def _zero_diagonal(pairs: np.ndarray) -> np.ndarray:
    index = np.arange(pairs.shape[1])
    pairs[:, index, index] = 0.0
    return pairs
