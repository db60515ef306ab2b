"""Every reader turns tf.data's autotuning thread off (see
`keras_fm.data.pipeline.without_autotune_thread`)."""

import pytest
import tensorflow as tf

from keras_fm.data import convert_to_tfrecord, without_autotune_thread
from keras_fm.data.csv_reader import read_csv
from keras_fm.data.formats import DataFormat
from keras_fm.data.sparse_text import read_libffm, read_libsvm
from keras_fm.data.tfrecord import read_tfrecord
from tests.data.text_files import write_lines

CSV = {"label_column": "y", "integer_columns": ["user"]}


def _files(folder):
    write_lines(folder / "a.libsvm", ["1 3:1 7:0.5", "0 2:1", "1 9:2"])
    write_lines(folder / "a.libffm", ["1 0:3:1 1:7:0.5", "0 0:2:1", "1 1:9:2"])
    write_lines(folder / "a.csv", ["y,user", "1,17", "0,3", "1,5"])
    schema = convert_to_tfrecord(folder / "a.csv", folder / "a.tfrecord", "csv", **CSV)
    return schema


@pytest.mark.parametrize("cache", [False, True])
@pytest.mark.parametrize("shuffle_buffer", [0, 2])
def test_each_reader_turns_autotuning_off(tmp_path, cache, shuffle_buffer):
    schema = _files(tmp_path)
    common = {"task": "binary", "batch_size": 2, "cache": cache, "seed": 1}
    common["shuffle_buffer"] = shuffle_buffer
    datasets = {
        "libsvm": read_libsvm(tmp_path / "a.libsvm", **common),
        "libffm": read_libffm(tmp_path / "a.libffm", **common),
        "csv": read_csv(tmp_path / "a.csv", **CSV, **common),
        "tfrecord": read_tfrecord(tmp_path / "a.tfrecord", schema=schema, **common),
    }
    data_format = DataFormat("libsvm", num_features=10, num_fields=3)
    datasets["format"] = data_format.read(
        tmp_path / "a.libsvm", "binary", 2, shuffle_buffer, 1, cache
    )
    stream, one_pass = data_format.read_stream(
        tmp_path / "a.libsvm", "binary", 2, shuffle_buffer, 1, cache
    )
    datasets.update(stream=stream, one_pass=one_pass)
    for name, dataset in datasets.items():
        assert dataset.options().autotune.enabled is False, name
    rows = sum(int(labels.shape[0]) for _, labels in datasets["libsvm"])
    assert rows == 3  # and the data is read as before


def test_other_options_are_kept():
    options = tf.data.Options()
    options.deterministic = False
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    dataset = tf.data.Dataset.range(5).with_options(options)
    merged = without_autotune_thread(dataset).options()
    assert merged.autotune.enabled is False
    assert merged.deterministic is False
    policy = merged.experimental_distribute.auto_shard_policy
    assert policy == tf.data.experimental.AutoShardPolicy.DATA
    assert list(without_autotune_thread(dataset).as_numpy_iterator()) == [0, 1, 2, 3, 4]
    # Before: tf.data's default is on, so the assertions above can fail.
    assert tf.data.Dataset.range(5).options().autotune.enabled is not False
