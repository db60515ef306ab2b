"""Categorical data drawn from a known second-order factorization machine."""

import dataclasses
from collections.abc import Sequence

import numpy as np

from keras_fm.datasets.synthetic_data import (
    SyntheticData,
    check_arguments,
    draw_examples,
)


@dataclasses.dataclass(frozen=True)
class FMGroundTruth:
    """Parameters of the factorization machine that generated a data set.

    Attributes:
        bias: float. The global bias ``w0``.
        weights: list of ``(vocabulary_size,)`` arrays, one per field: the
            first-order weight of each id.
        factors: list of ``(vocabulary_size, rank)`` arrays, one per field:
            the latent vector of each id.
    """

    bias: float
    weights: list[np.ndarray]
    factors: list[np.ndarray]

    def logits(self, ids: np.ndarray) -> np.ndarray:
        """Returns ``w0 + sum_f w[ids_f] + sum_{f<g} <v[ids_f], v[ids_g]>``.

        Args:
            ids: int array of shape `(num_examples, num_fields)`.

        Returns:
            float64 array of shape `(num_examples,)`.
        """
        first_order = sum(w[ids[:, f]] for f, w in enumerate(self.weights))
        vectors = np.stack([v[ids[:, f]] for f, v in enumerate(self.factors)], axis=1)
        pairwise = 0.5 * (
            np.square(vectors.sum(axis=1)) - np.square(vectors).sum(axis=1)
        ).sum(axis=1)
        return self.bias + first_order + pairwise


def make_fm_data(
    num_examples: int,
    vocabulary_sizes: Sequence[int] = (40, 25, 60, 12, 30, 8, 50, 20),
    rank: int = 4,
    task: str = "binary",
    noise_stddev: float = 0.1,
    weight_stddev: float = 0.5,
    seed: int = 0,
) -> SyntheticData:
    """Draws categorical examples and labels from a random second-order FM.

    Each example has one id per field, drawn uniformly. The true model is

        logit = w0 + sum_f w[id_f] + sum_{f<g} <v[id_f], v[id_g]>

    with first-order weights ``w ~ N(0, weight_stddev^2)`` and latent factors
    ``v ~ N(0, s^2)``, where ``s`` is chosen so that the pairwise term has unit
    variance whatever the number of fields and the rank. For ``"binary"`` the
    label is drawn from ``Bernoulli(sigmoid(logit))``; for ``"regression"`` it
    is ``logit + N(0, noise_stddev^2)``. The same arguments and seed always
    give the same data.

    Args:
        num_examples: int. Number of examples to draw.
        vocabulary_sizes: sequence of int. Number of ids of each field (at
            least two fields). Defaults to eight fields of 8 to 60 ids.
        rank: int. Rank of the true latent factors. Defaults to `4`.
        task: str. `"binary"` or `"regression"`. Defaults to `"binary"`.
        noise_stddev: float. Standard deviation of the regression noise
            (ignored for `"binary"`). Defaults to `0.1`.
        weight_stddev: float. Standard deviation of the first-order weights.
            Defaults to `0.5`.
        seed: int. Seed of the random generator. Defaults to `0`.

    Returns:
        A `SyntheticData` with the examples, their labels and noise-free
        logits, and the generating `FMGroundTruth`.

    Example:

    >>> data = make_fm_data(1000, vocabulary_sizes=(5, 7, 3), seed=1)
    >>> data.ids.shape, data.labels.shape
    ((1000, 3), (1000,))
    >>> sorted(data.features())
    ['field_0', 'field_1', 'field_2']
    """
    vocabulary_sizes = check_arguments(num_examples, vocabulary_sizes, rank, task)
    rng = np.random.default_rng(seed)
    num_fields = len(vocabulary_sizes)
    num_pairs = num_fields * (num_fields - 1) / 2
    # Var <v_f, v_g> = rank * s^4 for independent N(0, s^2) factors.
    factor_stddev = (1.0 / (num_pairs * rank)) ** 0.25
    truth = FMGroundTruth(
        bias=float(rng.normal(0.0, 0.5)),
        weights=[rng.normal(0.0, weight_stddev, size=v) for v in vocabulary_sizes],
        factors=[
            rng.normal(0.0, factor_stddev, size=(v, rank)) for v in vocabulary_sizes
        ],
    )
    return draw_examples(truth, num_examples, vocabulary_sizes, task, noise_stddev, rng)
