"""Writing a `.keras` archive with the weights streamed to disk."""

import os
import tempfile
import zipfile
from pathlib import Path

import keras


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """`model.save(path)` for a `.keras` path, without the archive in memory.

    Keras builds a `.keras` archive's weights file in memory before copying
    it into the zip: for a model with tables of 1e7 ids and their Adam
    slots, 2 GB more in the process for as long as the save runs. Here
    Keras writes the model unzipped (``zipped=False``, the weights file
    straight to disk) into a folder beside ``path``, and the same members
    are stored into the zip a chunk at a time, as Keras stores them
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
        keras.saving.save_model(model, unzipped, zipped=False)
        partial = Path(tmp) / path.name
        with zipfile.ZipFile(partial, "w") as archive:
            for member in sorted(unzipped.rglob("*"), key=_archive_order):
                if member.is_file():
                    archive.write(member, member.relative_to(unzipped).as_posix())
        os.replace(partial, path)


def _archive_order(member: Path) -> tuple[int, str]:
    """Keras's order of an archive's members: metadata, config, the rest."""
    first = ("metadata.json", "config.json")
    return (first.index(member.name) if member.name in first else 2, str(member))
