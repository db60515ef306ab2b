import zipfile

import h5py
import keras
import numpy as np
import pytest

from keras_fm import saving
from keras_fm.features import IdFeature
from keras_fm.layers.tables import TableLoading
from keras_fm.models import build_deepfm, compile_for_task
from keras_fm.optimizers import LazyAdam
from keras_fm.saving import load_weights, save_model, save_weights


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

    def full_disk(model, folder):
        folder.mkdir()
        (folder / "config.json").write_text("{}")
        raise OSError("No space left on device")

    monkeypatch.setattr(saving, "_write_folder", full_disk)
    with pytest.raises(OSError, match="No space left"):
        save_model(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_the_name_must_end_in_keras(tmp_path):
    model, _ = trained_model()
    with pytest.raises(ValueError, match=r"must end in \.keras"):
        save_model(model, tmp_path / "model.h5")


def datasets(path):
    """{name: array} of every dataset of an HDF5 file."""
    found = {}

    def keep(name, item):
        if isinstance(item, h5py.Dataset):
            found[name] = item[()]

    with h5py.File(path, "r") as handle:
        handle.visititems(keep)
    return found


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 40 bytes: the test model's tables (and their slots) are
    written in several blocks, the last one short."""
    monkeypatch.setattr(saving, "BLOCK_BYTES", 40)


def lazy_model():
    model, x = trained_model()
    model.compile(optimizer=LazyAdam(1e-2), loss="binary_crossentropy")
    rng = np.random.default_rng(1)
    model.fit(x, rng.integers(0, 2, 256), epochs=1, batch_size=64, verbose=0)
    return model


@pytest.mark.parametrize("make", [trained_model, lazy_model], ids=["adam", "lazy"])
def test_save_weights_writes_keras_own_file(tmp_path, small_blocks, make):
    """The same datasets, names, dtypes and values as `model.save_weights`,
    with the tables (and, with LazyAdam, their slots) written by blocks."""
    made = make()
    model = made[0] if isinstance(made, tuple) else made
    written = []
    original = saving._BlockStore.__setitem__

    def spy(store, key, value):
        written.append(saving._large_table(value) is not None)
        original(store, key, value)

    saving._BlockStore.__setitem__ = spy
    try:
        save_weights(model, tmp_path / "blocks.weights.h5")
    finally:
        saving._BlockStore.__setitem__ = original
    model.save_weights(tmp_path / "keras.weights.h5")
    ours, theirs = (
        datasets(tmp_path / f"{name}.weights.h5") for name in ("blocks", "keras")
    )
    assert sorted(ours) == sorted(theirs)
    for name, value in theirs.items():
        assert ours[name].dtype == value.dtype, name
        np.testing.assert_array_equal(ours[name], value, err_msg=name)
    # Stock Adam hands Keras's store NumPy copies of its slots; LazyAdam its
    # variables, which are written by blocks as the model's are.
    variables = [*model.weights]
    if isinstance(model.optimizer, LazyAdam):
        variables += model.optimizer.variables
    large = [v for v in variables if len(v.shape) >= 1 and np.prod(v.shape) * 4 >= 40]
    assert sum(written) == len(large) > 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "blocks.weights.h5",
        "keras.weights.h5",
    ]


def test_save_weights_round_trips_weights_and_optimizer(tmp_path, small_blocks):
    model = lazy_model()
    variables = [*model.weights, *model.optimizer.variables]
    saved = [keras.ops.convert_to_numpy(v) for v in variables]
    save_weights(model, tmp_path / "run.weights.h5")
    for variable in variables:
        variable.assign(keras.ops.zeros_like(variable))
    model.load_weights(tmp_path / "run.weights.h5")
    for variable, value in zip(variables, saved, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), value)


def test_a_failed_save_weights_keeps_the_previous_file(tmp_path, monkeypatch):
    model, _ = trained_model()
    path = tmp_path / "run.weights.h5"
    save_weights(model, path)
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(saving, "_save_state", full_disk)
    with pytest.raises(OSError, match="No space left"):
        save_weights(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.weights.h5"]


def test_save_weights_name_must_end_in_weights_h5(tmp_path):
    model, _ = trained_model()
    with pytest.raises(ValueError, match=r"must end in \.weights\.h5"):
        save_weights(model, tmp_path / "run.h5")


def large(variables):
    return [v for v in variables if len(v.shape) >= 1 and np.prod(v.shape) * 4 >= 40]


def test_load_weights_reads_tables_and_slots_by_blocks(
    tmp_path, small_blocks, monkeypatch
):
    """A file Keras wrote, loaded by blocks into the tables and LazyAdam's
    slots (other layers convert it whole): every variable back exactly."""
    model = lazy_model()
    variables = [*model.weights, *model.optimizer.variables]
    saved = [keras.ops.convert_to_numpy(v) for v in variables]
    model.save_weights(tmp_path / "keras.weights.h5")
    for variable in variables:
        variable.assign(keras.ops.zeros_like(variable))
    by_blocks = []
    original = saving.StoredRows.blocks

    def spy(stored):
        by_blocks.append(stored.dataset.name)
        return original(stored)

    monkeypatch.setattr(saving.StoredRows, "blocks", spy)
    load_weights(model, tmp_path / "keras.weights.h5")
    for variable, value in zip(variables, saved, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), value)
    tables = [
        v
        for layer in model.layers
        if isinstance(layer, TableLoading)
        for v in large(layer.weights)
    ]
    assert len(by_blocks) == len(tables) + len(large(model.optimizer.variables))
    assert len(tables) >= 2


def test_load_weights_names_a_mismatched_table(tmp_path, small_blocks):
    model, _ = trained_model()
    save_weights(model, tmp_path / "run.weights.h5")
    keras.utils.set_random_seed(0)
    other = build_deepfm(
        [IdFeature("user", 4_000_000), IdFeature("item", 20)],
        embedding_dim=4,
        dnn_units=(8,),
    )
    with pytest.raises(ValueError, match=r"stored array /layers/.* has shape \(52,\)"):
        load_weights(other, tmp_path / "run.weights.h5")
