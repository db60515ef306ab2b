"""Readers' datasets made ready for a strategy of several replicas."""

from typing import Any

import tensorflow as tf

from keras_fm.distribute.strategies import is_distributed, strategy_of
from keras_fm.distribute.workers import worker_count


def for_strategy(
    dataset: tf.data.Dataset, num_files: int, strategy: Any = None
) -> tf.data.Dataset:
    """A reader's dataset made ready for a strategy of several replicas.

    - Its number of batches is counted (one pass, which fills a reader's
      cache) and asserted: with an unknown count, tf.distribute ends every
      epoch with one more step on empty batches, which counts as a step of
      the optimizer (Adam's bias correction moves on) where one device has
      none.
    - In a multi-worker cluster it is split between the workers by file when
      there are at least as many files as workers (each worker then reads
      and parses only its files, and the count is left unknown: it is each
      worker's own), by rows otherwise (every worker reads every file and
      keeps its share of each batch). tf.data's ``AUTO`` policy tries files
      first and fails at run time with fewer files than workers.

    Args:
        dataset: a reader's dataset.
        num_files: the files it reads.
        strategy: Optional strategy. Defaults to the current one.

    Returns:
        The dataset, unchanged without several replicas or workers.
    """
    strategy = strategy_of(strategy)
    if not is_distributed(strategy):
        return dataset
    ready = dataset
    by_file = num_files >= worker_count(strategy) > 1
    if not by_file:
        count = int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))
        ready = ready.apply(tf.data.experimental.assert_cardinality(count))
    if worker_count(strategy) > 1:
        policy = tf.data.experimental.AutoShardPolicy
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            policy.FILE if by_file else policy.DATA
        )
        ready = ready.with_options(options)
    if hasattr(dataset, "skipped_lines"):  # what the readers attach
        ready.skipped_lines = dataset.skipped_lines
    return ready
