"""``keras-fm export``: a trained model as a TF Serving version, and TFLite."""

import argparse
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from keras_fm.cli.run_folder import load_trained
from keras_fm.export import edge_inputs, export_saved_model, to_tflite


def _rows(features: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """The first ``count`` examples of a batch of model inputs, as dicts."""
    columns = {
        name: value.to_list()
        if isinstance(value, tf.RaggedTensor)
        else value.numpy().tolist()
        for name, value in features.items()
    }
    rows = []
    for index in range(min(count, len(next(iter(columns.values()))))):
        row = {}
        for name, values in columns.items():
            value = values[index]
            if (
                isinstance(value, list)
                and len(value) == 1
                and not _is_list(features[name])
            ):
                value = value[0]
            row[name] = value.decode() if isinstance(value, bytes) else value
            if isinstance(row[name], list):
                row[name] = [v.decode() if isinstance(v, bytes) else v for v in value]
        rows.append(row)
    return rows


def _is_list(tensor: Any) -> bool:
    return isinstance(tensor, tf.RaggedTensor) or (
        len(tensor.shape) == 2 and tensor.shape[1] != 1
    )


def export(
    model_dir: str,
    saved_model: str,
    version: int | None = None,
    overwrite: bool = False,
    tflite: str | None = None,
    quantize: str = "none",
    sample_data: Sequence[str] = (),
    explain: bool = False,
) -> dict[str, Any]:
    """Exports a trained model: a TF Serving version and optionally TFLite.

    ``explain`` adds the SavedModel's ``explain`` signature (per-field
    attributions of each score; see `export_saved_model`).

    ``sample_data`` (files in the model's format) gives the warm-up requests
    (its first 16 rows) and, for ``quantize="int8"``, the calibration data
    (its first 1024 rows).
    """
    model, data_format, task = load_trained(model_dir)
    warmup_rows, calibration = None, None
    if sample_data:
        read_task = "binary" if task == "ranking" else task
        batch, _ = next(iter(data_format.read(sample_data, read_task, 1024)))
        warmup_rows = _rows(batch, 16)
        calibration = [
            {k: v.numpy() for k, v in edge_inputs(model, batch).items()}
        ] if tflite else None  # fmt: skip
    elif quantize == "int8":
        raise ValueError("--quantize int8 needs --sample-data for calibration")
    path = export_saved_model(
        model, saved_model, version, overwrite=overwrite, warmup_rows=warmup_rows,
        explain=explain,
    )  # fmt: skip
    result: dict[str, Any] = {"saved_model": str(path)}
    if tflite:
        result["tflite"] = to_tflite(
            model, tflite, quantize=quantize, representative_data=calibration
        )
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    return export(
        args.model_dir,
        args.saved_model,
        version=args.version,
        overwrite=args.overwrite,
        tflite=args.tflite,
        quantize=args.quantize,
        sample_data=args.sample_data,
        explain=args.explain,
    )
