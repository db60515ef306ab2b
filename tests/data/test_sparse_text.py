import numpy as np
import pytest
import tensorflow as tf

from keras_fm.data import read_libffm, read_libsvm
from tests.data.text_files import random_sparse_rows, sparse_line, write_lines


def collect(dataset):
    ids, values, fields, labels = [], [], [], []
    for features, batch_labels in dataset:
        ids += features["ids"].to_list()
        values += features["values"].to_list()
        if "fields" in features:
            fields += features["fields"].to_list()
        labels += batch_labels.numpy().tolist()
    return ids, values, fields, labels


@pytest.mark.parametrize("with_fields", [False, True], ids=["libsvm", "libffm"])
def test_round_trip_over_several_files_and_gzip(tmp_path, with_fields):
    rows = random_sparse_rows(300, seed=1, with_fields=with_fields)
    parts = [rows[:120], rows[120:200], rows[200:]]
    names = ["a.txt", "b.txt.gz", "c.txt"]
    for name, part in zip(names, parts, strict=True):
        write_lines(tmp_path / name, [sparse_line(*row) for row in part])
    reader = read_libffm if with_fields else read_libsvm
    paths = [
        str(tmp_path / "a.txt"),
        str(tmp_path / "b.txt.gz"),
        str(tmp_path / "c.txt"),
    ]
    ids, values, fields, labels = collect(
        reader(paths, task="regression", batch_size=32)
    )
    assert ids == [r[2] for r in rows]
    assert labels == [r[0] for r in rows]
    for got, want in zip(values, [r[3] for r in rows], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    if with_fields:
        assert fields == [r[1] for r in rows]
    # A glob reads the same files in sorted order: a.txt, b.txt.gz, c.txt.
    assert collect(reader(str(tmp_path / "*.txt*"), task="regression"))[0] == ids


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["-1", "1"], [0.0, 1.0]),
        (["0", "1"], [0.0, 1.0]),
        (["-0.5", "3.5"], [0.0, 1.0]),
    ],
)
def test_binary_task_maps_labels(tmp_path, labels, expected):
    write_lines(tmp_path / "d.txt", [f"{label} 1:1" for label in labels])
    assert collect(read_libsvm(tmp_path / "d.txt", task="binary"))[3] == expected


def test_regression_keeps_real_labels_and_crlf_line_ends(tmp_path):
    (tmp_path / "d.txt").write_bytes(b"3.25 1:1\r\n-2e-1 2:0.5\r\n")
    ids, values, _, labels = collect(read_libsvm(tmp_path / "d.txt", task="regression"))
    assert labels == [3.25, pytest.approx(-0.2)]
    assert ids == [[1], [2]] and values == [[1.0], [0.5]]


def test_shuffle_keeps_every_row(tmp_path):
    rows = random_sparse_rows(100, seed=2)
    write_lines(tmp_path / "d.txt", [sparse_line(*row) for row in rows])
    dataset = read_libsvm(
        tmp_path / "d.txt", task="regression", shuffle_buffer=100, seed=3
    )
    ids = collect(dataset)[0]
    moved = sum(a != b for a, b in zip(ids, (r[2] for r in rows), strict=True))
    assert moved > 80  # of 100 rows: a buffer of all rows moves nearly every one
    assert sorted(map(tuple, ids)) == sorted(tuple(r[2]) for r in rows)


def test_missing_file_and_empty_glob(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such file"):
        read_libsvm(tmp_path / "nope.txt", task="binary")
    with pytest.raises(FileNotFoundError, match="No file matches"):
        read_libsvm(str(tmp_path / "*.svm"), task="binary")


def test_bad_arguments():
    with pytest.raises(ValueError, match="`task` must be one of"):
        read_libsvm("x", task="ranking")
    with pytest.raises(ValueError, match="`on_error` must be one of"):
        read_libsvm(__file__, task="binary", on_error="ignore")
    with pytest.raises(ValueError, match="`batch_size`"):
        read_libsvm(__file__, task="binary", batch_size=0)


# One malformed line per case: (reader, line, reason in the message, token).
BAD_LINES = {
    "missing_colon": (read_libsvm, "1 3:1 7", "missing colon", "7"),
    "non_numeric_index": (read_libsvm, "1 3:1 x:2", "non-numeric feature index", "x:2"),
    "non_numeric_value": (read_libsvm, "1 3:abc", "non-numeric value", "3:abc"),
    "negative_index": (read_libsvm, "1 -3:1", "negative feature index", "-3:1"),
    "index_beyond_num_features": (
        read_libsvm,
        "1 3:1 10:1",
        "beyond num_features",
        "10:1",
    ),
    "field_out_of_range": (
        read_libffm,
        "1 0:3:1 4:5:1",
        "field index out of range",
        "4:5:1",
    ),
    "negative_field": (read_libffm, "1 -1:3:1", "negative field index", "-1:3:1"),
    "nan_value": (read_libsvm, "1 3:nan", "NaN or inf value", "3:nan"),
    "inf_value": (read_libffm, "1 0:3:-inf", "NaN or inf value", "0:3:-inf"),
    "unparseable_label": (read_libsvm, "yes 3:1", "unparseable label", "yes"),
    "nan_label": (read_libsvm, "nan 3:1", "NaN or inf label", "nan"),
    "empty_line": (read_libsvm, "", "empty line", ""),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_malformed_line_names_file_line_and_token(tmp_path, case):
    reader, line, reason, token = BAD_LINES[case]
    good = "1 0:3:1" if reader is read_libffm else "1 3:1"
    path = tmp_path / "bad.txt"
    write_lines(path, [good, good, line, good])
    dataset = (
        reader(path, task="binary", num_features=10, num_fields=4)
        if reader is read_libffm
        else reader(path, task="binary", num_features=10)
    )
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        list(dataset)
    message = raised.value.message
    assert f"{path}:3: " in message
    assert reason in message
    assert f"`{token}`" in message


def test_skip_counts_reports_and_keeps_good_lines(tmp_path, capfd):
    path = tmp_path / "bad.txt"
    write_lines(path, ["1 3:1", "1 3:x", "0 4:2", "", "1 5:nan", "0 6:1"])
    dataset = read_libsvm(path, task="binary", batch_size=2, on_error="skip")
    ids, _, _, labels = collect(dataset)
    assert ids == [[3], [4], [6]] and labels == [1.0, 0.0, 0.0]
    assert int(dataset.skipped_lines.numpy()) == 3
    err = capfd.readouterr().err
    assert f"skipped malformed line {path}:2: non-numeric value" in err
    assert f"{path}:4: empty line" in err
    assert f"{path}:5: NaN or inf value" in err


def test_a_line_with_a_label_only_is_an_empty_row(tmp_path):
    write_lines(tmp_path / "d.txt", ["1", "0 2:1"])
    ids, _, _, labels = collect(read_libsvm(tmp_path / "d.txt", task="binary"))
    assert ids == [[], [2]] and labels == [1.0, 0.0]


def test_reads_frappe(shared_data):
    path = shared_data / "frappe" / "frappe.validation.libfm"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    ids, values, _, labels = collect(
        read_libsvm(path, task="binary", batch_size=4096, num_features=5382)
    )
    assert len(labels) == 57_722 and sum(labels) == 19_063  # SOURCE.md's counts
    assert {len(row) for row in ids} == {10}
    assert {v for row in values for v in row} == {1.0}
