"""``keras-fm evaluate`` and ``keras-fm predict``: a trained model on files."""

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from keras_fm.calibration import expected_calibration_error
from keras_fm.cli.output import warn
from keras_fm.cli.ranking import ranking_file_metrics, scorer
from keras_fm.cli.run_folder import (
    CATALOG_FILE,
    check_format,
    load_trained,
    read_run,
)
from keras_fm.data.files import resolve_paths
from keras_fm.data.formats import DataFormat, open_text
from keras_fm.plots import reliability_diagram
from keras_fm.ranking import load_catalog


def label_classes(data_format: DataFormat, paths: Sequence[str]) -> set[float]:
    """The distinct binary labels of ``paths``, read until both are found.

    libsvm and libffm labels are the first token of a line, read as text; a
    token that is not a number leaves it to the reader (and its located
    error).
    """
    if data_format.format in ("libsvm", "libffm"):
        try:
            return _first_token_classes(paths)
        except ValueError:
            pass
    found: set[float] = set()
    for _, labels in data_format.read(paths, "binary", 8192):
        found.update(np.unique(labels.numpy()).tolist())
        if len(found) == 2:
            break
    return found


def _first_token_classes(paths: Sequence[str]) -> set[float]:
    found: set[float] = set()
    for path in resolve_paths(list(paths)):
        with open_text(path) as handle:
            for line in handle:
                tokens = line.split(maxsplit=1)
                if tokens:
                    found.add(1.0 if float(tokens[0]) > 0 else 0.0)
                if len(found) == 2:
                    return found
    return found


def labels_and_predictions(model: keras.Model, dataset: Any) -> tuple[Any, Any]:
    """`(N,)` labels and `(N,)` predictions of ``(features, label)`` batches."""
    labels, predictions = [], []
    for features, label in dataset:
        predictions.append(np.asarray(model(features, training=False)).reshape(-1))
        labels.append(np.asarray(label).reshape(-1))
    return np.concatenate(labels), np.concatenate(predictions)


def task_metrics(
    model: keras.Model, dataset: Any, task: str, classes: set[float] | None = None
) -> dict[str, float | None]:
    """The task's metrics; an undefined AUC (one class) is None, with a
    warning. Binary tasks also get the expected calibration error (``ece``,
    15 equal-width bins)."""
    scores = model.evaluate(dataset, verbose=0, return_dict=True)
    names = ("auc", "logloss") if task == "binary" else ("rmse",)
    result: dict[str, float | None] = {}
    for name in names:
        value = float(scores[name])
        result[name] = round(value, 6) if math.isfinite(value) else None
    if task == "binary" and classes is not None and len(classes) < 2:
        warn(f"every label is {sorted(classes)}: AUC is undefined (null)")
        result["auc"] = None
    if task == "binary":
        labels, predictions = labels_and_predictions(model, dataset)
        result["ece"] = round(expected_calibration_error(labels, predictions), 6)
    return result


def evaluate(
    model_dir: str,
    paths: Sequence[str],
    batch_size: int = 4096,
    reliability: str | None = None,
) -> dict[str, Any]:
    """The trained model's metrics on ``paths`` (for ranking: HR@10, NDCG@10);
    with ``reliability`` (binary), also its reliability diagram, as a PNG."""
    model, data_format, task = load_trained(model_dir)
    if task == "ranking":
        catalog, seen = load_catalog(Path(model_dir) / CATALOG_FILE)
        data = data_format.read(paths, "binary", batch_size)
        ranking = (read_run(Path(model_dir)) or {})["ranking"]
        return ranking_file_metrics(model, data, catalog, seen, ranking)
    if reliability and task != "binary":
        raise ValueError("--reliability applies to binary models")
    classes = label_classes(data_format, paths) if task == "binary" else None
    data = data_format.read(paths, task, batch_size)
    result: dict[str, Any] = dict(task_metrics(model, data, task, classes))
    if reliability:
        result["reliability"] = reliability_diagram(
            *labels_and_predictions(model, data), reliability
        )
    return result


def predict(
    model_dir: str, paths: Sequence[str], output: str, batch_size: int = 4096
) -> int:
    """Writes one prediction per input row, in input order; returns the count.

    For a ranking model the prediction is the row's score (its ``logit``).
    """
    model, data_format, task = load_trained(model_dir)
    if task == "ranking":
        model, task = scorer(model), "binary"
    predictions = model.predict(data_format.read(paths, task, batch_size), verbose=0)
    np.savetxt(output, predictions.reshape(-1), fmt="%.6g")
    return int(predictions.shape[0])


def run_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    check_format(args.model_dir, args.format)
    return evaluate(args.model_dir, args.data, args.batch_size, args.reliability)


def run_predict(args: argparse.Namespace) -> dict[str, Any]:
    check_format(args.model_dir, args.format)
    count = predict(args.model_dir, args.data, args.output, args.batch_size)
    return {"predictions": count, "output": args.output}
