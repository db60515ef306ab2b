"""Training speed on 1 and 2 replicas, and the bytes a step all-reduces.

Each row trains a model of the zoo, compiled by `compile_for_task` with its
defaults, with `model.fit` on in-memory batches of data drawn from a known FM
(10 fields of 1,000 ids each): once on one device
(`tf.distribute.OneDeviceStrategy`, which `compile_for_task` compiles as it
would without a strategy: XLA and 32 steps per call), once under
`tf.distribute.MirroredStrategy` on 2 logical CPU devices of this machine
(no XLA, one step per call: see `keras_fm.distribute`). Logical devices share
the same cores, so the second column measures the cost of the strategy's
machinery, not a speed-up: on 2 GPUs or 2 hosts each replica has its own.

Columns: train examples/s (median of 3 epochs after a warm-up epoch) on 1
device and on 2 replicas, their ratio, and the bytes of gradients one step
all-reduces for the global batch: every weight's gradient as a dense tensor,
against the embedding tables' gradients as `tf.IndexedSlices` (the rows of
the batch and their indices), which is what TensorFlow sends for them.

Usage: python examples/benchmarks/distributed.py [--models fm,deepfm]
       [--rows N] [--batch-size B]
"""

import argparse
import time

import tensorflow as tf

CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    CPU, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_fm.datasets import make_fm_data  # noqa: E402
from keras_fm.features import IdFeature  # noqa: E402
from keras_fm.models import BUILDERS, compile_for_task  # noqa: E402

FIELDS, IDS = 10, 1000


def batches(rows, batch_size):
    data = make_fm_data(rows, vocabulary_sizes=(IDS,) * FIELDS, rank=4, seed=0)
    features = [
        IdFeature(name, IDS)
        for name in data.field_names  # one table per field
    ]
    dataset = tf.data.Dataset.from_tensor_slices((data.features(), data.labels))
    return features, dataset.batch(batch_size).cache()


def speed(name, features, dataset, strategy, rows):
    """Median examples/s of 3 epochs after a warm-up epoch."""
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = BUILDERS[name](features)
        compile_for_task(model)
    model.fit(dataset, epochs=1, verbose=0)
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        model.fit(dataset, epochs=1, verbose=0)
        seconds.append(time.perf_counter() - start)
    return rows / float(np.median(seconds)), model


def all_reduced_bytes(model, dataset):
    """Bytes of one step's gradients: all dense, and tables as IndexedSlices."""
    x, y = next(iter(dataset))
    with tf.GradientTape() as tape:
        loss = keras.losses.binary_crossentropy(y[:, None], model(x, training=True))
        loss = tf.reduce_mean(loss)
    grads = tape.gradient(loss, model.trainable_variables)
    dense = sparse = 0
    for variable, grad in zip(model.trainable_variables, grads, strict=True):
        size = int(np.prod(variable.shape)) * 4
        dense += size
        if isinstance(grad, tf.IndexedSlices):
            width = int(np.prod(variable.shape[1:])) * 4
            sparse += int(grad.indices.shape[0]) * (width + 8)
        else:
            sparse += size
    return dense, sparse


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="fm,deepfm")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=4096)
    args = parser.parse_args()
    features, dataset = batches(args.rows, args.batch_size)
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    print(
        f"{'model':8}{'1 device ex/s':>15}{'2 replicas ex/s':>17}{'ratio':>7}"
        f"{'dense bytes/step':>18}{'IndexedSlices bytes/step':>26}",
        flush=True,
    )
    for name in args.models.split(","):
        alone, model = speed(name, features, dataset, one, args.rows)
        together, _ = speed(name, features, dataset, two, args.rows)
        dense, sparse = all_reduced_bytes(model, dataset)
        print(
            f"{name:8}{alone:>15,.0f}{together:>17,.0f}{together / alone:>7.2f}"
            f"{dense:>18,}{sparse:>26,}",
            flush=True,
        )


if __name__ == "__main__":
    main()
