"""Reading tf.Example TFRecords, and writing any reader's output to them."""

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from keras_fm.data.files import PathLike, compression_of, resolve_paths
from keras_fm.data.pipeline import (
    Cache,
    cache_batches,
    cache_key,
    check_batch_size,
    check_cache,
    check_task,
    line_shuffle,
    task_labels,
)

LABEL_KEY = "label"


def _feature(values: np.ndarray) -> tf.train.Feature:
    values = np.asarray(values).reshape(-1)
    if values.dtype.kind in "iub":
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values.tolist()))
    if values.dtype.kind == "f":
        return tf.train.Feature(float_list=tf.train.FloatList(value=values.tolist()))
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values.tolist()))


def _schema_of(features: Mapping[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    for name, tensor in features.items():
        dtype = tensor.dtype
        dtype = (
            tf.int64
            if dtype.is_integer
            else (tf.float32 if dtype.is_floating else tf.string)
        )
        if isinstance(tensor, tf.RaggedTensor):
            schema[name] = tf.io.RaggedFeature(dtype, row_splits_dtype=tf.int64)
        else:
            schema[name] = tf.io.FixedLenFeature([], dtype)
    return schema


def write_tfrecord(dataset: tf.data.Dataset, path: PathLike) -> dict[str, Any]:
    """Writes a reader's ``(features, labels)`` batches as tf.Example records.

    One `tf.train.Example` per example, with one feature per input (a list
    for ragged inputs) and the label under ``"label"``. A path ending in
    ``.gz`` is written GZIP-compressed. The file appears complete or not at
    all (written to a temporary name, then renamed).

    Args:
        dataset: the output of a `keras_fm.data` reader (or any dataset of
            ``(dict of dense or ragged tensors, labels)`` batches).
        path: the output file.

    Returns:
        The parsing schema (`tf.io.FixedLenFeature` / `tf.io.RaggedFeature`
        per feature) to pass to `read_tfrecord`.
    """
    path = os.fspath(path)
    options = tf.io.TFRecordOptions(compression_type=compression_of(path))
    schema: dict[str, Any] | None = None
    temporary = f"{path}.tmp-{os.getpid()}"
    with tf.io.TFRecordWriter(temporary, options) as writer:
        for features, labels in dataset:
            if schema is None:
                schema = _schema_of(features)
            columns = {
                name: tensor.to_list()
                if isinstance(tensor, tf.RaggedTensor)
                else tensor.numpy()
                for name, tensor in features.items()
            }
            dtypes = {
                name: tensor.dtype.as_numpy_dtype
                if tensor.dtype != tf.string
                else object
                for name, tensor in features.items()
            }
            labels = labels.numpy()
            for row in range(len(labels)):
                example = {
                    name: _feature(np.asarray(col[row], dtype=dtypes[name]))
                    for name, col in columns.items()
                }
                example[LABEL_KEY] = _feature(
                    np.asarray([labels[row]], dtype="float32")
                )
                writer.write(
                    tf.train.Example(
                        features=tf.train.Features(feature=example)
                    ).SerializeToString()
                )
    os.replace(temporary, path)
    if schema is None:
        raise ValueError(f"The dataset written to {path!r} was empty.")
    return schema


def convert_to_tfrecord(
    paths: PathLike | Sequence[PathLike],
    output: PathLike,
    file_format: str,
    **reader_kwargs: Any,
) -> dict[str, Any]:
    """Converts libsvm, libffm or CSV files to one TFRecord file of tf.Examples.

    Labels are stored as they are in the text (the conversion reads with
    ``task="regression"``); pick the task when reading the TFRecord back.

    Args:
        paths: the text files (paths, globs or a list).
        output: the TFRecord file (``.gz`` for GZIP).
        file_format: `"libsvm"`, `"libffm"` or `"csv"`.
        **reader_kwargs: arguments of the format's reader (e.g. `label_column`
            for CSV, `on_error`).

    Returns:
        The schema for `read_tfrecord`.
    """
    from keras_fm.data.csv_reader import read_csv
    from keras_fm.data.sparse_text import read_libffm, read_libsvm

    readers: dict[str, Any] = {
        "libsvm": read_libsvm,
        "libffm": read_libffm,
        "csv": read_csv,
    }
    if file_format not in readers:
        raise ValueError(
            f"`file_format` must be one of {sorted(readers)}. Received: {file_format!r}"
        )
    reader_kwargs = {"batch_size": 1024, **reader_kwargs, "task": "regression"}
    return write_tfrecord(readers[file_format](paths, **reader_kwargs), output)


def read_tfrecord(
    paths: PathLike | Sequence[PathLike],
    *,
    schema: Mapping[str, Any],
    task: str,
    label_column: str = LABEL_KEY,
    batch_size: int = 256,
    shuffle_buffer: int = 0,
    seed: int | None = None,
    drop_remainder: bool = False,
    num_parallel_calls: int = tf.data.AUTOTUNE,
    cache: Cache = False,
) -> tf.data.Dataset:
    """Reads tf.Example TFRecord files into ``(features, labels)`` batches.

    Args:
        paths: a path, a glob pattern, or a list of them (``.gz`` files are
            read as GZIP).
        schema: dict from feature name to `tf.io.FixedLenFeature`,
            `tf.io.RaggedFeature` or `tf.io.VarLenFeature` (as returned by
            `write_tfrecord`). The label needs no entry.
        task: `"binary"` or `"regression"`.
        label_column: the label's feature name. Defaults to `"label"`.
        batch_size, shuffle_buffer, seed, drop_remainder, num_parallel_calls,
            cache: as `keras_fm.data.read_libsvm`.

    Returns:
        A `tf.data.Dataset` of ``(features, labels)`` with the schema's
        features (dense, ragged or sparse as declared) and float32 labels.
    """
    check_task(task)
    check_batch_size(batch_size)
    check_cache(cache)
    files = resolve_paths(paths)
    spec = dict(schema)
    spec[label_column] = tf.io.FixedLenFeature([], tf.float32)
    records = tf.data.Dataset.from_tensor_slices(
        (files, [compression_of(f) for f in files])
    ).flat_map(lambda path, compression: tf.data.TFRecordDataset(path, compression))
    if line_shuffle(shuffle_buffer, cache):
        records = records.shuffle(
            shuffle_buffer, seed=seed, reshuffle_each_iteration=True
        )

    def parse(serialized: Any) -> tuple[dict[str, Any], Any]:
        features = tf.io.parse_example(serialized, spec)
        labels = features.pop(label_column)
        return features, task_labels(labels, task)

    batches = records.batch(batch_size, drop_remainder=drop_remainder).map(
        parse, num_parallel_calls=num_parallel_calls, deterministic=True
    )
    settings = ["tfrecord", spec, task, label_column, batch_size, drop_remainder]
    key = cache_key(files, settings)
    return cache_batches(batches, cache, key, shuffle_buffer, batch_size, seed)


_KINDS = {"int64_list": "int64", "float_list": "float32", "bytes_list": "string"}


def infer_schema(
    paths: PathLike | Sequence[PathLike],
    label_column: str = LABEL_KEY,
    max_records: int = 10_000,
) -> dict[str, dict[str, Any]]:
    """A JSON-ready description of the features of tf.Example TFRecord files.

    Reads up to ``max_records`` records: a feature with exactly one value in
    every record read is a single value, any other (lists, or missing from
    some records) a ragged list. `schema_from_json` turns the result into
    the schema `read_tfrecord` takes.

    Args:
        paths: a file, a glob or a list of them.
        label_column: the label's feature name, left out. Defaults to `"label"`.
        max_records: the most records read. Defaults to `10000`.

    Returns:
        ``{name: {"dtype": "int64" | "float32" | "string", "ragged": bool}}``
        for every feature but the label.

    Raises:
        ValueError: naming the file, if it holds no record, no ``label_column``,
            or a feature whose type changes between records.
    """
    files = resolve_paths(paths)
    found: dict[str, dict[str, Any]] = {}
    records = 0
    labelled = False
    for path in files:
        dataset = tf.data.TFRecordDataset(path, compression_of(path))
        for serialized in dataset.take(max_records - records):
            example = tf.train.Example.FromString(serialized.numpy())
            records += 1
            for name, feature in example.features.feature.items():
                kind = feature.WhichOneof("kind")
                if name == label_column:
                    labelled = True
                    continue
                if kind is None:
                    continue
                values = getattr(feature, kind).value
                entry = found.setdefault(
                    name, {"dtype": _KINDS[kind], "ragged": False, "count": 0}
                )
                if entry["dtype"] != _KINDS[kind]:
                    raise ValueError(
                        f"{path}: feature {name!r} is {entry['dtype']} in one record "
                        f"and {_KINDS[kind]} in another"
                    )
                entry["count"] += 1
                entry["ragged"] = entry["ragged"] or len(values) != 1
        if records >= max_records:
            break
    if not records:
        raise ValueError(f"{files[0]}: no tf.Example records")
    if not labelled:
        raise ValueError(
            f"{files[0]}: no label feature {label_column!r} in the records read"
        )
    return {
        name: {
            "dtype": entry["dtype"],
            "ragged": entry["ragged"] or entry["count"] < records,
        }
        for name, entry in sorted(found.items())
    }


def schema_from_json(described: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The `read_tfrecord` schema of an `infer_schema` description.

    Args:
        described: ``{name: {"dtype": ..., "ragged": bool}}``, as
            `infer_schema` returns it (e.g. read back from JSON).

    Returns:
        ``{name: tf.io.FixedLenFeature or tf.io.RaggedFeature}``.
    """
    dtypes = {"int64": tf.int64, "float32": tf.float32, "string": tf.string}
    return {
        name: tf.io.RaggedFeature(dtypes[entry["dtype"]], row_splits_dtype=tf.int64)
        if entry["ragged"]
        else tf.io.FixedLenFeature([], dtypes[entry["dtype"]])
        for name, entry in described.items()
    }
