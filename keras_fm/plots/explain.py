"""Pictures of `keras_fm.explain.Attributions`."""

from typing import Any

import numpy as np

from keras_fm.plots.pyplot import pyplot, save


def interaction_heatmap(result: Any, path: str) -> str:
    """The field-interaction matrix (mean |pair term| per pair) as a heatmap.

    Args:
        result: a `keras_fm.explain.Attributions` with pairs.
        path: the PNG to write.

    Returns:
        ``path``.
    """
    matrix = result.interaction_matrix()
    if matrix is None:
        raise ValueError("the model has no pairwise terms to draw")
    names = list(result.field_names)
    plt = pyplot()
    size = 2.5 + 0.45 * len(names)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = axes.imshow(matrix, cmap="viridis")
    axes.set_xticks(range(len(names)), names, rotation=60, ha="right")
    axes.set_yticks(range(len(names)), names)
    axes.set_title(f"mean |pair term| over {len(result)} rows")
    figure.colorbar(image, ax=axes)
    return save(figure, path)


def field_bars(result: Any, path: str) -> str:
    """Each field's mean |attribution| over the rows, largest on top.

    Args:
        result: a `keras_fm.explain.Attributions`.
        path: the PNG to write.

    Returns:
        ``path``.
    """
    importance = result.field_importance()
    order = np.argsort(importance)
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 1.5 + 0.35 * len(order)))
    axes.barh(np.asarray(result.field_names)[order], importance[order])
    axes.set_xlabel("mean |field attribution| (logit units)")
    axes.set_title(f"field importance over {len(result)} rows")
    return save(figure, path)


def waterfall(result: Any, row: int, path: str) -> str:
    """One row's score built up from the bias, each field and the rest.

    Args:
        result: a `keras_fm.explain.Attributions`.
        row: the row to draw.
        path: the PNG to write.

    Returns:
        ``path``.
    """
    labels = ["bias", *result.field_names, "rest"]
    steps = np.array([result.bias[row], *result.fields[row], result.rest[row]])
    starts = np.concatenate([[0.0], np.cumsum(steps)[:-1]])
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 1.5 + 0.35 * len(labels)))
    colors = ["tab:blue" if step >= 0 else "tab:red" for step in steps]
    axes.barh(labels[::-1], steps[::-1], left=starts[::-1], color=colors[::-1])
    axes.axvline(result.logit[row], color="black", linewidth=1)
    axes.set_xlabel(f"logit (row {row}: {result.logit[row]:.4f})")
    axes.set_title("one row's score, term by term")
    return save(figure, path)
