import math

import numpy as np
import pytest
import tensorflow as tf

from keras_fm.data import (
    CRITEO_CATEGORICAL_COLUMNS,
    CRITEO_COLUMNS,
    CRITEO_NUMERIC_COLUMNS,
    read_criteo,
    read_csv,
)
from tests.data.text_files import write_lines

ROWS = [
    # label, price (numeric), user (integer), city (string), tags (list)
    ("1", "2.5", "17", "paris", "a|b"),
    ("0", "", "3", '"Rome, Italy"', ""),
    ("1", "-1e3", "", "", "c"),
    ("0", "7", "42", '"say ""hi"""', "a|c|d"),
]
COLUMNS = ["clicked", "price", "user", "city", "tags"]


def read_all(dataset):
    features, labels = {}, []
    for batch, batch_labels in dataset:
        for name, tensor in batch.items():
            value = (
                tensor.to_list()
                if isinstance(tensor, tf.RaggedTensor)
                else tensor.numpy().tolist()
            )
            features.setdefault(name, []).extend(value)
        labels += batch_labels.numpy().tolist()
    return features, labels


def check_rows(features, labels):
    assert labels == [1.0, 0.0, 1.0, 0.0]
    assert features["user"] == [17, 3, -1, 42]  # empty integer -> -1
    price = features["price"]
    assert (
        price[0] == 2.5
        and math.isnan(price[1])
        and price[2] == -1000.0
        and price[3] == 7.0
    )
    assert features["city"] == [b"paris", b"Rome, Italy", b"", b'say "hi"']
    assert features["tags"] == [[b"a", b"b"], [], [b"c"], [b"a", b"c", b"d"]]


KINDS = {
    "numeric_columns": ["price"],
    "integer_columns": ["user"],
    "multivalent_columns": {"tags": "|"},
}


def test_header_several_files_and_gzip(tmp_path):
    header = ",".join(COLUMNS)
    write_lines(tmp_path / "a.csv", [header, *(",".join(r) for r in ROWS[:2])])
    write_lines(tmp_path / "b.csv.gz", [header, *(",".join(r) for r in ROWS[2:])])
    dataset = read_csv(
        [tmp_path / "a.csv", tmp_path / "b.csv.gz"],
        label_column="clicked",
        task="binary",
        batch_size=3,
        **KINDS,
    )
    check_rows(*read_all(dataset))


def test_given_column_names_and_tabs(tmp_path):
    write_lines(tmp_path / "a.tsv", ["\t".join(r) for r in ROWS])
    dataset = read_csv(
        tmp_path / "a.tsv",
        label_column="clicked",
        task="binary",
        column_names=COLUMNS,
        field_delim="\t",
        **KINDS,
    )
    check_rows(*read_all(dataset))


def test_ignore_columns_and_regression_labels(tmp_path):
    write_lines(tmp_path / "a.csv", ["id,y,x", "7,3.5,1", "8,-2,2"])
    features, labels = read_all(
        read_csv(
            tmp_path / "a.csv",
            label_column="y",
            task="regression",
            ignore_columns=["id"],
        )
    )
    assert (
        labels == [3.5, -2.0]
        and list(features) == ["x"]
        and features["x"] == [b"1", b"2"]
    )


def test_different_headers_are_an_error(tmp_path):
    write_lines(tmp_path / "a.csv", ["y,x", "1,2"])
    write_lines(tmp_path / "b.csv", ["y,z", "1,2"])
    with pytest.raises(ValueError, match=r"b\.csv:1: header"):
        read_csv(
            [tmp_path / "a.csv", tmp_path / "b.csv"], label_column="y", task="binary"
        )


def test_unknown_columns_are_an_error(tmp_path):
    write_lines(tmp_path / "a.csv", ["y,x", "1,2"])
    with pytest.raises(ValueError, match=r"`numeric_columns` names columns \['z'\]"):
        read_csv(
            tmp_path / "a.csv", label_column="y", task="binary", numeric_columns=["z"]
        )


def criteo_line(label, ints, cats, sep="\t"):
    return sep.join([label, *ints, *cats])


