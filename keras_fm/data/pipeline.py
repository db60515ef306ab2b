"""Steps shared by every reader: labels, batching, parallel parsing, prefetch."""

from collections.abc import Callable
from typing import Any

import tensorflow as tf

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
    0 with ``on_error="raise"``).
    """
    parsed = batches.map(
        tf.autograph.experimental.do_not_convert(parse),
        num_parallel_calls=num_parallel_calls,
        deterministic=True,
    )
    parsed = parsed.filter(lambda features, labels: tf.size(labels) > 0)
    dataset = parsed.prefetch(tf.data.AUTOTUNE)
    dataset.skipped_lines = counter
    return dataset
