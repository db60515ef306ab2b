import csv
import os

import keras
import numpy as np
import pytest

from keras_fm.datasets import make_fm_data
from keras_fm.features import IdFeature
from keras_fm.models import build_fm, compile_for_task
from keras_fm.training import (
    BestCheckpoint,
    RestoreFrom,
    StopOnNonFiniteLoss,
    training_callbacks,
)


def small_problem(seed=0):
    data = make_fm_data(4000, vocabulary_sizes=(6, 5, 7), rank=2, seed=seed)
    train, valid = data.split(0.8)
    features = [
        IdFeature(n, v)
        for n, v in zip(data.field_names, data.vocabulary_sizes, strict=True)
    ]
    return features, train, valid


def fresh_model(features):
    model = build_fm(features, embedding_dim=2)
    return compile_for_task(model, "binary", keras.optimizers.Adam(0.05))


def test_callbacks_are_keras_own_and_configured(tmp_path):
    callbacks = training_callbacks(
        tmp_path, monitor="val_logloss", mode="min", patience=3
    )
    kinds = {type(c): c for c in callbacks}
    early = kinds[keras.callbacks.EarlyStopping]
    assert early.monitor == "val_logloss" and early.patience == 3
    # The best weights are kept on disk by the checkpoint, not in memory.
    assert not early.restore_best_weights
    assert kinds[keras.callbacks.ReduceLROnPlateau].factor == pytest.approx(0.1)
    best = kinds[BestCheckpoint]
    assert best.filepath == str(tmp_path / "best.weights.h5")
    assert (best.monitor, best.mode) == ("val_logloss", "min")
    assert best.backup == str(tmp_path / "backup" / "latest.weights.h5")
    assert callbacks.index(best) == callbacks.index(kinds[RestoreFrom]) + 1
    assert {type(c) for c in training_callbacks()} == {
        StopOnNonFiniteLoss, keras.callbacks.EarlyStopping,
        keras.callbacks.ReduceLROnPlateau,
    }  # fmt: skip
    assert {type(c): c for c in training_callbacks()}[
        keras.callbacks.EarlyStopping
    ].restore_best_weights  # no folder: in memory
    backup = kinds[RestoreFrom]
    assert isinstance(backup, keras.callbacks.BackupAndRestore)
    assert backup.backup_dir == backup.restore_dir == str(tmp_path / "backup")
    worker = training_callbacks(tmp_path / "mine", restore_from=tmp_path / "chief")
    backup = {type(c): c for c in worker}[RestoreFrom]
    assert backup.backup_dir == str(tmp_path / "mine" / "backup")
    assert backup.restore_dir == str(tmp_path / "chief" / "backup")
    assert len(training_callbacks()) == 3  # StopOnNonFiniteLoss first


def test_restore_from_resumes_another_folders_backup_and_writes_its_own(tmp_path):
    """A multi-worker run's other workers resume the chief's backup and back
    up into their own folder, which they delete when training ends."""
    features, train, _ = small_problem()
    x, y = train.features(), train.labels
    chief = fresh_model(features)
    keeper = keras.callbacks.BackupAndRestore(
        str(tmp_path / "chief"), delete_checkpoint=False
    )
    chief.fit(x, y, epochs=1, batch_size=256, verbose=0, callbacks=[keeper])
    worker = fresh_model(features)
    restore = RestoreFrom(str(tmp_path / "mine"), str(tmp_path / "chief"))
    seen = []
    probe = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append(
            [w.copy() for w in worker.get_weights()]
        )
    )
    history = worker.fit(
        x, y, epochs=2, batch_size=256, verbose=0, callbacks=[restore, probe]
    )
    assert len(history.history["loss"]) == 1  # epoch 2 only
    for restored, saved in zip(seen[0], chief.get_weights(), strict=True):
        np.testing.assert_array_equal(restored, saved)
    assert (tmp_path / "chief" / "latest.weights.h5").exists()
    assert not (tmp_path / "mine").exists()  # written, then deleted at the end


@pytest.mark.parametrize("mode,sign", [("max", 1.0), ("min", -1.0)])
def test_slow_progress_keeps_the_learning_rate(mode, sign):
    """Gains of 5e-5 per epoch are progress: no decay, no stop; a gain under
    min_delta (1e-6) is a plateau: the rate is divided by 10."""
    model = fresh_model(small_problem()[0])
    callbacks = training_callbacks(monitor="val_auc", mode=mode, patience=2)
    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin()
    values = [0.9, 0.90005, 0.9001, 0.90015, 0.9001505]
    for epoch, value in enumerate(values):
        for callback in callbacks:
            callback.on_epoch_end(epoch, {"val_auc": sign * value})
        rate = float(model.optimizer.learning_rate)
        assert rate == pytest.approx(0.05 if epoch < 4 else 0.005), epoch
    assert not model.stop_training


def test_checkpoint_restores_the_best_epoch(tmp_path):
    """Weights changed between epochs; the second of four is the best: its
    weights and optimizer state come back at the end, and the file goes."""
    model = fresh_model(small_problem()[0])
    model.optimizer.build(model.trainable_variables)
    path = tmp_path / "best.weights.h5"
    checkpoint = BestCheckpoint(str(path), monitor="val_auc", mode="max")
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    state = [*model.weights, *model.optimizer.variables]
    seen = []
    for epoch, auc in enumerate([0.7, 0.8, 0.75, 0.79]):
        for variable in state:
            variable.assign(variable + 1.0)
        seen.append([keras.ops.convert_to_numpy(v) for v in state])
        checkpoint.on_epoch_end(epoch, {"val_auc": auc})
        assert path.exists()
    assert checkpoint.best_epoch == 1
    checkpoint.on_train_end()
    now = [keras.ops.convert_to_numpy(v) for v in state]
    for restored, saved in zip(now, seen[1], strict=True):
        np.testing.assert_array_equal(restored, saved)
    assert not path.exists()