def test_criteo_layout_with_empty_values(tmp_path):
    ints = ["1", "", "5", "0", "", "3", "", "", "2", "", "", "", "9"]
    cats = ["68fd1e64", "", *["05db9164"] * 23, ""]
    write_lines(
        tmp_path / "day_0",
        [criteo_line("1", ints, cats), criteo_line("0", ["0"] * 13, ["a"] * 26)],
    )
    features, labels = read_all(read_criteo(tmp_path / "day_0"))
    assert labels == [1.0, 0.0]
    assert sorted(features) == sorted(
        CRITEO_NUMERIC_COLUMNS + CRITEO_CATEGORICAL_COLUMNS
    )
    assert features["I1"] == [1.0, 0.0] and math.isnan(features["I2"][0])
    assert features["C1"] == [b"68fd1e64", b"a"] and features["C2"] == [b"", b"a"]
    assert features["C26"] == [b"", b"a"]
    assert len(CRITEO_COLUMNS) == 40


def test_reads_deepctr_criteo_sample(shared_data):
    path = shared_data / "criteo_sample" / "criteo_sample.txt"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    features, labels = read_all(read_criteo(path, header=True, field_delim=","))
    assert len(labels) == 200 and sum(labels) == 49  # SOURCE.md's counts
    assert math.isnan(features["I1"][0]) and features["I3"][0] == 260.0


def test_read_criteo_shows_its_arguments(tmp_path):
    """No hidden ``**kwargs``: the task is binary, and a second one is refused."""
    write_lines(tmp_path / "day_0", ["1" + "\t" * 39])
    with pytest.raises(TypeError, match="task"):
        read_criteo(tmp_path / "day_0", task="regression")
    batches = read_criteo(tmp_path / "day_0", batch_size=1, shuffle_buffer=10, seed=1)
    [(_, labels)] = list(batches)
    assert labels.numpy().tolist() == [1.0]


BAD_CSV = {
    "wrong_column_count": ("1,2", "wrong number of columns", "1,2"),
    "non_numeric_value": ("1,abc,x", "non-numeric value", "v=abc"),
    "nan_value": ("1,nan,x", "NaN or inf value", "v=nan"),
    "unparseable_label": ("yes,1,x", "unparseable label", "yes"),
    "inf_label": ("inf,1,x", "NaN or inf label", "inf"),
    "empty_line": ("", "empty line", ""),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_malformed_csv_line_names_file_line_and_cell(tmp_path, case):
    line, reason, token = BAD_CSV[case]
    path = tmp_path / "bad.csv"
    write_lines(path, ["y,v,c", "1,2,x", line, "0,3,z"])
    dataset = read_csv(path, label_column="y", task="binary", numeric_columns=["v"])
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        list(dataset)
    assert f"{path}:3: {reason}: `{token}`" in raised.value.message


def test_csv_skip_counts_bad_lines(tmp_path, capfd):
    path = tmp_path / "bad.csv"
    write_lines(path, ["y,v", "1,2", "1", "0,x", "0,4"])
    dataset = read_csv(
        path, label_column="y", task="binary", numeric_columns=["v"], on_error="skip"
    )
    features, labels = read_all(dataset)
    assert features["v"] == [2.0, 4.0] and labels == [1.0, 0.0]
    assert int(dataset.skipped_lines.numpy()) == 2
    assert f"{path}:4: non-numeric value: `v=x`" in capfd.readouterr().err


def test_nan_numeric_reads_as_missing_for_the_specs(tmp_path):
    from keras_fm.features import NumericFeature
    from keras_fm.layers import FieldEmbedding

    write_lines(tmp_path / "a.csv", ["y,v", "1,", "0,2"])
    features, _ = next(
        iter(
            read_csv(
                tmp_path / "a.csv",
                label_column="y",
                task="binary",
                numeric_columns=["v"],
            )
        )
    )
    vectors, first = FieldEmbedding([NumericFeature("v")], embedding_dim=2)(features)
    assert np.all(np.isfinite(vectors)) and np.all(vectors[0] == 0)
    assert np.all(np.isfinite(first))
