"""Explaining and calibrating on frappe: the README's pictures and figures.

Trains FM (raw libsvm rows, as libFM reads them) and DeepFM (a field per
position) with ``keras-fm train``'s defaults and ``--calibrate platt``, then,
on frappe's test file: the ECE before and after calibration, the
reliability diagrams of both, and the attributions' pictures of 10,000
test rows, with frappe's field names (DeepFM's DNN split by integrated
gradients). The pictures go to
``examples/figures``, the runs to ``runs/explain-frappe`` (git ignores it).

Usage: python examples/explain_frappe.py [--data DIR] [--models fm,deepfm] [--reuse]
"""

import argparse
import dataclasses
import json
import shutil
from pathlib import Path

import keras
import numpy as np

from keras_fm.calibration import expected_calibration_error
from keras_fm.cli import main as keras_fm
from keras_fm.cli.run_folder import load_trained
from keras_fm.explain import attributions
from keras_fm.plots import (
    field_bars,
    interaction_heatmap,
    reliability_diagram,
    waterfall,
)

FIELDS = (
    "user",
    "item",
    "daytime",
    "weekday",
    "isweekend",
    "homework",
    "cost",
    "weather",
    "country",
    "city",
)  # fmt: skip (frappe's SOURCE.md)
FIGURES = Path(__file__).parent / "figures"


def train(model, files, folder):
    extra = ["--fields-by-position"] if model != "fm" else []
    code = keras_fm(["train", "--model", model, "--format", "libsvm", "--task",
                     "binary", "--train", files["train"], "--valid", files["valid"],
                     "--test", files["test"], "--calibrate", "platt",
                     "--overwrite", "--model-dir", str(folder), *extra])  # fmt: skip
    if code:
        raise SystemExit(f"keras-fm train --model {model} failed")


def pictures(model_name, folder, test):
    model, data_format, _ = load_trained(str(folder))
    data = data_format.read([test], "binary", 4096)
    labels = np.concatenate([np.asarray(y).reshape(-1) for _, y in data])
    calibrated = model.predict(data, verbose=0).reshape(-1)
    logits = keras.Model(model.input, model.get_layer("logit").output)
    raw = 1 / (1 + np.exp(-logits.predict(data, verbose=0).reshape(-1)))
    reliability_diagram(
        labels, raw, str(FIGURES / f"{model_name}-reliability-before.png")
    )
    reliability_diagram(
        labels, calibrated, str(FIGURES / f"{model_name}-reliability-after.png")
    )
    deep = "rest" if model_name == "fm" else "integrated_gradients"
    result = attributions(model, data.unbatch().take(10_000).batch(4096), deep=deep)
    result = dataclasses.replace(result, field_names=np.array(FIELDS))
    field_bars(result, str(FIGURES / f"{model_name}-fields.png"))
    waterfall(result, 0, str(FIGURES / f"{model_name}-waterfall.png"))
    interaction_heatmap(result, str(FIGURES / f"{model_name}-interactions.png"))
    shutil.copy(folder / "report.png", FIGURES / f"{model_name}-report.png")
    return {
        "test_ece_before": round(expected_calibration_error(labels, raw), 4),
        "test_ece_after": round(expected_calibration_error(labels, calibrated), 4),
        "completeness_error": result.completeness_error(),
        "mean_abs_deep_error": None
        if result.deep_error is None
        else float(np.mean(np.abs(result.deep_error))),
        "mean_abs_logit": float(np.mean(np.abs(result.logit))),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--models", default="fm,deepfm")
    parser.add_argument(
        "--reuse", action="store_true", help="draw from runs already trained"
    )
    args = parser.parse_args()
    folder = args.data / "frappe"
    files = {"train": str(folder / "frappe.train.reconstructed.libfm"),
             "valid": str(folder / "frappe.validation.libfm"),
             "test": str(folder / "frappe.test.libfm")}  # fmt: skip
    if not Path(files["train"]).exists():
        raise SystemExit(f"frappe is absent: {folder} (see its SOURCE.md)")
    FIGURES.mkdir(exist_ok=True)
    for model in args.models.split(","):
        run = Path("runs/explain-frappe") / model
        if not args.reuse:
            train(model, files, run)
        figures = pictures(model, run, files["test"])
        metrics = json.loads((run / "metrics.json").read_text())
        print(model, json.dumps({**figures, "test": metrics["test"],
                                 "calibration": metrics["calibration"]}))  # fmt: skip


if __name__ == "__main__":
    main()
