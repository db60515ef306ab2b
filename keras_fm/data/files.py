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


def numbered_lines(files: Sequence[str], skip_header: bool = False) -> Any:
    """A dataset of ``(file, line_number, line)`` over the files, in order.

    Line numbers start at 1 in each file; gzip files are read as such. With
    ``skip_header`` the first line of every file is left out (its number is
    still counted).
    """
    compressions = [compression_of(f) for f in files]

    @tf.autograph.experimental.do_not_convert
    def file_lines(path: Any, compression: Any) -> Any:
        lines = tf.data.TextLineDataset(path, compression_type=compression)
        numbered = lines.enumerate(start=1)
        if skip_header:
            numbered = numbered.skip(1)
        return numbered.map(lambda number, line: (path, number, line))

    return tf.data.Dataset.from_tensor_slices((list(files), compressions)).flat_map(
        file_lines
    )
