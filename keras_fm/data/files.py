"""Finding input files and reading them as numbered lines."""

import glob
import gzip
import os
import re
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from keras_fm.data.shuffle import shuffle_in_windows

PathLike = str | os.PathLike


def resolve_paths(paths: PathLike | Sequence[PathLike]) -> list[str]:
    """Expands a path, a glob or a list of them into a list of existing files.

    Order is kept (each glob's matches sorted), so the examples of a reader
    come in a reproducible order.

    Args:
        paths: a path, a glob, or a list of them.

    Returns:
        The matching files, as strings.

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


BOM = "\ufeff"
_CHUNK = 1 << 20
_LONE_CR = re.compile(rb"\r(?!\n)")


def check_line_ends(files: Sequence[str]) -> None:
    """Refuses files with a carriage return that does not end a line.

    TensorFlow's line reader deletes every ``\\r``, so a lone one would
    silently join what it separates (``1 3:1\\r0 2:1`` would read as the
    pair ``3:10``), and a file whose lines end in ``\\r`` alone (old Mac
    files) would read as one line. Each file is scanned once per call, in
    1 MiB chunks (bytes counting, several GB/s; gzip files are decompressed).

    Raises:
        ValueError: naming the file and line, with the command that fixes it.
    """
    for path in files:
        line = _lone_carriage_return(path)
        if line is not None:
            raise ValueError(
                f"{path}:{line}: carriage return (\\r) that does not end a line: "
                "lines must end in \\n or \\r\\n (to convert old Mac line ends: "
                f"tr '\\r' '\\n' < {path} > fixed)"
            )


def _lone_carriage_return(path: str) -> int | None:
    """The line number of the first ``\\r`` not followed by ``\\n``, or None."""
    opener: Any = gzip.open if path.endswith(".gz") else open
    line, carry = 1, b""
    with opener(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            data = carry + chunk
            carry = b"\r" if data.endswith(b"\r") else b""
            body = data[: len(data) - len(carry)]
            if body.count(b"\r") != body.count(b"\r\n"):
                found = _LONE_CR.search(body)
                assert found is not None
                return line + body.count(b"\n", 0, found.start())
            line += body.count(b"\n")
    return line if carry else None


def count_lines(path: str) -> int:
    """The lines of a text file as its readers see them (gzip decompressed).

    A last line without a newline counts; an empty file has none. Counting
    takes one pass of byte counting (several GB/s).

    Args:
        path: the file.

    Returns:
        The number of lines.
    """
    opener: Any = gzip.open if path.endswith(".gz") else open
    lines, last = 0, b"\n"
    with opener(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


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
    per tf.data element. A UTF-8 byte-order mark that starts a file is
    removed from its first line. With ``shuffle_buffer > 0`` the lines are
    permuted anew every epoch within windows of ``shuffle_buffer`` lines
    (`keras_fm.data.shuffle.shuffle_in_windows`), each line keeping its file
    and number.
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
            if not skip_header:  # a header's mark went with the header
                batch = tf.cond(
                    tf.equal(index, 0),
                    lambda: tf.concat([_strip_bom(batch[:1]), batch[1:]], 0),
                    lambda: batch,
                )
            return tf.fill([size], file_index), numbers, batch

        return lines.batch(batch_size).enumerate().map(number)

    indices = tf.range(len(files), dtype=tf.int32)
    batches = tf.data.Dataset.from_tensor_slices(
        (indices, list(files), compressions)
    ).flat_map(file_batches)
    if shuffle_buffer:
        return shuffle_in_windows(
            batches, shuffle_buffer, batch_size, seed, drop_remainder
        )
    return batches.rebatch(batch_size, drop_remainder=drop_remainder)


def _strip_bom(lines: Any) -> Any:
    return tf.strings.regex_replace(lines, "^" + BOM, "")
