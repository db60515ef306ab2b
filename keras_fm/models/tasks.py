"""What a model predicts and how it is trained, per task."""

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_fm.models.output_range import OutputRange
from keras_fm.registration import register

TASKS = ("binary", "regression")


def check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"`task` must be one of {TASKS}. Received: task={task!r}")


def prediction_head(
    logit: Any, task: str, output_range: Sequence[float] | None = None
) -> Any:
    """The model's output ``prediction`` from its ``logit`` (a `(batch, 1)` score).

    Binary: the sigmoid of the logit (the click probability). Regression: the
    score itself, clipped to ``output_range`` when given.
    """
    check_task(task)
    if task == "binary":
        if output_range is not None:
            raise ValueError("`output_range` applies to regression only.")
        return keras.layers.Activation("sigmoid", name="prediction")(logit)
    if output_range is None:
        return keras.layers.Identity(name="prediction")(logit)
    low, high = output_range
    return OutputRange(low, high, name="prediction")(logit)


@register
def log_loss(y_true: Any, y_pred: Any) -> Any:
    """Binary log loss per example; labels `(batch,)` or `(batch, 1)` alike."""
    y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), ops.shape(y_pred))
    return keras.losses.binary_crossentropy(y_true, y_pred)


def task_loss(task: str) -> Any:
    check_task(task)
    if task == "binary":
        return keras.losses.BinaryCrossentropy(name="logloss")
    return keras.losses.MeanSquaredError(name="mse")


def task_metrics(task: str) -> list[Any]:
    """Binary: AUC and log loss. Regression: RMSE."""
    check_task(task)
    if task == "binary":
        return [
            keras.metrics.AUC(num_thresholds=2000, name="auc"),
            keras.metrics.MeanMetricWrapper(log_loss, name="logloss"),
        ]
    return [keras.metrics.RootMeanSquaredError(name="rmse")]


def compile_for_task(
    model: keras.Model, task: str, optimizer: Any = None, **kwargs: Any
) -> keras.Model:
    """Compiles ``model`` with the task's loss and metrics; returns it.

    Args:
        model: the model.
        task: `"binary"` or `"regression"`.
        optimizer: Defaults to `keras_fm.optimizers.LazyAdam` with learning
            rate 1e-3: Adam whose embedding rows move only when a batch uses
            them, so that a step costs the batch's rows rather than the
            tables' (stock Adam updates every row at every step).
        **kwargs: other `model.compile` arguments. ``jit_compile`` defaults
            to `False`: XLA turns the row-sparse embedding gradients into
            dense ones, which is slower for these models (see
            ``examples/benchmarks/throughput.py``).
    """
    from keras_fm.optimizers import LazyAdam

    kwargs.setdefault("jit_compile", False)
    model.compile(
        optimizer=LazyAdam(1e-3) if optimizer is None else optimizer,
        loss=task_loss(task),
        metrics=task_metrics(task),
        **kwargs,
    )
    return model
