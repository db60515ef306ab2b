"""Categorical data drawn from a known field-aware factorization machine."""

import dataclasses
from collections.abc import Sequence

import numpy as np

from keras_fm.datasets.synthetic_data import (
    SyntheticData,
    check_arguments,
    draw_examples,
)


@dataclasses.dataclass(frozen=True)
class FFMGroundTruth:
    """Parameters of the field-aware FM that generated a data set.

    Attributes:
        bias: float. The global bias ``w0``.
        weights: list of ``(vocabulary_size,)`` arrays, one per field.
        factors: list of ``(vocabulary_size, num_fields, rank)`` arrays, one
            per field: ``factors[f][i, g]`` is the latent vector of id ``i`` of
            field ``f`` used against field ``g``.
    """

    bias: float
    weights: list[np.ndarray]
    factors: list[np.ndarray]

    def logits(self, ids: np.ndarray) -> np.ndarray:
        """Returns ``w0 + sum_f w[id_f] + sum_{f<g} <V_f[id_f, g], V_g[id_g, f]>``."""
        logits = self.bias + sum(w[ids[:, f]] for f, w in enumerate(self.weights))
        num_fields = len(self.factors)
        for f in range(num_fields):
            for g in range(f + 1, num_fields):
                left = self.factors[f][ids[:, f], g]
                right = self.factors[g][ids[:, g], f]
                logits = logits + np.sum(left * right, axis=1)
        return logits


def make_ffm_data(
    num_examples: int,
    vocabulary_sizes: Sequence[int] = (40, 25, 60, 12, 30, 8, 50, 20),
    rank: int = 4,
    task: str = "binary",
    noise_stddev: float = 0.1,
    weight_stddev: float = 0.5,
    seed: int = 0,
) -> SyntheticData:
    """Draws categorical examples and labels from a random field-aware FM.

    As `make_fm_data`, but the true model gives each id one latent vector per
    other field (Juan et al., 2016):

        logit = w0 + sum_f w[id_f] + sum_{f<g} <V_f[id_f, g], V_g[id_g, f]>

    with the factors' scale set so that the pairwise term has unit variance.

    Args:
        num_examples, vocabulary_sizes, rank, task, noise_stddev,
            weight_stddev, seed: as `make_fm_data`.

    Returns:
        A `SyntheticData` whose ``truth`` is an `FFMGroundTruth`.

    Example:

    >>> data = make_ffm_data(100, vocabulary_sizes=(5, 7, 3), seed=1)
    >>> data.truth.factors[0].shape
    (5, 3, 4)
    """
    vocabulary_sizes = check_arguments(num_examples, vocabulary_sizes, rank, task)
    rng = np.random.default_rng(seed)
    num_fields = len(vocabulary_sizes)
    num_pairs = num_fields * (num_fields - 1) / 2
    factor_stddev = (1.0 / (num_pairs * rank)) ** 0.25
    truth = FFMGroundTruth(
        bias=float(rng.normal(0.0, 0.5)),
        weights=[rng.normal(0.0, weight_stddev, size=v) for v in vocabulary_sizes],
        factors=[
            rng.normal(0.0, factor_stddev, size=(v, num_fields, rank))
            for v in vocabulary_sizes
        ],
    )
    return draw_examples(truth, num_examples, vocabulary_sizes, task, noise_stddev, rng)
