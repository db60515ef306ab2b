"""``keras-fm train --calibrate``: the trained model, calibrated on --valid."""

from pathlib import Path
from typing import Any

import keras

from keras_fm.calibration import calibrate, expected_calibration_error
from keras_fm.cli.evaluate import labels_and_predictions
from keras_fm.models import compile_for_task


def calibrate_run(
    model: keras.Model, method: str, valid_data: Any, test_data: Any, path: Path
) -> tuple[keras.Model, dict[str, Any]]:
    """Fits ``method`` on the validation batches, saves the calibrated model
    at ``path`` (over the uncalibrated one), and returns it with the fitted
    numbers and the uncalibrated model's ECE on each data set."""
    before = {
        name: round(expected_calibration_error(*labels_and_predictions(model, data)), 6)
        for name, data in (("valid", valid_data), ("test", test_data))
        if data is not None
    }
    calibrated = calibrate(model, valid_data, method)
    # The trained optimizer (its slots match the shared weights), so that the
    # saved file loads without a mismatch.
    compile_for_task(calibrated, "binary", model.optimizer)
    calibrated.save(path)
    layer = calibrated.get_layer("calibration")
    return calibrated, {
        "method": method,
        "scale": layer.scale,
        "shift": layer.shift,
        "uncalibrated_ece": before,
    }
