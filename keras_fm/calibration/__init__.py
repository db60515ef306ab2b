"""Calibrated probabilities: measuring calibration and fitting it."""

from keras_fm.calibration.fit import calibrate, fit_platt
from keras_fm.calibration.metrics import expected_calibration_error, reliability

__all__ = ["calibrate", "expected_calibration_error", "fit_platt", "reliability"]
