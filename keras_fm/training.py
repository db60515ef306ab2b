"""The Keras callbacks of a careful training run, in one call."""

import math
import os
import shutil
import time
from typing import Any

import keras

from keras_fm.checkpoints import BestCheckpoint, RestoreFrom

MODES = ("max", "min")
BEST_WEIGHTS_FILE = "best.weights.h5"
HISTORY_FILE = "history.csv"
LOGS_FOLDER = "logs"


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Fails training with `NonFiniteLossError` when the loss is NaN or inf.

    Keras's own `keras.callbacks.TerminateOnNaN` ends ``fit`` quietly, as if
    training had finished, and leaves NaN weights to be saved and served;
    this raises instead, naming the epoch and batch and the likely causes.
    """

    def __init__(self) -> None:
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(
        self, batch: int, logs: dict[str, Any] | None = None
    ) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLossError(
                f"the training loss became {float(loss)} in epoch {self.epoch + 1} "
                f"(batch {batch + 1}); the learning rate may be too high, or the "
                "data may hold extreme values"
            )


def epoch_steps(
    rows: int, batch_size: int, steps_per_execution: int = 1
) -> tuple[int, int]:
    """Steps per epoch and steps per call for ``fit`` on a stream of full
    batches (`keras_fm.data.DataFormat.read_stream`).

    An epoch takes ``ceil(rows / batch_size)`` steps: as many rows as one
    pass, and a batch at most beyond. The stream goes through the passes in
    order (its shuffle mixes each pass's last rows with the next one's
    first), and epochs cut it about at the passes' ends. Keras runs an
    epoch in whole calls of ``steps_per_execution`` steps, so the steps per
    call are chosen between half ``steps_per_execution`` and
    all of it to add the fewest steps to the epoch (none when one of them
    divides it; at most a few otherwise: 197 steps become 198 in calls of
    22).

    Args:
        rows: the rows of one pass over the training data.
        batch_size: rows per step.
        steps_per_execution: the most steps per call.

    Returns:
        ``(steps_per_epoch, steps_per_execution)``.

    Example:
    >>> epoch_steps(202_027, 1024, 32)
    (198, 22)
    """
    if rows < 1 or batch_size < 1 or steps_per_execution < 1:
        raise ValueError(
            "rows, batch_size and steps_per_execution must be positive; got "
            f"{rows}, {batch_size}, {steps_per_execution}"
        )
    steps = -(-rows // batch_size)
    if steps <= steps_per_execution:
        return steps, steps
    groups = range(steps_per_execution, steps_per_execution // 2, -1)
    group = min(groups, key=lambda g: -(-steps // g) * g)  # the largest on ties
    return -(-steps // group) * group, group


class EpochLog(keras.callbacks.Callback):
    """One line per epoch: the true number of steps (optimizer updates, also
    with several steps per call), the time, every logged metric and the
    learning rate.

    Args:
        epochs: int. The epochs ``fit`` runs at most.
        print_fn: Optional callable taking a line. Defaults to `print`.
    """

    def __init__(self, epochs: int, print_fn: Any = print) -> None:
        super().__init__()
        self.epochs = epochs
        self.print_fn = print_fn
        self.start, self.steps = 0.0, 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.start = time.perf_counter()
        self.steps = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        seconds = time.perf_counter() - self.start
        steps = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        steps -= self.steps
        values = " ".join(
            f"{name} {float(value):.4g}"
            for name, value in (logs or {}).items()
            if name != "learning_rate"
        )
        rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        # No time-left estimate: early stopping ends most runs long before
        # `epochs`, a bound (100 in the CLI), so one would mislead.
        self.print_fn(
            f"epoch {epoch + 1}/{self.epochs}: {steps} steps, {seconds:.1f} s, "
            f"{values}, learning rate {rate:.3g}"
        )


def training_callbacks(
    model_dir: str | os.PathLike | None = None,
    monitor: str = "val_auc",
    mode: str = "max",
    patience: int = 2,
    reduce_lr_factor: float | None = 0.1,
    resume: bool = True,
    min_delta: float = 1e-6,
    restore_from: str | os.PathLike | None = None,
) -> list[keras.callbacks.Callback]:
    """Early stopping, learning-rate decay, checkpoints and resumption.

    All of it is Keras's own machinery, and `StopOnNonFiniteLoss`:

    - `keras.callbacks.EarlyStopping` on ``monitor`` with the best weights
      restored at the end;
    - `keras.callbacks.ReduceLROnPlateau` dividing the learning rate by
      ``1 / reduce_lr_factor`` when ``monitor`` stalls for one epoch (the
      BARS / FuxiCTR schedule), unless ``reduce_lr_factor`` is None;
    - both with one notion of progress: an epoch improves on the best one by
      more than ``min_delta`` (FuxiCTR's 1e-6). Keras's own default for the
      learning-rate callback, 1e-4, cuts the rate of a model that is still
      learning slowly (FM on frappe gains ~1e-4 AUC per epoch for tens of
      epochs) and freezes it far from its optimum;
    - with ``model_dir``: `BestCheckpoint` writing the weights of each epoch
      that improves on ``monitor`` to ``model_dir/best.weights.h5`` and
      restoring the best at the end instead of early stopping keeping a
      copy in memory (at 1e7 ids, 1.6 GB more in the process and 1.5 s an
      epoch); (``resume=True``) `RestoreFrom`, Keras's `BackupAndRestore`,
      in ``model_dir/backup`` so that a run interrupted mid-training resumes
      from its last finished epoch when started again with the same
      ``model_dir`` (the best epoch's file is then a link to that epoch's
      backup, not a second copy); and `run_logs`: the
      epochs' metrics in ``model_dir/history.csv`` and TensorBoard logs in
      ``model_dir/logs``.

    Args:
        model_dir: Optional folder for the checkpoint and the backup.
        monitor: the validation metric to watch. Defaults to `"val_auc"`.
        mode: `"max"` or `"min"`. Defaults to `"max"`.
        patience: epochs without improvement before stopping. Defaults to 2.
        reduce_lr_factor: learning-rate factor on a plateau, or None.
        resume: whether to back up and resume with ``model_dir``.
        min_delta: the least change of ``monitor`` that counts as progress.
            Defaults to `1e-6`.
        restore_from: Optional folder whose backup a resumed run restores
            (with ``model_dir`` and ``resume``): a multi-worker run's other
            workers write into folders of their own and restore the chief's
            (`RestoreFrom`). Defaults to ``model_dir``.

    Returns:
        A list of callbacks for `model.fit`.
    """
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
    callbacks: list[keras.callbacks.Callback] = [
        StopOnNonFiniteLoss(),
        keras.callbacks.EarlyStopping(
            monitor=monitor,
            mode=mode,
            patience=patience,
            min_delta=min_delta,
            restore_best_weights=model_dir is None,
        ),
    ]
    if reduce_lr_factor is not None:
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor,
                mode=mode,
                factor=reduce_lr_factor,
                patience=1,
                min_delta=min_delta,
                min_lr=1e-6,
            )
        )
    if model_dir is not None:
        model_dir = os.fspath(model_dir)
        os.makedirs(model_dir, exist_ok=True)
        restore_dir = os.path.join(os.fspath(restore_from or model_dir), "backup")
        backup = None
        if resume:
            backup = RestoreFrom(os.path.join(model_dir, "backup"), restore_dir)
            callbacks.append(backup)
        best = os.path.join(model_dir, BEST_WEIGHTS_FILE)
        callbacks.append(
            BestCheckpoint(
                best, monitor, mode, backup=backup.weights_file if backup else None
            )
        )
        callbacks += run_logs(model_dir, resume and os.path.isdir(restore_dir))
    return callbacks


def run_logs(model_dir: str, resuming: bool = False) -> list[keras.callbacks.Callback]:
    """`keras.callbacks.CSVLogger` (``history.csv``) and
    `keras.callbacks.TensorBoard` (``logs/``, per epoch, no graph or
    profile): after the learning-rate callback, so both record its rate.

    A run that resumes from a backup appends to both; any other run starts
    them afresh (an earlier run's history in the folder is replaced, as its
    model is)."""
    logs = os.path.join(model_dir, LOGS_FOLDER)
    if not resuming:
        shutil.rmtree(logs, ignore_errors=True)
    history = os.path.join(model_dir, HISTORY_FILE)
    return [
        keras.callbacks.CSVLogger(history, append=resuming),
        keras.callbacks.TensorBoard(
            logs,
            write_graph=False,
            profile_batch=0,
            update_freq="epoch",
        ),
    ]
