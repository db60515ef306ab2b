"""The readers' `cache`: parsed batches kept in memory or in files."""

import os

import numpy as np
import pytest

from keras_fm.data import (
    convert_to_tfrecord,
    read_csv,
    read_libffm,
    read_libsvm,
    read_tfrecord,
)
from keras_fm.data.formats import DataFormat
from tests.data.test_sparse_text import collect
from tests.data.text_files import random_sparse_rows, sparse_line, write_lines


def batches_of(dataset):
    """Each batch as (ids lists, labels list), in the order they came."""
    return [
        (features["ids"].to_list(), labels.numpy().tolist())
        for features, labels in dataset
    ]


def as_list(tensor):
    return tensor.to_list() if hasattr(tensor, "to_list") else tensor.numpy().tolist()


def write_with_bad_lines(path):
    """20 good rows and 2 malformed ones (lines 4 and 11)."""
    lines = [sparse_line(*row) for row in random_sparse_rows(20, seed=5)]
    lines.insert(3, "1 3:x")
    lines.insert(10, "0 :1")
    write_lines(path, lines)


@pytest.mark.parametrize("with_fields", [False, True], ids=["libsvm", "libffm"])
def test_memory_cache_gives_the_same_batches_and_parses_once(tmp_path, with_fields):
    rows = random_sparse_rows(100, seed=1, with_fields=with_fields)
    write_lines(tmp_path / "d.txt", [sparse_line(*row) for row in rows])
    reader = read_libffm if with_fields else read_libsvm
    plain = reader(tmp_path / "d.txt", task="regression", batch_size=16)
    cached = reader(tmp_path / "d.txt", task="regression", batch_size=16, cache=True)
    assert collect(cached) == collect(plain)
    assert collect(cached) == collect(plain)  # second pass: from the cache


def test_cached_passes_do_not_parse_or_count_skipped_lines_again(tmp_path, capfd):
    write_with_bad_lines(tmp_path / "d.txt")
    kwargs = {"task": "binary", "batch_size": 8, "on_error": "skip"}
    plain = read_libsvm(tmp_path / "d.txt", **kwargs)
    cached = read_libsvm(tmp_path / "d.txt", cache=True, **kwargs)
    for _ in range(3):
        assert len(collect(plain)[0]) == 20
        assert len(collect(cached)[0]) == 20
    assert int(plain.skipped_lines.numpy()) == 6  # 2 per pass
    assert int(cached.skipped_lines.numpy()) == 2  # the parsing pass only
    assert capfd.readouterr().err.count("d.txt:4: non-numeric value") == 4


def test_file_cache_is_reused_and_keyed_on_the_input(tmp_path):
    data, prefix = tmp_path / "d.txt", tmp_path / "cache" / "train"
    write_with_bad_lines(data)
    kwargs = {"task": "binary", "batch_size": 8, "on_error": "skip"}
    first = read_libsvm(data, cache=prefix, **kwargs)
    want = collect(first)
    files = sorted(os.listdir(prefix.parent))
    assert files and all(f.startswith("train-") for f in files)
    assert int(first.skipped_lines.numpy()) == 2

    # A new reader of the same file with the same settings reads the cache:
    # nothing is parsed, so no line is skipped.
    again = read_libsvm(data, cache=prefix, **kwargs)
    assert collect(again) == want
    assert int(again.skipped_lines.numpy()) == 0
    assert sorted(os.listdir(prefix.parent)) == files

    # Another setting, or a changed file, gets a cache of its own.
    other = read_libsvm(data, cache=prefix, **{**kwargs, "batch_size": 4})
    assert collect(other) == want
    write_lines(data, ["1 7:1"])
    changed = read_libsvm(data, cache=prefix, **kwargs)
    assert collect(changed)[0] == [[7]]
    assert len(set(f.split(".")[0] for f in os.listdir(prefix.parent))) == 3


def test_shuffle_with_cache_remixes_rows_every_pass(tmp_path):
    """Every pass permutes the cached rows into new batches, the pass that
    fills the cache included (a file in some order still gives mixed
    batches), each row keeping its label."""
    rows = random_sparse_rows(96, seed=2)
    write_lines(tmp_path / "d.txt", [sparse_line(*row) for row in rows])
    in_order = batches_of(read_libsvm(tmp_path / "d.txt", task="regression",
                                      batch_size=8))  # fmt: skip
    dataset = read_libsvm(
        tmp_path / "d.txt",
        task="regression",
        batch_size=8,
        shuffle_buffer=96,
        seed=3,
        cache=True,
    )
    first, second = batches_of(dataset), batches_of(dataset)

    def lines(batches):
        return sorted(
            (tuple(ids), label)
            for batch in batches
            for ids, label in zip(batch[0], batch[1], strict=True)
        )

    assert lines(first) == lines(second) == lines(in_order)  # every line, once
    assert [len(batch[1]) for batch in second] == [8] * 12
    shared = {str(batch) for batch in first} & {str(batch) for batch in in_order}
    assert not shared  # no batch of the file's order survives the shuffle
    again = {str(sorted(batch[0])) for batch in first}
    assert sum(str(sorted(batch[0])) in again for batch in second) < 3


