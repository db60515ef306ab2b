"""A row-sparse optimizer step on a 1e7-row table: one C++ pass, or TensorFlow's ops.

Outside XLA, `LazyAdam` and `SparseAdagrad` update a table's rows with one
op of `keras_fm.native` (sum each row's gradients, update the row and its
slots in place, prefetching the rows ahead); composed of TensorFlow's ops,
the same update sums with an XLA-compiled segment sum, then gathers the
table and each slot at the rows and scatters each back. Both run here
through the optimizers themselves (`apply_gradients` in a `tf.function`,
the ops turned off for the composed route), on the batch of
`segment_sum.py` (4,096 rows of 10 fields of Zipf ids: 40,960 gradient
rows of about 14,000 table rows), with the table and slots in huge pages
as the optimizers keep them.

Columns: optimizer, row width, milliseconds per step (median of 5 repeats
of 100 steps, the batches cycling over 8 draws) of each route, their ratio.
The ops are the same to the bit for Adam (tests/native).

Usage: python examples/benchmarks/row_updates.py
"""

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).parent))
from segment_sum import IDS, batch_ids

from keras_fm import native
from keras_fm.huge_pages import advise_huge_pages
from keras_fm.optimizers import LazyAdam, SparseAdagrad

DRAWS = 8


def step_milliseconds(cls, width, one_pass, steps=100, repeats=5):
    """Milliseconds per `apply_gradients` of ``cls`` on a (1e7, width) table."""
    loaded = native.row_ops
    if not one_pass:
        native.row_ops = lambda: None
    try:
        table = keras.Variable(np.zeros((IDS, width), "float32"))
        advise_huge_pages(table)
        optimizer = cls(learning_rate=1e-3)
        optimizer.build([table])
        rng = np.random.default_rng(0)
        batches = []
        for seed in range(DRAWS):
            ids = batch_ids(seed)
            values = rng.normal(size=(ids.shape[0], width)).astype("float32")
            batches.append((tf.constant(values), ids))

        @tf.function
        def step(values, ids):
            gradient = tf.IndexedSlices(values, ids, tf.constant([IDS, width]))
            optimizer.apply_gradients([(gradient, table)])

        times = []
        for repeat in range(repeats + 1):
            start = time.perf_counter()
            for i in range(steps):
                step(*batches[i % DRAWS])
            tf.gather(table, [0]).numpy()  # waits for the last step
            if repeat:  # the first repeat traces and warms up
                times.append((time.perf_counter() - start) / steps * 1e3)
        return float(np.median(times))
    finally:
        native.row_ops = loaded


def main():
    if native.row_ops() is None:
        sys.exit("keras_fm.native's ops could not be built here (see the warning)")
    print(
        f"{'optimizer':>14}{'width':>7}{'TF ops ms':>11}{'one pass ms':>13}{'ratio':>8}"
    )
    for cls in (LazyAdam, SparseAdagrad):
        for width in (1, 16):
            composed = step_milliseconds(cls, width, one_pass=False)
            fused = step_milliseconds(cls, width, one_pass=True)
            print(
                f"{cls.__name__:>14}{width:>7}{composed:>11.3f}{fused:>13.3f}"
                f"{composed / fused:>8.2f}x"
            )


if __name__ == "__main__":
    main()
