"""``keras-fm explain``: per-field attributions of a trained model's scores."""

import argparse
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from keras_fm.cli.output import warn
from keras_fm.cli.run_folder import check_format, load_trained
from keras_fm.explain import Attributions, attributions
from keras_fm.plots import field_bars, interaction_heatmap, waterfall


def explain(
    model_dir: str,
    paths: list[str],
    output: str,
    rows: int,
    batch_size: int = 4096,
    deep: str = "rest",
) -> dict[str, Any]:
    """Writes the attributions of the first ``rows`` rows of ``paths`` and
    their global tables and pictures into ``output``; returns what it wrote."""
    model, data_format, task = load_trained(model_dir)
    data = data_format.read(paths, "binary" if task == "ranking" else task, batch_size)
    result = attributions(model, data.unbatch().take(rows).batch(batch_size), deep=deep)
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    written = [
        _rows_csv(result, folder / "attributions.csv"),
        _summary_json(result, folder / "summary.json"),
    ]
    try:
        written.append(field_bars(result, str(folder / "fields.png")))
        written.append(waterfall(result, 0, str(folder / "waterfall.png")))
        if result.pairs is not None:
            written.append(
                interaction_heatmap(result, str(folder / "interactions.png"))
            )
    except ImportError as error:
        warn(f"pictures not drawn: {error}")
    return {"rows": len(result), "completeness_error": result.completeness_error(),
            "written": written}  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    check_format(args.model_dir, args.format)
    return explain(
        args.model_dir, args.data, args.output, args.rows, args.batch_size, args.deep
    )


def _rows_csv(result: Attributions, path: Path) -> str:
    """One line per row: logit, bias, rest and each field's part."""
    names = [str(name) for name in result.field_names]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "logit", "bias", "rest", *names])
        for index in range(len(result)):
            values = [result.logit[index], result.bias[index], result.rest[index],
                      *result.fields[index]]  # fmt: skip
            writer.writerow([index, *(f"{value:.6g}" for value in values)])
    return str(path)


def _summary_json(result: Attributions, path: Path) -> str:
    """The global tables: mean |field| per field, mean |pair| per pair."""
    matrix = result.interaction_matrix()
    summary = {
        "rows": len(result),
        "fields": [str(name) for name in result.field_names],
        "field_importance": np.round(result.field_importance(), 6).tolist(),
        "interaction_matrix": None if matrix is None else np.round(matrix, 6).tolist(),
        "mean_rest": round(float(np.mean(np.abs(result.rest))), 6),
        "completeness_error": result.completeness_error(),
    }
    if result.deep_error is not None:  # integrated gradients' miss, in rest
        summary["mean_deep_error"] = round(float(np.mean(np.abs(result.deep_error))), 6)
    path.write_text(json.dumps(summary, indent=1))
    return str(path)