def test_csv_and_tfrecord_readers_cache(tmp_path):
    write_lines(tmp_path / "d.csv", ["label,a,b", "1,x,0.5", "0,y,", "1,x,2"])
    kwargs = {"label_column": "label", "task": "binary", "numeric_columns": ["b"]}
    plain = list(read_csv(tmp_path / "d.csv", **kwargs))
    cached = read_csv(tmp_path / "d.csv", cache=tmp_path / "c", **kwargs)
    [(want, want_labels)] = plain
    for _ in range(2):
        [(features, labels)] = list(cached)
        assert features["a"].numpy().tolist() == [b"x", b"y", b"x"]
        np.testing.assert_array_equal(features["b"], want["b"])
        np.testing.assert_array_equal(labels, want_labels)
    assert any(f.name.startswith("c-") for f in tmp_path.iterdir())

    rows = random_sparse_rows(50, seed=4)
    write_lines(tmp_path / "d.txt", [sparse_line(*row) for row in rows])
    schema = convert_to_tfrecord(tmp_path / "d.txt", tmp_path / "d.tfrecord", "libsvm")
    records = read_tfrecord(
        tmp_path / "d.tfrecord", schema=schema, task="regression", cache=True
    )
    want = [r[2] for r in rows]
    assert collect(records)[0] == want and collect(records)[0] == want


def test_data_format_caches_the_regrouped_batches(tmp_path):
    lines = [f"{i % 2} {i % 5}:1 {5 + i % 3}:1" for i in range(30)]
    write_lines(tmp_path / "d.txt", lines)
    data_format = DataFormat("libsvm", num_features=8, num_fields=2,
                             fields_by_position=True)  # fmt: skip
    plain = list(data_format.read(tmp_path / "d.txt", "binary", batch_size=8))
    cached = data_format.read(tmp_path / "d.txt", "binary", batch_size=8, cache=True)
    for _ in range(2):
        got = list(cached)
        assert len(got) == len(plain) == 4
        for (features, labels), (want, want_labels) in zip(got, plain, strict=True):
            assert sorted(features) == sorted(want)
            for name in want:
                assert as_list(features[name]) == as_list(want[name])
            np.testing.assert_array_equal(labels, want_labels)
    assert int(cached.skipped_lines.numpy()) == 0


@pytest.mark.parametrize("cache", ["", 3, None])
def test_bad_cache_argument(tmp_path, cache):
    write_lines(tmp_path / "d.txt", ["1 1:1"])
    with pytest.raises(ValueError, match="`cache` must be"):
        read_libsvm(tmp_path / "d.txt", task="binary", cache=cache)


def test_cached_field_columns_are_remixed_into_new_batches_every_epoch(tmp_path):
    """Rows of dense columns (fields split out) are shuffled one by one after
    the cache: each epoch holds every row once, in batches of new rows."""
    lines = [
        " ".join([str(row), *(f"{field * 9 + row % 7}:1" for field in range(3))])
        for row in range(96)
    ]
    write_lines(tmp_path / "d.txt", lines)
    data_format = DataFormat("libsvm", fields_by_position=True).infer_sizes(
        tmp_path / "d.txt"
    )
    assert (data_format.num_features, data_format.num_fields) == (25, 3)
    dataset = data_format.read(
        tmp_path / "d.txt", "regression", 8, shuffle_buffer=96, seed=3, cache=True
    )

    def epoch():
        return [tuple(sorted(labels.numpy().tolist())) for _, labels in dataset]

    first, second = epoch(), epoch()
    assert sorted(sum(first, ())) == sorted(sum(second, ())) == list(range(96))
    assert [len(batch) for batch in first] == [8] * 12
    assert len(set(first) & set(second)) < 3  # few batches repeat their rows


def test_sizes_are_the_largest_id_field_and_row_length(tmp_path):
    write_lines(tmp_path / "a.ffm", ["1 0:3:1 2:9:1", "0 1:4:0.5"])
    write_lines(tmp_path / "b.ffm", ["1 4:12:1 0:1:1 1:2:1 3:0:1"])
    sizes = DataFormat("libffm").infer_sizes([tmp_path / "a.ffm", tmp_path / "b.ffm"])
    assert (sizes.num_features, sizes.num_fields) == (13, 5)
    write_lines(tmp_path / "c.txt", ["1 5:1 2:1", "0 8:1 1:1 3:1"])
    by_position = DataFormat("libsvm", fields_by_position=True)
    sizes = by_position.infer_sizes(tmp_path / "c.txt")
    assert (sizes.num_features, sizes.num_fields) == (9, 3)


def test_raw_rows_sized_from_cached_batches_parse_each_file_once(tmp_path):
    """`with_sizes_of` finds the size `infer_sizes` finds, in the pass that
    fills the caches: a file changed after it is not read again."""
    write_lines(tmp_path / "a.txt", ["1 5:1 2:1", "0 8:1"])
    write_lines(tmp_path / "b.txt", ["1 11:0.5 0:1 3:1"])
    raw = DataFormat("libsvm")
    assert raw.sized_by_reading
    paths = [tmp_path / "a.txt", tmp_path / "b.txt"]
    datasets = [raw.read(p, "binary", 2, cache=True) for p in paths]
    sized = raw.with_sizes_of(datasets)
    assert sized.num_features == raw.infer_sizes(paths).num_features == 12
    write_lines(tmp_path / "a.txt", ["1 40:1"])  # cached: not parsed again
    ids = [features["ids"].to_list() for features, _ in datasets[0]]
    assert ids == [[[5, 2], [8]]]
    assert not sized.sized_by_reading
    with pytest.raises(ValueError, match="infer_sizes"):
        DataFormat("libsvm", fields_by_position=True).with_sizes_of(datasets)
