"""Streams of full batches for fit(steps_per_epoch=...): counting rows,
DataFormat.read_stream and epoch_steps."""

import collections
import gzip
import itertools
import math

import numpy as np
import pytest

from keras_fm.data import convert_to_tfrecord
from keras_fm.data.files import count_lines
from keras_fm.data.formats import DataFormat
from keras_fm.training import epoch_steps
from tests.data.text_files import write_lines


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", 0),
        (b"1 3:1\n", 1),
        (b"1 3:1\n0 2:1", 2),  # a last line without its newline counts
        (b"1 3:1\r\n0 2:1\r\n", 2),
        (b"1 3:1\n\n0 2:1\n", 3),  # a blank line is a line (the reader refuses it)
    ],
)
def test_count_lines_counts_what_the_reader_reads(tmp_path, content, expected):
    path = tmp_path / "a.txt"
    path.write_bytes(content)
    assert count_lines(str(path)) == expected
    zipped = tmp_path / "a.txt.gz"
    zipped.write_bytes(gzip.compress(content))
    assert count_lines(str(zipped)) == expected


def test_count_lines_across_chunks(tmp_path, monkeypatch):
    from keras_fm.data import files

    monkeypatch.setattr(files, "_CHUNK", 7)
    path = tmp_path / "a.txt"
    write_lines(path, [f"1 {i}:1" for i in range(23)])
    assert count_lines(str(path)) == 23


def _rows(tmp_path, count=37):
    """``count`` libsvm rows whose first id names the row: ``label row:1 ...``."""
    rng = np.random.default_rng(4)
    lines = []
    for row in range(count):
        extra = rng.integers(100, 140, size=int(rng.integers(0, 6)))
        lines.append(f"{row % 2} {row}:1 " + " ".join(f"{i}:0.5" for i in extra))
    path = tmp_path / "rows.libsvm"
    write_lines(path, lines)
    return path


def test_count_rows_of_each_format(tmp_path):
    path = _rows(tmp_path)
    assert DataFormat("libsvm").count_rows(path) == 37
    assert DataFormat("libsvm").count_rows([path, path]) == 74
    convert_to_tfrecord(path, tmp_path / "rows.tfrecord", "libsvm")
    assert DataFormat("tfrecord").count_rows(tmp_path / "rows.tfrecord") == 37
    write_lines(tmp_path / "a.csv", ["label,user", "1,a", "0,b"])
    csv = DataFormat("csv", label_column="label")
    assert csv.count_rows([tmp_path / "a.csv", tmp_path / "a.csv"]) == 4


def _first_ids(batch):
    ids = batch[0]["ids"]
    ids = ids.to_tensor(default_value=-1) if hasattr(ids, "to_tensor") else ids
    return ids.numpy()[:, 0].tolist()


@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("cache", [False, True])
def test_stream_is_the_repeated_rows_shuffled_in_windows_in_full_batches(
    tmp_path, padded, cache
):
    path = _rows(tmp_path)
    data_format = DataFormat("libsvm", padded=padded)
    stream, one_pass = data_format.read_stream(
        path, "binary", batch_size=8, shuffle_buffer=16, seed=3, cache=cache
    )
    passes = [_first_ids(b) for b in one_pass]
    assert list(itertools.chain(*passes)) == list(range(37))  # in file order
    batches = [_first_ids(b) for b in itertools.islice(stream, 14)]  # 7 windows
    assert all(len(batch) == 8 for batch in batches)
    rows = list(itertools.chain(*batches))
    # Each window of 16 holds the rows of the same window of the file read
    # over and over (0-36, 0-36, ...), permuted: every row once per pass.
    for start in range(0, len(rows), 16):
        window = [i % 37 for i in range(start, start + 16)]
        assert sorted(rows[start : start + 16]) == sorted(window)
    assert rows[:16] != sorted(rows[:16])  # shuffled
    assert rows[:32] != rows[37:69]  # and anew in the next pass


def test_stream_of_field_rows_is_whole_passes_in_full_batches(tmp_path):
    path = tmp_path / "fields.libsvm"
    write_lines(path, [f"{i % 2} {i}:1 {50 + i % 3}:1" for i in range(21)])
    data_format = DataFormat("libsvm", fields_by_position=True).infer_sizes(path)
    stream, one_pass = data_format.read_stream(path, "binary", 4, cache=True)
    seen = collections.Counter(
        int(i) for features, _ in one_pass for i in features["field_0"].numpy().ravel()
    )
    assert sorted(seen) == list(range(21)) and set(seen.values()) == {1}
    batches = list(itertools.islice(stream, 11))  # 44 rows: two passes and 2 rows
    assert {len(labels) for _, labels in batches} == {4}
    firsts = [
        int(i) for features, _ in batches for i in features["field_0"].numpy().ravel()
    ]
    assert sorted(firsts[:21]) == sorted(firsts[21:42]) == list(range(21))


def test_stream_reads_the_cache_its_pass_filled(tmp_path):
    path = _rows(tmp_path, 9)
    stream, one_pass = DataFormat("libsvm").read_stream(path, "binary", 4, cache=True)
    assert len(list(one_pass)) == 3
    write_lines(path, ["1 77:1"] * 9)  # cached: not parsed again
    rows = list(itertools.chain(*map(_first_ids, itertools.islice(stream, 5))))
    assert rows == [*range(9), *range(9), 0, 1]


@pytest.mark.parametrize("rows", [1, 7, 512, 513, 5000, 100_999, 202_027])
@pytest.mark.parametrize("group", [1, 2, 9, 32])
def test_epoch_steps_cover_a_pass_in_whole_calls_with_the_least_waste(rows, group):
    steps, per_call = epoch_steps(rows, 512, group)
    needed = math.ceil(rows / 512)
    assert steps % per_call == 0 and steps >= needed
    assert per_call <= group and (needed <= group or per_call > group // 2)
    # Brute force: no call size in range wastes fewer steps.
    candidates = [needed] if needed <= group else range(group // 2 + 1, group + 1)
    best = min(math.ceil(needed / g) * g for g in candidates)
    assert steps == best


def test_epoch_steps_examples_and_errors():
    assert epoch_steps(202_027, 1024, 32) == (198, 22)
    assert epoch_steps(197 * 1024, 1024, 32) == (198, 22)
    assert epoch_steps(100, 1024, 32) == (1, 1)
    assert epoch_steps(5000, 1024) == (5, 1)
    with pytest.raises(ValueError, match="positive"):
        epoch_steps(0, 1024, 32)