def test_checkpoint_keeps_the_last_epoch_when_it_is_best(tmp_path):
    model = fresh_model(small_problem()[0])
    path = tmp_path / "best.weights.h5"
    checkpoint = BestCheckpoint(str(path), monitor="val_loss", mode="min")
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    for epoch, loss in enumerate([0.5, 0.4]):
        checkpoint.on_epoch_end(epoch, {"val_loss": loss})
    model.weights[0].assign(model.weights[0] + 1.0)  # not read back
    kept = keras.ops.convert_to_numpy(model.weights[0])
    checkpoint.on_train_end()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.weights[0]), kept)
    assert not path.exists()


class LinkProbe(keras.callbacks.Callback):
    """Whether the best weights are this epoch's backup file, each epoch."""

    def __init__(self, best, backup):
        super().__init__()
        self.best, self.backup, self.linked = best, backup, []

    def on_epoch_end(self, epoch, logs=None):
        latest = self.backup / "latest.weights.h5"
        self.linked.append(os.path.samefile(self.best, latest))


def test_fit_ends_on_the_best_epoch(tmp_path):
    keras.utils.set_random_seed(0)
    features, train, valid = small_problem()
    model = fresh_model(features)
    model.optimizer.learning_rate = 0.5  # overshoots: later epochs get worse
    probe = LinkProbe(tmp_path / "best.weights.h5", tmp_path / "backup")
    history = model.fit(
        train.features(),
        train.labels,
        validation_data=(valid.features(), valid.labels),
        epochs=4,
        batch_size=256,
        callbacks=[
            *training_callbacks(tmp_path, reduce_lr_factor=None, patience=10),
            probe,
        ],
        verbose=0,
    )
    aucs = history.history["val_auc"]
    # A better epoch's weights are its backup, linked; a worse one's are not.
    better = [a > max(aucs[:i], default=-1.0) for i, a in enumerate(aucs)]
    assert probe.linked == better and not all(better), (aucs, probe.linked)
    assert np.argmax(aucs) < len(aucs) - 1, aucs  # a later epoch was worse
    scores = model.evaluate(valid.features(), valid.labels, verbose=0, return_dict=True)
    assert scores["auc"] == pytest.approx(max(aucs), abs=1e-6)
    assert not (tmp_path / "best.weights.h5").exists()
    assert not (tmp_path / "model.keras").exists()  # the caller saves the model


class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("simulated crash after epoch 2")


def test_resumes_after_an_interruption(tmp_path):
    keras.utils.set_random_seed(0)
    features, train, valid = small_problem()
    kwargs = {
        "validation_data": (valid.features(), valid.labels),
        "epochs": 4,
        "batch_size": 256,
        "verbose": 0,
    }
    callbacks = training_callbacks(tmp_path, patience=10)
    model = fresh_model(features)
    with pytest.raises(KeyboardInterrupt):
        model.fit(
            train.features(),
            train.labels,
            callbacks=[*callbacks, Interrupt()],
            **kwargs,
        )
    restarted = fresh_model(features)
    history = restarted.fit(
        train.features(),
        train.labels,
        callbacks=training_callbacks(tmp_path, patience=10),
        **kwargs,
    )
    assert len(history.history["loss"]) == 2  # epochs 3 and 4 only
    # history.csv holds the two epochs before the crash and the two after.
    epochs = history_epochs(tmp_path)
    assert epochs == ["0", "1", "2", "3"]
    # A run that does not resume starts the history and the logs afresh.
    assert not (tmp_path / "backup").exists()
    fresh_model(features).fit(
        train.features(),
        train.labels,
        callbacks=training_callbacks(tmp_path, patience=10),
        **{**kwargs, "epochs": 1},
    )
    assert history_epochs(tmp_path) == ["0"]
    assert len(list((tmp_path / "logs" / "train").iterdir())) == 1


def history_epochs(folder):
    with open(folder / "history.csv", newline="") as handle:
        return [row["epoch"] for row in csv.DictReader(handle)]


def test_same_seed_same_model():
    features, train, _ = small_problem()
    predictions = []
    for _ in range(2):
        keras.utils.set_random_seed(7)
        model = fresh_model(features)
        model.fit(train.features(), train.labels, epochs=1, batch_size=256, verbose=0)
        predictions.append(model.predict(train.features(), verbose=0))
    np.testing.assert_array_equal(predictions[0], predictions[1])


def test_sample_and_class_weights_change_training():
    features, train, _ = small_problem()
    results = []
    for kwargs in (
        {},
        {"class_weight": {0: 1.0, 1: 5.0}},
        {"sample_weight": np.linspace(0, 2, len(train)).astype("float32")},
    ):
        keras.utils.set_random_seed(3)
        model = fresh_model(features)
        model.fit(
            train.features(),
            train.labels,
            epochs=1,
            batch_size=256,
            verbose=0,
            **kwargs,
        )
        results.append(model.predict(train.features(), verbose=0).mean())
    assert results[1] > results[0]  # up-weighting clicks raises the predicted rate
    assert abs(results[2] - results[0]) > 1e-4


def test_bad_mode():
    with pytest.raises(ValueError, match="`mode` must be one of"):
        training_callbacks(mode="up")
