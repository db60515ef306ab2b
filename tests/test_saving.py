import zipfile

import keras
import numpy as np
import pytest

from keras_fm.features import IdFeature
from keras_fm.models import build_deepfm, compile_for_task
from keras_fm.saving import save_model


def trained_model():
    keras.utils.set_random_seed(0)
    features = [IdFeature("user", 30), IdFeature("item", 20)]
    model = build_deepfm(features, embedding_dim=4, dnn_units=(8,))
    compile_for_task(model, "binary")
    rng = np.random.default_rng(0)
    x = {"user": rng.integers(0, 30, 256), "item": rng.integers(0, 20, 256)}
    model.fit(x, rng.integers(0, 2, 256), epochs=1, batch_size=64, verbose=0)
    return model, x


def test_the_archive_is_keras_own(tmp_path):
    """Same members in the same order as `model.save`, loaded with the same
    weights, optimizer state and predictions; nothing else left behind."""
    model, x = trained_model()
    save_model(model, tmp_path / "streamed.keras")
    model.save(tmp_path / "keras.keras")
    names = [
        [i.filename for i in zipfile.ZipFile(tmp_path / f).infolist()]
        for f in ("streamed.keras", "keras.keras")
    ]
    assert names[0] == names[1]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["keras.keras", "streamed.keras"]
    loaded = keras.saving.load_model(tmp_path / "streamed.keras")
    for a, b in zip(
        [*loaded.weights, *loaded.optimizer.variables],
        [*model.weights, *model.optimizer.variables],
        strict=True,
    ):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
        )
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )


def test_a_failed_save_keeps_the_previous_archive(tmp_path, monkeypatch):
    """A save that fails part way (here: the disk fills after the config)
    leaves the earlier archive whole and no partial files."""
    model, _ = trained_model()
    path = tmp_path / "model.keras"
    save_model(model, path)
    before = path.read_bytes()

    def full_disk(model, folder, zipped):
        folder.mkdir()
        (folder / "config.json").write_text("{}")
        raise OSError("No space left on device")

    monkeypatch.setattr(keras.saving, "save_model", full_disk)
    with pytest.raises(OSError, match="No space left"):
        save_model(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_the_name_must_end_in_keras(tmp_path):
    model, _ = trained_model()
    with pytest.raises(ValueError, match=r"must end in \.keras"):
        save_model(model, tmp_path / "model.h5")
