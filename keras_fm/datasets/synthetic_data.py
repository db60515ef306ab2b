"""Field-structured examples drawn from a known model, and their noise floor."""

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

TASKS = ("binary", "regression")


def check_arguments(
    num_examples: int, vocabulary_sizes: Sequence[int], rank: int, task: str
) -> tuple[int, ...]:
    """Validates the generators' common arguments; returns the vocabulary sizes."""
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
    return vocabulary_sizes


def draw_examples(
    truth: Any,
    num_examples: int,
    vocabulary_sizes: tuple[int, ...],
    task: str,
    noise_stddev: float,
    rng: np.random.Generator,
) -> "SyntheticData":
    """Draws uniform ids per field and labels from ``truth.logits``."""
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
    return SyntheticData(
        ids=ids.astype("int64"),
        labels=labels,
        logits=logits,
        field_names=tuple(f"field_{f}" for f in range(len(vocabulary_sizes))),
        vocabulary_sizes=vocabulary_sizes,
        task=task,
        noise_stddev=float(noise_stddev),
        truth=truth,
    )


@dataclasses.dataclass(frozen=True)
class SyntheticData:
    """Examples drawn from a known model, with the truth kept for comparison.

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
        truth: the generating model (`FMGroundTruth` or `FFMGroundTruth`).
    """

    ids: np.ndarray
    labels: np.ndarray
    logits: np.ndarray
    field_names: tuple[str, ...]
    vocabulary_sizes: tuple[int, ...]
    task: str
    noise_stddev: float
    truth: Any

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def features(self, rows: slice | np.ndarray = slice(None)) -> dict[str, np.ndarray]:
        """Returns ``{field_name: (n, 1) int64 ids}`` for the selected rows."""
        return {
            name: self.ids[rows, f : f + 1] for f, name in enumerate(self.field_names)
        }

    def split(self, *fractions: float) -> list["SyntheticData"]:
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
