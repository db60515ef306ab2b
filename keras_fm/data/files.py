"""Finding input files and reading them as numbered lines."""

import glob
import os
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

PathLike = str | os.PathLike


def resolve_paths(paths: PathLike | Sequence[PathLike]) -> list[str]:
    """Expands a path, a glob or a list of them into a list of existing files.

    Order is kept (each glob's matches sorted), so the examples of a reader
    come in a reproducible order.

    Raises:
        FileNotFoundError: naming the path or pattern that matched no file.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[str] = []
    for path in paths:
        path = os.fspath(path)
        if glob.has_magic(path):
            matches = sorted(glob.glob(path))
            if not matches:
                raise FileNotFoundError(f"No file matches the pattern {path!r}")
            files.extend(matches)
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise FileNotFoundError(f"No such file: {path!r}")
    if not files:
        raise FileNotFoundError("No input file was given.")
    return files


def compression_of(path: str) -> str:
    """``"GZIP"`` for ``.gz`` files, ``""`` otherwise."""
    return "GZIP" if path.endswith(".gz") else ""


def numbered_line_batches(
    files: Sequence[str],
    batch_size: int,
    skip_header: bool = False,
    shuffle_buffer: int = 0,
    seed: int | None = None,
    drop_remainder: bool = False,
) -> Any:
    """Batches of ``(file_index, line_number, line)`` vectors over the files.

    ``file_index`` indexes ``files``; the order of files and lines is kept.

    Line numbers start at 1 in each file; gzip files are read as such. With
    ``skip_header`` the first line of every file is left out (its number is
    still counted). Lines are batched within each file, numbered with vector
    ops and re-batched across files, so no per-line work is done in Python or
    per tf.data element; shuffling (``shuffle_buffer > 0``) shuffles single
    lines and so costs one element per line.
    """
    compressions = [compression_of(f) for f in files]
    first_line = 2 if skip_header else 1

    @tf.autograph.experimental.do_not_convert
    def file_batches(file_index: Any, path: Any, compression: Any) -> Any:
        lines = tf.data.TextLineDataset(path, compression_type=compression)
        if skip_header:
            lines = lines.skip(1)

        def number(index: Any, batch: Any) -> Any:
            size = tf.shape(batch, out_type=tf.int64)[0]
            numbers = first_line + index * batch_size + tf.range(size, dtype=tf.int64)
            return tf.fill([size], file_index), numbers, batch

        return lines.batch(batch_size).enumerate().map(number)

    indices = tf.range(len(files), dtype=tf.int32)
    batches = tf.data.Dataset.from_tensor_slices(
        (indices, list(files), compressions)
    ).flat_map(file_batches)
    if shuffle_buffer:
        lines = batches.unbatch().shuffle(
            shuffle_buffer, seed=seed, reshuffle_each_iteration=True
        )
        return lines.batch(batch_size, drop_remainder=drop_remainder)
    return batches.rebatch(batch_size, drop_remainder=drop_remainder)
