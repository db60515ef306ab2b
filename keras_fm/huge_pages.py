"""Large tables backed by transparent huge pages, where Linux offers them.

A step of a model with millions of ids reads and writes a few thousand
random rows of tables of hundreds of MB (the embeddings and the optimizer's
slots). In 4 KB pages nearly every such row costs a TLB miss and a page
walk besides its cache miss; in 2 MB pages the walks mostly hit. Linux
backs memory with 2 MB pages where a process asks for them (``madvise``,
the default mode of most distributions) or everywhere (``always``), but
TensorFlow's allocator does not ask. Measured on 2 cores (FM k=16, 1e7 ids,
`examples/benchmarks/throughput.py`'s measurement, two runs each,
alternating): 803k and 795k examples/s against 682k and 690k in 4 KB pages,
the same peak memory.

`advise_huge_pages` asks for a variable that holds one repeated value (a
table before its random fill, a zero-initialized slot): it marks the
2 MB-aligned interior of the variable's buffer ``MADV_HUGEPAGE`` and drops
its pages (``MADV_DONTNEED``), so that the writes that follow fault them in
as huge pages, and writes the value back where it was not zero. Nothing
changes where the buffer cannot be reached, holds other values, is small,
or the system does not offer huge pages in ``madvise`` mode; setting the
environment variable ``KERAS_FM_HUGE_PAGES=0`` turns it off.
"""

import ctypes
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_fm.sparse_read import write_by_blocks

HUGE_PAGE = 2 << 20
# Variables of fewer bytes keep their pages.
MIN_BYTES = 32 << 20
# Bytes checked or written back at a time.
BLOCK_BYTES = 16 << 20
THP_MODE = Path("/sys/kernel/mm/transparent_hugepage/enabled")
MADV_DONTNEED = 4
MADV_HUGEPAGE = 14


@cache
def _madvise() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.madvise.restype = ctypes.c_int
    return libc.madvise


def offered() -> bool:
    """Whether huge pages are given on request here: Linux, transparent huge
    pages in ``madvise`` mode, and ``KERAS_FM_HUGE_PAGES`` not ``0``."""
    if os.environ.get("KERAS_FM_HUGE_PAGES", "1") == "0":
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        return "[madvise]" in THP_MODE.read_text()
    except OSError:
        return False


class _Capsule:
    """A DLPack capsule as NumPy's `from_dlpack` takes it."""

    def __init__(self, capsule: Any) -> None:
        self.capsule = capsule

    def __dlpack__(self, **kwargs: Any) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)  # CPU


def _buffer(variable: tf.Variable) -> np.ndarray | None:
    """The variable's buffer as a NumPy view, or None if it cannot be had.

    A variable that has not yet been read or written sparsely hands out its
    own buffer on a read; one that has hands out a copy, which the caller
    then advises to no effect.
    """
    try:
        capsule = tf.experimental.dlpack.to_dlpack(variable.read_value())
        return np.from_dlpack(_Capsule(capsule))
    except (TypeError, ValueError, RuntimeError, BufferError, tf.errors.OpError):
        return None  # a dtype DLPack or NumPy lacks


def _repeated_value(array: np.ndarray) -> Any:
    """The one value every entry of ``array`` holds, or None."""
    flat = array.reshape(-1)
    first = flat[0]
    step = max(1, BLOCK_BYTES // array.itemsize)
    for start in range(0, flat.size, step):
        if np.any(flat[start : start + step] != first):
            return None
    return first


def advise_huge_pages(variable: Any) -> int:
    """Backs a large CPU variable of one repeated value with huge pages.

    Call it right after creating the variable, before any other read or
    write. Its values are kept.

    Args:
        variable: a `keras.Variable` or `tf.Variable`, rows first.

    Returns:
        The bytes now advised, 0 where nothing changed (see the module).
    """
    value = variable.value if isinstance(variable, keras.Variable) else variable
    shape = value.shape
    if (
        not offered()
        or not tf.executing_eagerly()
        or tf.distribute.has_strategy()
        or shape.rank == 0
        or not shape.is_fully_defined()
        or shape.num_elements() * value.dtype.size < MIN_BYTES
        or "CPU" not in value.device.upper()
    ):
        return 0
    array = _buffer(value)
    if array is None:
        return 0
    repeated = _repeated_value(array)
    start = -(-array.ctypes.data // HUGE_PAGE) * HUGE_PAGE
    stop = (array.ctypes.data + array.nbytes) // HUGE_PAGE * HUGE_PAGE
    if repeated is None or stop <= start:
        return 0
    madvise = _madvise()
    advised = madvise(start, stop - start, MADV_HUGEPAGE) == 0
    # Dropped pages read as zeros; a buffer of another value is written back.
    dropped = advised and madvise(start, stop - start, MADV_DONTNEED) == 0
    del array  # the buffer must have one owner before it is written in place
    if dropped and repeated != 0:
        write_by_blocks(
            value,
            lambda shape: tf.fill(shape, repeated),
            BLOCK_BYTES // value.dtype.size,
        )
    return stop - start if advised else 0
