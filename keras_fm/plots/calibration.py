"""The reliability diagram of binary predictions."""

import numpy as np

from keras_fm.plots.pyplot import pyplot, save


def reliability_diagram(
    labels: np.ndarray, probabilities: np.ndarray, path: str, bins: int = 15
) -> str:
    """Mean label against mean prediction in equal-width bins, with the ECE.

    Args:
        labels: `(N,)` 0/1 labels.
        probabilities: `(N,)` predicted probabilities.
        path: the PNG to write.
        bins: equal-width bins of the probabilities. Defaults to `15`.

    Returns:
        ``path``.
    """
    from keras_fm.calibration import expected_calibration_error, reliability

    table = reliability(labels, probabilities, bins)
    error = expected_calibration_error(labels, probabilities, bins)
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot([0, 1], [0, 1], color="gray", linestyle="--", linewidth=1)
    used = table["count"] > 0
    axes.plot(table["confidence"][used], table["accuracy"][used], marker="o")
    axes.set_xlabel("mean predicted probability")
    axes.set_ylabel("fraction of positives")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_title(f"reliability ({bins} bins): ECE {error:.4f}")
    return save(figure, path)
