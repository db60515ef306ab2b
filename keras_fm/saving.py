"""A model's files with its weights streamed to and from disk: a `.keras`
archive, and `.weights.h5` files whose large tables are written and read a
block of rows at a time."""

import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras.src.saving import saving_lib

from keras_fm.sparse_read import gather_rows

# Variables of at least this many bytes are written this many bytes of rows
# at a time.
BLOCK_BYTES = 16 << 20


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """`model.save(path)` for a `.keras` path, without the archive in memory.

    Keras builds a `.keras` archive's weights file in memory before copying
    it into the zip: for a model with tables of 1e7 ids and their Adam
    slots, 2 GB more in the process for as long as the save runs. Here the
    files of Keras's unzipped save (``zipped=False``) are written into a
    folder beside ``path``, the weights straight to disk and large tables a
    block of rows at a time (as `save_weights` writes them), and the same
    members are stored into the zip a chunk at a time, as Keras stores them
    (uncompressed); the archive replaces ``path`` only when complete, and
    `keras.saving.load_model` reads it as any `.keras` file.

    Args:
        model: a built Keras model.
        path: the archive to write, ending in `.keras`.

    Example:

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> folder = tempfile.mkdtemp()
    >>> save_model(model, os.path.join(folder, "model.keras"))
    >>> keras.saving.load_model(os.path.join(folder, "model.keras")).count_params()
    3
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"the archive's name must end in .keras, got {path}")
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as tmp:
        unzipped = Path(tmp) / "model"
        _write_folder(model, unzipped)
        partial = Path(tmp) / path.name
        with zipfile.ZipFile(partial, "w") as archive:
            for member in sorted(unzipped.rglob("*"), key=_archive_order):
                if member.is_file():
                    archive.write(member, member.relative_to(unzipped).as_posix())
        os.replace(partial, path)


def _write_folder(model: keras.Model, folder: Path) -> None:
    """The files `keras.saving.save_model(model, folder, zipped=False)`
    writes, the weights through `_BlockStore`."""
    folder.mkdir()
    config_json, metadata_json = saving_lib._serialize_model_as_json(model)
    (folder / saving_lib._METADATA_FILENAME).write_text(metadata_json)
    (folder / saving_lib._CONFIG_FILENAME).write_text(config_json)
    weights = _BlockStore(folder / saving_lib._VARS_FNAME_H5, mode="w")
    assets = saving_lib.DiskIOStore(folder / saving_lib._ASSETS_DIRNAME, mode="w")
    try:
        _save_state(model, weights, assets)
    finally:
        weights.close()
        assets.close()


def _save_state(model: keras.Model, weights: Any, assets: Any = None) -> None:
    """Keras's walk of the model's objects, each saving into the stores."""
    saving_lib._save_state(
        model,
        weights_store=weights,
        assets_store=assets,
        inner_path="",
        visited_saveables=set(),
    )


def _archive_order(member: Path) -> tuple[int, str]:
    """Keras's order of an archive's members: metadata, config, the rest."""
    first = ("metadata.json", "config.json")
    return (first.index(member.name) if member.name in first else 2, str(member))


def save_weights(model: keras.Model, path: str | os.PathLike) -> None:
    """`model.save_weights(path)`, writing large tables a block of rows at a
    time, into a temporary file that replaces ``path`` when complete.

    Keras converts each variable to one NumPy array before writing it (a
    dense read, which copies a table that has been read by rows, then a
    copy into NumPy): with tables of 1e7 ids and their Adam slots, 1.1 GB
    more in the process at each save, all of it memory touched anew. Here
    a variable of `BLOCK_BYTES` or more (a float or integer `tf.Variable`
    of at least one dimension, outside a `tf.distribute` strategy of
    several replicas) is gathered and written `BLOCK_BYTES` of rows at a
    time; every other variable as Keras writes it. The file holds the same
    datasets under the same names as Keras's, and `model.load_weights`
    reads it.

    Args:
        model: a built Keras model.
        path: the file to write, ending in `.weights.h5`.

    Raises:
        ValueError: for a name not ending in `.weights.h5`.

    Example:

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> folder = tempfile.mkdtemp()
    >>> save_weights(model, os.path.join(folder, "model.weights.h5"))
    >>> model.load_weights(os.path.join(folder, "model.weights.h5"))
    """
    path = _weights_file(path)
    partial = path.with_name(f".partial.{path.name}")
    try:
        store = _BlockStore(partial, mode="w")
        try:
            _save_state(model, store)
        finally:
            store.close()
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def load_weights(model: keras.Model, path: str | os.PathLike) -> None:
    """`model.load_weights(path)` for a `.weights.h5` file, reading large
    tables a block of rows at a time.

    Keras reads each variable into one NumPy array and assigns it (at 1e7
    ids, restoring an earlier epoch's tables and Adam slots raised the
    process's peak by 1.7 GB). Here each stored array of `BLOCK_BYTES` or
    more is handed to its layer or optimizer as `StoredRows`; the layers
    with tables (`keras_fm.layers.tables.TableLoading`) and the row-sparse
    optimizers copy it into the variable a block of rows at a time, and
    every other object converts it whole, as Keras would.

    Args:
        model: a built Keras model (its optimizer built, to load its state).
        path: a file `model.save_weights` or `save_weights` wrote.

    Raises:
        ValueError: for a name not ending in `.weights.h5`, or a stored
            array whose shape is not its variable's.
    """
    path = _weights_file(path)
    store = _BlockStore(path, mode="r")
    try:
        saving_lib._load_state(
            model,
            weights_store=store,
            assets_store=None,
            inner_path="",
            visited_saveables=set(),
        )
    finally:
        store.close()


def _weights_file(path: str | os.PathLike) -> Path:
    """``path`` as a `Path`, checked to name a `.weights.h5` file."""
    path = Path(path)
    if not path.name.endswith(".weights.h5"):
        raise ValueError(f"the file's name must end in .weights.h5, got {path}")
    return path


class StoredRows:
    """A stored array read a block of rows at a time (`load_weights`).

    Converts whole to a NumPy array where an object assigns it as is.

    Args:
        dataset: the `h5py.Dataset`.
    """

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset
        self.shape = tuple(dataset.shape)
        self.dtype = dataset.dtype

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self.dataset[()], dtype=dtype)

    def blocks(self) -> Any:
        """``(start, stop, rows)`` of consecutive blocks of `BLOCK_BYTES`."""
        row_bytes = int(np.prod(self.shape[1:])) * self.dtype.itemsize
        block = max(1, BLOCK_BYTES // max(row_bytes, 1))
        for start in range(0, self.shape[0], block):
            stop = min(self.shape[0], start + block)
            yield start, stop, self.dataset[start:stop]


def assign_stored(variable: Any, value: Any) -> None:
    """``variable.assign(value)``; a `StoredRows` a block of rows at a time.

    Args:
        variable: a `keras.Variable` or `tf.Variable`.
        value: what a weights store gave for it.

    Raises:
        ValueError: if a `StoredRows` has another shape than the variable.
    """
    if not isinstance(value, StoredRows):
        variable.assign(value)
        return
    target = variable.value if isinstance(variable, keras.Variable) else variable
    if tuple(target.shape.as_list()) != value.shape:
        raise ValueError(
            f"the stored array {value.dataset.name} has shape {value.shape}; "
            f"variable {getattr(variable, 'path', variable.name)} has "
            f"{tuple(target.shape.as_list())}"
        )
    if isinstance(target, tf.distribute.DistributedValues):
        variable.assign(np.asarray(value))  # the strategy's own assignment
        return
    for start, stop, rows in value.blocks():
        rows = tf.cast(rows, target.dtype)
        target.scatter_update(tf.IndexedSlices(rows, tf.range(start, stop)))


class _BlockStore(saving_lib.H5IOStore):
    """Keras's HDF5 weights store, writing large variables by blocks of rows
    and handing large stored arrays out as `StoredRows`."""

    def __getitem__(self, key: str) -> Any:
        dataset = saving_lib.safe_get_h5_dataset(self._h5_entry_group, key)
        large = (
            len(dataset.shape) >= 1
            and dataset.dtype.kind in "fiu"
            and "dtype" not in dataset.attrs  # Keras's bfloat16 marker
            and dataset.size * dataset.dtype.itemsize >= BLOCK_BYTES
        )
        return StoredRows(dataset) if large else super().__getitem__(key)

    def __setitem__(self, key: str, value: Any) -> None:
        table = _large_table(value)
        if table is None:
            super().__setitem__(key, value)
            return
        if not self._h5_entry_initialized:
            self._create_h5_group(self._h5_entry_path)
        shape = tuple(table.shape.as_list())
        dtype = table.dtype.as_numpy_dtype
        dataset = self._h5_entry_group.create_dataset(key, shape=shape, dtype=dtype)
        row_bytes = int(np.prod(shape[1:])) * np.dtype(dtype).itemsize
        block = max(1, BLOCK_BYTES // max(row_bytes, 1))
        for start in range(0, shape[0], block):
            stop = min(shape[0], start + block)
            dataset[start:stop] = gather_rows(table, tf.range(start, stop)).numpy()


def _large_table(value: Any) -> tf.Variable | None:
    """The `tf.Variable` behind ``value`` where it is written by blocks."""
    variable = value.value if isinstance(value, keras.Variable) else value
    if not isinstance(variable, tf.Variable) or isinstance(
        variable, tf.distribute.DistributedValues
    ):
        return None
    shape = variable.shape
    if shape.rank is None or shape.rank < 1 or not shape.is_fully_defined():
        return None
    dtype = variable.dtype
    if not (dtype.is_floating or dtype.is_integer) or dtype == tf.bfloat16:
        return None
    size = shape.num_elements() * dtype.size
    return variable if size >= BLOCK_BYTES else None
