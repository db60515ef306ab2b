"""Expected calibration error and the reliability table of binary predictions."""

import numpy as np


def reliability(labels: np.ndarray, probabilities: np.ndarray, bins: int = 15) -> dict:
    """The rows in each of ``bins`` equal-width bins of the probabilities.

    Args:
        labels: `(N,)` labels; those > 0 are positives.
        probabilities: `(N,)` predicted probabilities in [0, 1].
        bins: the number of bins of [0, 1]. Defaults to `15` (Guo et al.,
            2017, "On Calibration of Modern Neural Networks").

    Returns:
        A dict of `(bins,)` arrays: ``count`` (rows in the bin),
        ``confidence`` (their mean probability) and ``accuracy`` (their
        fraction of positives); NaN for an empty bin.
    """
    labels, probabilities = _checked(labels, probabilities, bins)
    index = np.minimum((probabilities * bins).astype(np.int64), bins - 1)
    count = np.bincount(index, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(index, probabilities, bins) / count
        accuracy = np.bincount(index, labels, bins) / count
    return {"count": count, "confidence": confidence, "accuracy": accuracy}


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = 15
) -> float:
    """``sum_b (n_b / N) |accuracy_b - confidence_b|`` over equal-width bins.

    Args:
        labels, probabilities, bins: as `reliability`.

    Returns:
        The ECE, in [0, 1].

    Example:

    >>> import numpy as np
    >>> expected_calibration_error(np.array([0, 1, 1, 1]), np.full(4, 0.75))
    0.0
    """
    table = reliability(labels, probabilities, bins)
    used = table["count"] > 0
    gaps = np.abs(table["accuracy"][used] - table["confidence"][used])
    return float(np.sum(table["count"][used] * gaps) / np.sum(table["count"]))


def _checked(
    labels: np.ndarray, probabilities: np.ndarray, bins: int
) -> tuple[np.ndarray, np.ndarray]:
    labels = (np.asarray(labels, np.float64).reshape(-1) > 0).astype(np.float64)
    probabilities = np.asarray(probabilities, np.float64).reshape(-1)
    if labels.shape != probabilities.shape or not len(labels):
        raise ValueError(
            "need as many labels as probabilities, at least one; received "
            f"{labels.shape[0]} and {probabilities.shape[0]}"
        )
    if not np.all((probabilities >= 0) & (probabilities <= 1)):
        raise ValueError("probabilities must lie in [0, 1] (NaN is refused)")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"`bins` must be a positive int. Received: bins={bins!r}")
    return labels, probabilities
