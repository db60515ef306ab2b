"""The picture of a training run: loss and the watched metric per epoch."""

import csv
from pathlib import Path
from typing import Any

import numpy as np

from keras_fm.plots.pyplot import pyplot, save


def run_report(history: str | Path, path: str | Path, metric: str | None = None) -> str:
    """Loss and ``metric`` per epoch (train and validation) from a Keras
    `CSVLogger` file, with the epochs whose learning rate changed marked.

    Args:
        history: the CSV file (``history.csv`` of a ``keras-fm train`` run).
        path: the PNG to write.
        metric: the metric beside the loss, e.g. `"auc"` or `"rmse"`.
            Defaults to the first column that is neither loss nor learning rate.

    Returns:
        ``path``.
    """
    columns = _read(history)
    epochs = columns.pop("epoch", None)
    if epochs is None or not len(epochs):
        raise ValueError(f"{history}: no epoch recorded")
    epochs = epochs + 1
    if metric is None:
        skip = {"loss", "learning_rate", "lr"}
        names = [n for n in columns if not n.startswith("val_") and n not in skip]
        metric = names[0] if names else "loss"
    plt = pyplot()
    figure, panels = plt.subplots(1, 2, figsize=(10, 4))
    for axes, name in zip(panels, ("loss", metric), strict=True):
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            if key in columns:
                axes.plot(epochs, columns[key], marker="o", label=label)
        _mark_rate_changes(axes, epochs, columns.get("learning_rate"))
        axes.set_xlabel("epoch")
        axes.set_title(name)
        axes.legend()
    return save(figure, str(path))


def _read(history: str | Path) -> dict[str, np.ndarray]:
    """The file's numeric columns by epoch. Keras writes ``NA`` where a key
    is missing (its ``val_`` columns in a run without validation data), and
    a run killed between its backup and its log line repeats that epoch on
    resume: the last line of each epoch is kept, empty columns dropped."""
    with open(history, newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_epoch = {_number(row.get("epoch")): row for row in rows}
    rows = [by_epoch[e] for e in sorted(e for e in by_epoch if np.isfinite(e))]
    names = rows[0].keys() if rows else []
    columns = {name: np.array([_number(row[name]) for row in rows]) for name in names}
    return {name: x for name, x in columns.items() if np.isfinite(x).any()}


def _number(text: str | None) -> float:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _mark_rate_changes(axes: Any, epochs: np.ndarray, rates: np.ndarray | None) -> None:
    if rates is None:
        return
    for index in np.flatnonzero(np.diff(rates)) + 1:
        axes.axvline(epochs[index], color="gray", linestyle=":", linewidth=1)
        axes.annotate(f"lr {rates[index]:.0e}", (epochs[index], 0.02),
                      xycoords=("data", "axes fraction"), fontsize=8)  # fmt: skip
