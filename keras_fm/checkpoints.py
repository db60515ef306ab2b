"""Checkpoints of a training run: its backup, and its best epoch's weights."""

import json
import math
import os
import time
from typing import Any

import keras
from keras.src.utils import file_utils

from keras_fm.saving import load_weights, save_weights

# The file `keras.callbacks.BackupAndRestore` writes the weights into.
BACKUP_WEIGHTS_FILE = "latest.weights.h5"


class RestoreFrom(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` that may restore another folder's
    backup than it writes, and writes each backup as a new file.

    A multi-worker run restarts from the chief's backup on every worker (all
    must resume from the same epoch), while the other workers write theirs
    into folders of their own (`keras_fm.distribute.worker_folder`).
    Keras rewrites the backup's weights file in place; here each backup is
    a new file (`keras_fm.saving.save_weights`: large tables by blocks of
    rows, into a temporary file renamed when complete), so that a link to
    the previous one (`BestCheckpoint`'s) keeps its content and a crash
    while writing leaves the previous backup whole.

    Args:
        backup_dir: the folder this process backs up into after each epoch.
        restore_dir: the folder restored from when training starts.
            Defaults to ``backup_dir``.
    """

    def __init__(self, backup_dir: str, restore_dir: str | None = None) -> None:
        super().__init__(backup_dir)
        self.restore_dir = restore_dir or backup_dir
        self.weights_file = os.path.join(backup_dir, BACKUP_WEIGHTS_FILE)
        self._source = _Restore(self.restore_dir, delete_checkpoint=False)

    def set_model(self, model: keras.Model) -> None:
        super().set_model(model)
        self._source.set_model(model)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._source.on_train_begin(logs)

    def _save_model(self) -> None:
        if file_utils.is_remote_path(self.backup_dir):
            super()._save_model()
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        save_weights(self.model, self.weights_file)
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        partial = f"{self._training_metadata_path}.partial"
        with open(partial, "w") as handle:
            json.dump(metadata, handle)
        os.replace(partial, self._training_metadata_path)


class _Restore(keras.callbacks.BackupAndRestore):
    """Keras's restore from a backup, reading large tables by blocks of rows
    (`keras_fm.saving.load_weights`)."""

    def _load_model(self) -> None:
        if file_utils.is_remote_path(self.backup_dir) or not self.model.built:
            super()._load_model()  # Keras's, and its error for an unbuilt model
            return
        if os.path.exists(self._weights_path):
            optimizer = self.model.optimizer
            if optimizer is not None and not optimizer.built:
                optimizer.build(self.model.trainable_variables)
            load_weights(self.model, self._weights_path)
        if os.path.exists(self._training_metadata_path):
            with open(self._training_metadata_path) as handle:
                self.model._initial_epoch = json.load(handle)["epoch"]


class BestCheckpoint(keras.callbacks.Callback):
    """The weights of the best epoch on disk, restored when training ends.

    `keras.callbacks.EarlyStopping` with ``restore_best_weights`` copies every
    weight into memory at each better epoch, and a `.keras` checkpoint is
    built in memory before it is written (`keras_fm.saving`): with tables of
    1e7 ids, 1.6 and 2.4 GB more in the process. This writes the weights,
    with the optimizer's state, of each epoch that improves on ``monitor``
    to ``filepath`` (`keras_fm.saving.save_weights`: large tables by blocks
    of rows, into a temporary file renamed when complete); when training
    ends it loads them back if a later epoch was worse, and deletes the
    file. Epochs without a finite ``monitor`` in the logs are not compared.

    With ``backup``, the weights file a `RestoreFrom` placed before this
    callback writes at each epoch's end, a better epoch's weights are that
    file, linked rather than written again (at 1e7 ids, 2 GB an epoch less
    to write); where it cannot be linked, or was not written in this epoch,
    they are written.

    Args:
        filepath: the weights file, ending in `.weights.h5`.
        monitor: the metric to watch. Defaults to `"val_auc"`.
        mode: `"max"` or `"min"`. Defaults to `"max"`.
        backup: Optional path of a weights file written at each epoch's end.

    Example:

    >>> checkpoint = BestCheckpoint("/tmp/run/best.weights.h5", monitor="val_loss",
    ...                             mode="min")
    >>> checkpoint.best_epoch is None
    True
    """

    def __init__(
        self,
        filepath: str,
        monitor: str = "val_auc",
        mode: str = "max",
        backup: str | None = None,
    ) -> None:
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"`mode` must be 'max' or 'min'. Received: mode={mode!r}")
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.mode = mode
        self.backup = backup
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.last_epoch: int | None = None
        self._epoch_start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch_start = time.time()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.last_epoch = epoch
        value = (logs or {}).get(self.monitor)
        if value is None or not self._improves(float(value)):
            return
        self.best, self.best_epoch = float(value), epoch
        if not self._link_backup():
            save_weights(self.model, self.filepath)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if not os.path.exists(self.filepath):
            return
        if self.best_epoch is not None and self.best_epoch != self.last_epoch:
            load_weights(self.model, self.filepath)
        os.remove(self.filepath)

    def _improves(self, value: float) -> bool:
        """Whether a finite ``value`` is better than the best so far."""
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def _link_backup(self) -> bool:
        """Links the backup written in this epoch as ``filepath``; whether it
        did."""
        if self.backup is None or not os.path.exists(self.backup):
            return False
        if os.path.getmtime(self.backup) < self._epoch_start:
            return False
        folder, name = os.path.split(self.filepath)
        partial = os.path.join(folder, f".partial.{name}")
        try:
            if os.path.exists(partial):
                os.remove(partial)
            os.link(self.backup, partial)
        except OSError:
            return False
        os.replace(partial, self.filepath)
        return True
