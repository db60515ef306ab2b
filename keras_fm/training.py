"""The Keras callbacks of a careful training run, in one call."""

import os

import keras

MODES = ("max", "min")


def training_callbacks(
    model_dir: str | os.PathLike | None = None,
    monitor: str = "val_auc",
    mode: str = "max",
    patience: int = 2,
    reduce_lr_factor: float | None = 0.1,
    resume: bool = True,
    min_delta: float = 1e-6,
) -> list[keras.callbacks.Callback]:
    """Early stopping, learning-rate decay, checkpoints and resumption.

    All of it is Keras's own machinery:

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
    - with ``model_dir``: `keras.callbacks.ModelCheckpoint` writing the best
      model to ``model_dir/model.keras``, and (``resume=True``)
      `keras.callbacks.BackupAndRestore` in ``model_dir/backup`` so that a run
      interrupted mid-training resumes from its last finished epoch when
      started again with the same ``model_dir``.

    Args:
        model_dir: Optional folder for the checkpoint and the backup.
        monitor: the validation metric to watch. Defaults to `"val_auc"`.
        mode: `"max"` or `"min"`. Defaults to `"max"`.
        patience: epochs without improvement before stopping. Defaults to 2.
        reduce_lr_factor: learning-rate factor on a plateau, or None.
        resume: whether to back up and resume with ``model_dir``.
        min_delta: the least change of ``monitor`` that counts as progress.
            Defaults to `1e-6`.

    Returns:
        A list of callbacks for `model.fit`.
    """
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(
            monitor=monitor,
            mode=mode,
            patience=patience,
            min_delta=min_delta,
            restore_best_weights=True,
        )
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
        callbacks.append(
            keras.callbacks.ModelCheckpoint(
                os.path.join(model_dir, "model.keras"),
                monitor=monitor,
                mode=mode,
                save_best_only=True,
            )
        )
        if resume:
            callbacks.append(
                keras.callbacks.BackupAndRestore(os.path.join(model_dir, "backup"))
            )
    return callbacks
