"""``keras-fm train --calibrate``: the trained model, calibrated on --valid."""

from pathlib import Path
from typing import Any

import keras
import numpy as np

from keras_fm.calibration import calibrate, expected_calibration_error
from keras_fm.cli.evaluate import labels_and_predictions
from keras_fm.models import compile_for_task
from keras_fm.saving import save_model


def calibrate_run(
    model: keras.Model, method: str, valid_data: Any, test_data: Any, path: Path
) -> tuple[keras.Model, dict[str, Any]]:
    """Fits ``method`` on the validation batches, saves the calibrated model
    at ``path`` (over the uncalibrated one), and returns it with the fitted
    numbers and the uncalibrated model's ECE and log loss on each data set."""
    before = {
        name: _scores(*labels_and_predictions(model, data))
        for name, data in (("valid", valid_data), ("test", test_data))
        if data is not None
    }
    calibrated = calibrate(model, valid_data, method)
    # The trained optimizer (its slots match the shared weights), so that the
    # saved file loads without a mismatch.
    compile_for_task(calibrated, "binary", model.optimizer)
    save_model(calibrated, path)
    layer = calibrated.get_layer("calibration")
    return calibrated, {
        "method": method,
        "scale": layer.scale,
        "shift": layer.shift,
        "uncalibrated": before,
    }


def _scores(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """ECE and log loss, which Platt scaling minimizes (on --valid)."""
    p = np.clip(predictions.astype(np.float64), 1e-7, 1 - 1e-7)
    y = (labels > 0).astype(np.float64)
    logloss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    ece = expected_calibration_error(labels, predictions)
    return {"ece": round(ece, 6), "logloss": round(float(logloss), 6)}
