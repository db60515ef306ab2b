"""Fitting Platt or temperature scaling on held-out data, into the model."""

from typing import Any

import keras
import numpy as np

from keras_fm.layers import PlattScaling
from keras_fm.models.tasks import model_task, prediction_head

METHODS = ("platt", "temperature")


def fit_platt(
    logits: np.ndarray, labels: np.ndarray, method: str = "platt"
) -> tuple[float, float]:
    """The ``(scale, shift)`` minimizing the log loss of
    ``sigmoid(scale * logit + shift)``, by Newton's method (a convex problem).

    Args:
        logits: `(N,)` the model's logits on held-out rows.
        labels: `(N,)` their labels; those > 0 are positives.
        method: `"platt"` (scale and shift) or `"temperature"` (scale only,
            shift 0). Defaults to `"platt"`.

    Returns:
        ``(scale, shift)``.

    Example:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=20000)
    >>> y = rng.random(20000) < 1 / (1 + np.exp(-(0.5 * z - 1)))
    >>> scale, shift = fit_platt(4 * z, y)  # overconfident by 8x, shifted
    >>> round(scale, 2), round(shift, 1)
    (0.12, -1.0)
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}. Received: {method!r}")
    z = np.asarray(logits, np.float64).reshape(-1)
    y = (np.asarray(labels, np.float64).reshape(-1) > 0).astype(np.float64)
    if z.shape != y.shape or not np.all(np.isfinite(z)):
        raise ValueError("need one finite logit per label")
    if y.min() == y.max():
        raise ValueError("calibration needs both classes among the labels")
    columns = [z, np.ones_like(z)] if method == "platt" else [z]
    design = np.stack(columns, axis=1)  # (N, P)
    theta = np.zeros(len(columns))
    theta[0] = 1.0
    for _ in range(100):
        p = _sigmoid(design @ theta)
        gradient = design.T @ (p - y)
        hessian = (design * (p * (1 - p))[:, None]).T @ design
        step = np.linalg.solve(hessian + 1e-9 * np.eye(len(theta)), gradient)
        theta = _backtrack(design, y, theta, step)
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(theta[0]), float(theta[1]) if method == "platt" else 0.0


def calibrate(model: keras.Model, data: Any, method: str = "platt") -> keras.Model:
    """The model with a fitted `PlattScaling` between its ``logit`` and sigmoid.

    Args:
        model: a binary model of `keras_fm.models` (a ``logit`` layer and a
            sigmoid ``prediction``).
        data: held-out ``(features, label)`` batches (a `tf.data.Dataset`),
            e.g. the validation data; not the training data.
        method: `"platt"` or `"temperature"` (see `fit_platt`).

    Returns:
        A new `keras.Model` sharing the model's layers, whose ``prediction``
        is ``sigmoid(scale * logit + shift)`` (layer ``"calibration"``);
        compile it before `evaluate` or `fit`.
    """
    if model_task(model) != "binary":
        raise ValueError(
            f"calibration applies to binary models; {model.name!r} is not one"
        )
    logit = model.get_layer("logit").output
    scores = keras.Model(model.input, logit)
    logits, labels = [], []
    for features, label in data:
        logits.append(np.asarray(scores(features, training=False)).reshape(-1))
        labels.append(np.asarray(label).reshape(-1))
    scale, shift = fit_platt(np.concatenate(logits), np.concatenate(labels), method)
    calibrated = PlattScaling(scale, shift, name="calibration")(logit)
    return keras.Model(
        model.input, prediction_head(calibrated, "binary"), name=model.name
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * x))


def _loss(design: np.ndarray, y: np.ndarray, theta: np.ndarray) -> float:
    z = design @ theta
    return float(np.sum(np.logaddexp(0, z) - y * z))


def _backtrack(
    design: np.ndarray, y: np.ndarray, theta: np.ndarray, step: np.ndarray
) -> np.ndarray:
    """``theta - t * step`` with the largest t in 1, 1/2, ... that lowers the loss."""
    before = _loss(design, y, theta)
    t = 1.0
    while t > 1e-8:
        candidate = theta - t * step
        if _loss(design, y, candidate) <= before:
            return candidate
        t /= 2
    return theta
