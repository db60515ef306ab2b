"""Summing a batch's gradient rows by table row: TensorFlow's kernel against XLA.

A row-sparse optimizer sums the gradient rows a batch gives the same table
row (`keras_fm.optimizers.sparse_rows.unique_rows`). The batch here is the
one of `throughput.py` at 1e7 ids: 4,096 rows of 10 fields, ids drawn from a
Zipf law per field, so 40,960 gradient rows of about 14,000 table rows.

Columns: the width of a gradient row, milliseconds per call (median of 5
repeats of 200 calls) of ``tf.math.unsorted_segment_sum`` and of
`summed_by_position` with its slice to the distinct rows, and their ratio.

Usage: python examples/benchmarks/segment_sum.py
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

from keras_fm.optimizers.sparse_rows import summed_by_position

FIELDS, BATCH, IDS = 10, 4096, 10_000_000


def batch_ids(seed=0):
    """The flat ids of one batch, as `throughput.py` generates them."""
    rng = np.random.default_rng(seed)
    per_field = IDS // FIELDS
    ranks = np.minimum(rng.zipf(1.1, size=(BATCH, FIELDS)) - 1, per_field - 1)
    ids = rng.permutation(per_field)[ranks] + np.arange(FIELDS) * per_field
    return tf.constant(ids.ravel(), tf.int64)


def milliseconds(function, calls=200, repeats=5):
    function().numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            result = function()
        result.numpy()
        times.append((time.perf_counter() - start) / calls * 1e3)
    return float(np.median(times))


def main():
    rows, positions = tf.unique(batch_ids())
    count = tf.shape(rows)[0]
    print(f"{positions.shape[0]:,} gradient rows of {int(count):,} table rows")
    print(f"{'width':>6}{'TF kernel ms':>14}{'XLA ms':>9}{'ratio':>8}")
    rng = np.random.default_rng(1)
    for width in (1, 2, 4, 8, 16, 64):
        values = tf.constant(rng.normal(size=(positions.shape[0], width)), tf.float32)
        kernel = tf.function(
            lambda v=values: tf.math.unsorted_segment_sum(v, positions, count)
        )
        compiled = tf.function(
            lambda v=values: summed_by_position(v, positions)[:count]
        )
        np.testing.assert_allclose(kernel(), compiled(), rtol=1e-5, atol=1e-5)
        tf_ms, xla_ms = milliseconds(kernel), milliseconds(compiled)
        print(f"{width:>6}{tf_ms:>14.3f}{xla_ms:>9.3f}{tf_ms / xla_ms:>8.2f}x")


if __name__ == "__main__":
    main()
