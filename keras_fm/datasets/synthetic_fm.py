"""Categorical data drawn from a known second-order factorization machine."""

import dataclasses
import itertools
from collections.abc import Sequence

import numpy as np

TASKS = ("binary", "regression")


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


@dataclasses.dataclass(frozen=True)
class SyntheticFMData:
    """Examples drawn from a known FM, with the truth kept for comparison.

    Attributes:
        ids: int64 array `(num_examples, num_fields)`: the id of each field,
            in `[0, vocabulary_sizes[f])`.
        labels: float32 array `(num_examples,)`: 0/1 for `"binary"`, real for
            `"regression"`.
        logits: float64 array `(num_examples,)`: the noise-free FM score of
            each example (for `"binary"`, the log-odds of label 1).
        field_names: the name of each field (`"field_0"`, ...).
        vocabulary_sizes: the number of ids of each field.
        task: `"binary"` or `"regression"`.
        noise_stddev: the standard deviation of the regression noise.
        truth: the generating `FMGroundTruth`.
    """

    ids: np.ndarray
    labels: np.ndarray
    logits: np.ndarray
    field_names: tuple[str, ...]
    vocabulary_sizes: tuple[int, ...]
    task: str
    noise_stddev: float
    truth: FMGroundTruth

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def features(self, rows: slice | np.ndarray = slice(None)) -> dict[str, np.ndarray]:
        """Returns ``{field_name: (n, 1) int64 ids}`` for the selected rows."""
        return {
            name: self.ids[rows, f : f + 1] for f, name in enumerate(self.field_names)
        }

    def split(self, *fractions: float) -> list["SyntheticFMData"]:
        """Splits the examples, in order, into parts of the given fractions.

        The last part takes what remains, so ``split(0.8, 0.1)`` gives three
        parts: 80%, 10% and the remaining 10%.
        """
        if any(f <= 0 for f in fractions) or sum(fractions) >= 1:
            raise ValueError(
                "`fractions` must be positive and sum to less than 1. "
                f"Received: fractions={fractions}"
            )
        bounds = np.cumsum([0, *[round(f * len(self)) for f in fractions], len(self)])
        bounds[-1] = len(self)
        return [
            dataclasses.replace(
                self,
                ids=self.ids[start:stop],
                labels=self.labels[start:stop],
                logits=self.logits[start:stop],
            )
            for start, stop in itertools.pairwise(bounds)
        ]

    def noise_floor(self) -> dict[str, float]:
        """The best expected loss any model can reach on these examples.

        For `"binary"`: the log loss of the true probabilities on the drawn
        labels. For `"regression"`: the RMSE of the noise-free scores.
        """
        if self.task == "regression":
            return {
                "rmse": float(np.sqrt(np.mean(np.square(self.labels - self.logits))))
            }
        probabilities = 1.0 / (1.0 + np.exp(-self.logits))
        eps = 1e-12
        log_loss = -np.mean(
            self.labels * np.log(probabilities + eps)
            + (1 - self.labels) * np.log(1 - probabilities + eps)
        )
        return {"logloss": float(log_loss)}


def make_fm_data(
    num_examples: int,
    vocabulary_sizes: Sequence[int] = (40, 25, 60, 12, 30, 8, 50, 20),
    rank: int = 4,
    task: str = "binary",
    noise_stddev: float = 0.1,
    weight_stddev: float = 0.5,
    seed: int = 0,
) -> SyntheticFMData:
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
        A `SyntheticFMData` with the examples, their labels and noise-free
        logits, and the generating `FMGroundTruth`.

    Example:

    >>> data = make_fm_data(1000, vocabulary_sizes=(5, 7, 3), seed=1)
    >>> data.ids.shape, data.labels.shape
    ((1000, 3), (1000,))
    >>> sorted(data.features())
    ['field_0', 'field_1', 'field_2']
    """
    vocabulary_sizes = tuple(int(v) for v in vocabulary_sizes)
    if task not in TASKS:
        raise ValueError(f"`task` must be one of {TASKS}. Received: task={task!r}")
    if num_examples < 1:
        raise ValueError(f"`num_examples` must be positive. Received: {num_examples}")
    if len(vocabulary_sizes) < 2 or min(vocabulary_sizes) < 1:
        raise ValueError(
            "`vocabulary_sizes` needs at least two fields of at least one id. "
            f"Received: vocabulary_sizes={vocabulary_sizes}"
        )
    if rank < 1:
        raise ValueError(f"`rank` must be positive. Received: rank={rank}")
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
    ids = np.stack(
        [rng.integers(0, v, size=num_examples) for v in vocabulary_sizes], axis=1
    )
    logits = truth.logits(ids)
    if task == "binary":
        labels = (rng.random(num_examples) < 1.0 / (1.0 + np.exp(-logits))).astype(
            "float32"
        )
    else:
        labels = (logits + rng.normal(0.0, noise_stddev, size=num_examples)).astype(
            "float32"
        )
    return SyntheticFMData(
        ids=ids.astype("int64"),
        labels=labels,
        logits=logits,
        field_names=tuple(f"field_{f}" for f in range(num_fields)),
        vocabulary_sizes=vocabulary_sizes,
        task=task,
        noise_stddev=float(noise_stddev),
        truth=truth,
    )
