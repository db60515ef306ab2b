"""Reader throughput on frappe, and training from a reader vs from memory.

Prints one table of rows/s for each reader (libsvm, libffm, CSV, TFRecord) on
frappe's training file, then one of model.fit examples/s for an FM (k=64)
and a DeepFM (frappe settings) trained from a reader — parsing text every
epoch, or with the reader's ``cache`` (parse in the first epoch, read the
parsed batches from memory or from cache files afterwards) — and from the
same batches held in memory: the ratio shows how much the input pipeline,
which shares the machine's cores with training, holds training back.

Usage: python examples/benchmarks/readers.py [--data DIR] [--repeats N]

DIR defaults to ../shared/data next to the repository. The frappe files are
licensed for research only and are read from there, never copied.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import keras
import tensorflow as tf

from keras_fm.data import (
    convert_to_tfrecord,
    keras_inputs,
    position_features,
    read_csv,
    read_libffm,
    read_libsvm,
    read_tfrecord,
)
from keras_fm.data.formats import DataFormat
from keras_fm.layers import FieldEmbedding, FMInteraction, SparseFM

FRAPPE_FEATURES = 5382
FRAPPE_FIELDS = 10
BATCH = 2048


def rows_per_second(make_dataset, repeats):
    """Median rows/s over full passes (the first pass also warms up)."""
    speeds = []
    for _ in range(repeats + 1):
        start, rows = time.perf_counter(), 0
        for _, labels in make_dataset():
            rows += int(labels.shape[0])
        speeds.append(rows / (time.perf_counter() - start))
    return statistics.median(speeds[1:]), rows


def write_variants(train, workdir):
    """frappe's training file as libffm (fields by position) and as CSV."""
    ffm, csv = workdir / "frappe.ffm", workdir / "frappe.csv"
    with open(train) as src, open(ffm, "w") as f_out, open(csv, "w") as c_out:
        c_out.write("label," + ",".join(f"f{i}" for i in range(FRAPPE_FIELDS)) + "\n")
        for line in src:
            label, *pairs = line.split()
            ids = [p.split(":")[0] for p in pairs]
            f_out.write(
                label + " " + " ".join(f"{f}:{i}:1" for f, i in enumerate(ids)) + "\n"
            )
            c_out.write(label + "," + ",".join(ids) + "\n")
    return ffm, csv


def sparse_fm(inputs):
    return SparseFM(FRAPPE_FEATURES, 64)(inputs)


def deepfm(inputs):
    """DeepFM at frappe's settings: embedding 10, DNN 400x3, fields by position."""
    features = position_features(FRAPPE_FIELDS, FRAPPE_FEATURES)
    vectors, first = FieldEmbedding(features, embedding_dim=10)(inputs)
    hidden = keras.layers.Flatten()(vectors)
    for _ in range(3):
        hidden = keras.layers.Dense(400, activation="relu")(hidden)
    return keras.layers.Add()(
        [first, FMInteraction()(vectors), keras.layers.Dense(1)(hidden)]
    )


def fit_speeds(build, memory, variants, rows, epochs):
    """model.fit examples/s of one model on each input.

    Returns the first epoch's speed on each variant (the one that parses and
    fills a cache) and, for the memory baseline and each variant, the median
    of ``epochs`` further epochs, run in turns (memory, variant 1, variant 2,
    ..., memory, ...) so that the machine's drift hits all alike.
    """
    keras.utils.set_random_seed(0)
    inputs = keras_inputs(memory)
    model = keras.Model(inputs, build(inputs))
    model.compile(
        keras.optimizers.Adam(0.001), keras.losses.BinaryCrossentropy(from_logits=True)
    )
    model.fit(memory, epochs=1, verbose=0)  # traces the train step

    def speed(dataset):
        start = time.perf_counter()
        model.fit(dataset, epochs=1, verbose=0)
        return rows / (time.perf_counter() - start)

    first = {name: speed(dataset) for name, dataset in variants.items()}
    later = {name: [] for name in ["memory", *variants]}
    for _ in range(epochs):
        for name, dataset in [("memory", memory), *variants.items()]:
            later[name].append(speed(dataset))
    return first, {name: statistics.median(s) for name, s in later.items()}


def in_memory(dataset):
    """The same batches, parsed once and cached in memory."""
    cached = dataset.cache()
    rows = sum(int(labels.shape[0]) for _, labels in cached)
    return cached, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[3] / "shared" / "data"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    train = args.data / "frappe" / "frappe.train.reconstructed.libfm"
    if not train.exists():
        raise SystemExit(
            f"frappe is absent: {train} (see ../shared/data/frappe/SOURCE.md)"
        )

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ffm, csv = write_variants(train, workdir)
        schema = convert_to_tfrecord(train, workdir / "frappe.tfrecord", "libsvm")
        readers = {
            "libsvm": lambda: read_libsvm(train, task="binary", batch_size=BATCH),
            "libffm": lambda: read_libffm(ffm, task="binary", batch_size=BATCH),
            "csv (10 string columns)": lambda: read_csv(
                csv, label_column="label", task="binary", batch_size=BATCH
            ),
            "tfrecord (tf.Example)": lambda: read_tfrecord(
                workdir / "frappe.tfrecord",
                schema=schema,
                task="binary",
                batch_size=BATCH,
            ),
        }
        print(
            f"frappe train: {train.name}, batch {BATCH}, "
            f"median of {args.repeats} passes"
        )
        print(f"{'reader':28}{'rows':>10}{'rows/s':>14}")
        for name, make in readers.items():
            speed, rows = rows_per_second(make, args.repeats)
            print(f"{name:28}{rows:>10,}{speed:>14,.0f}")

        def libsvm(cache=False):
            return read_libsvm(
                train,
                task="binary",
                batch_size=BATCH,
                num_features=FRAPPE_FEATURES,
                cache=cache,
            )

        def by_position(cache=False):
            return DataFormat(
                "libsvm",
                num_features=FRAPPE_FEATURES,
                num_fields=FRAPPE_FIELDS,
                fields_by_position=True,
            ).read(train, "binary", BATCH, cache=cache)

        prefix = workdir / "cache" / "frappe"
        cases = [
            ("FM k=64 (SparseFM)", sparse_fm, libsvm, "libsvm"),
            ("FM k=64 (SparseFM)", sparse_fm, readers["tfrecord (tf.Example)"],
             "tfrecord"),
            ("DeepFM 10, 400x3", deepfm, by_position, "libsvm"),
        ]  # fmt: skip
        print()
        print(
            f"model.fit, Adam, batch {BATCH}: examples/s of the first epoch and "
            f"median of the next {args.repeats} (taken in turns with the memory "
            "baseline); ratio = next epochs / memory"
        )
        print(
            f"{'model':20}{'input':26}{'first ep':>10}{'next eps':>10}"
            f"{'memory':>10}{'ratio':>7}"
        )
        for model_name, build, make, input_name in cases:
            memory, rows = in_memory(make())
            variants = {input_name: make()}
            if make is not readers["tfrecord (tf.Example)"]:
                variants[f"{input_name}, cache=True"] = make(cache=True)
                variants[f"{input_name}, cache=file"] = make(cache=prefix)
            first, later = fit_speeds(build, memory, variants, rows, args.repeats)
            for name in variants:
                print(
                    f"{model_name:20}{name:26}{first[name]:>10,.0f}"
                    f"{later[name]:>10,.0f}{later['memory']:>10,.0f}"
                    f"{later[name] / later['memory']:>7.2f}"
                )


if __name__ == "__main__":
    tf.get_logger().setLevel("ERROR")
    main()
