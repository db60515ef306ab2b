"""Steps shared by every reader: labels, batching, parallel parsing, caching,
prefetch."""

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from keras_fm.data.shuffle import shuffle_in_windows

Cache = bool | str | os.PathLike

TASKS = ("binary", "regression")


def check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"`task` must be one of {TASKS}. Received: task={task!r}")


def check_batch_size(batch_size: int) -> None:
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or batch_size < 1
    ):
        raise ValueError(
            f"`batch_size` must be a positive int. Received: {batch_size!r}"
        )


def task_labels(labels: Any, task: str) -> Any:
    """float32 labels: binary maps label <= 0 to 0 and label > 0 to 1."""
    labels = tf.cast(labels, tf.float32)
    if task == "binary":
        return tf.cast(labels > 0, tf.float32)
    return labels


def new_counter() -> Any:
    """The variable in which a reader counts the lines it skipped."""
    return tf.Variable(0, dtype=tf.int64, trainable=False, name="skipped_lines")


def check_cache(cache: Cache) -> None:
    if not isinstance(cache, (bool, str, os.PathLike)) or cache == "":
        raise ValueError(
            "`cache` must be False, True (memory) or a file path prefix. "
            f"Received: cache={cache!r}"
        )


def line_shuffle(shuffle_buffer: int, cache: Cache) -> int:
    """The line shuffle before parsing: none with a cache, whose rows are
    shuffled after it in every pass, the one that fills it included (see
    `cache_batches`), through the same ``shuffle_buffer`` rows. Shuffling
    the lines as well changed nothing but the cost: the first pass over
    frappe's training file took 2.9 s instead of 1.5 s."""
    return 0 if cache is not False else shuffle_buffer


def cache_key(files: Sequence[str], settings: Any) -> str:
    """A digest of the input files (path, size, modification time), the
    reader's settings and the process's task in ``TF_CONFIG``: a file cache
    is only reused for the same inputs, and the workers of one cluster never
    share one (each may hold another shard)."""
    from keras_fm.distribute import task_name

    stats = [(f, os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files]
    text = json.dumps([stats, settings, task_name()], sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_batches(
    dataset: tf.data.Dataset,
    cache: Cache,
    key: str,
    shuffle_buffer: int = 0,
    batch_size: int = 1,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Caches parsed batches so that epochs after the first skip parsing.

    ``cache=True`` keeps them in memory; a path caches them in files named
    ``{path}-{key}.*`` (``key`` from `cache_key`, so a changed input file or
    reader setting never reuses a stale cache). tf.data writes the cache
    during the first full pass and reads it afterwards; a pass stopped early
    leaves no cache and the next pass parses again. With ``shuffle_buffer``
    the cached rows are mixed into new batches every epoch (see
    `shuffle_rows`).
    """
    check_cache(cache)
    skipped = getattr(dataset, "skipped_lines", None)
    if cache is not False:
        filename = "" if cache is True else f"{os.fspath(cache)}-{key}"
        if filename:
            os.makedirs(os.path.dirname(os.path.abspath(filename)), exist_ok=True)
        dataset = dataset.cache(filename)
        if shuffle_buffer:
            dataset = shuffle_rows(dataset, shuffle_buffer, batch_size, seed)
    dataset = without_autotune_thread(dataset.prefetch(tf.data.AUTOTUNE))
    if skipped is not None:
        dataset.skipped_lines = skipped
    return dataset


def without_autotune_thread(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """``dataset`` with tf.data's model-based autotuning turned off.

    `keras.Model.fit` makes a new iterator every epoch and drops the last
    one. With autotuning on, each iterator runs a thread that re-tunes the
    pipeline at growing intervals, and in TensorFlow 2.21 destroying the
    iterator can wait for that thread's interval to end: between 3-second
    epochs of DeepFM at 1e7 ids, stalls of 5, 10 and 28 seconds with both
    cores idle, in about half the runs (`examples/benchmarks/throughput.py`,
    the main thread seen waiting in ``RootDataset::Iterator``'s destructor).
    Without it, ``tf.data.AUTOTUNE`` parallelism is one call per core, and
    an ``AUTOTUNE`` prefetch buffer grows whenever it runs empty.

    Args:
        dataset: a `tf.data.Dataset`.

    Returns:
        The dataset with ``options().autotune.enabled`` false; options
        carry over to the datasets made from it.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def shuffle_rows(
    dataset: tf.data.Dataset, shuffle_buffer: int, batch_size: int, seed: int | None
) -> tf.data.Dataset:
    """Batches (e.g. cached ones), their rows mixed anew every epoch into new
    batches of ``batch_size``: each window of ``shuffle_buffer`` rows
    permuted by one gather per tensor (`shuffle_in_windows`).

    Splitting batches of dense columns into rows, shuffling them through
    `tf.data.Dataset.shuffle` and batching them again, as this did before,
    cost about 8 s per epoch of frappe's 202,027 rows on tf.data's threads,
    which on 2 cores bound training: DeepFM's CLI epoch took 8-10 s where its
    steps take 2.5 s. The windows take well under 0.1 s. With windows as
    large as an epoch (the CLI's 250,000 rows) DeepFM on frappe trains as
    well (test AUC, seeds 0-2: mean 0.9839 against 0.9832 through the
    buffer); with windows of 100,000 rows, 0.9826.
    Shuffling batches holding ragged features whole through
    `tf.data.Dataset.shuffle` stalled the start of each epoch by 2.3-2.8 s
    under `fit` (frappe, 198 batches, 2 cores).
    """
    return shuffle_in_windows(dataset, shuffle_buffer, batch_size, seed)


def parse_batches(
    batches: Any,
    parse: Callable[..., Any],
    num_parallel_calls: int,
    counter: Any,
) -> Any:
    """Parses batches of ``(file, number, line)`` in parallel, keeping order.

    Parsing works on whole batches of lines (vectorized string ops). Batches
    left empty by skipped lines are dropped. The returned dataset carries
    ``skipped_lines``: the variable counting the lines skipped so far (always
    0 with ``on_error="raise"``; with a cache, lines are counted in the
    parsing pass only).
    """
    parsed = batches.map(
        tf.autograph.experimental.do_not_convert(parse),
        num_parallel_calls=num_parallel_calls,
        deterministic=True,
    )
    dataset = parsed.filter(lambda features, labels: tf.size(labels) > 0)
    dataset.skipped_lines = counter
    return dataset
