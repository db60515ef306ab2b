import numpy as np
import pytest
import tensorflow as tf

from keras_fm.data import (
    convert_to_tfrecord,
    read_csv,
    read_libffm,
    read_libsvm,
    read_tfrecord,
)
from tests.data.text_files import random_sparse_rows, sparse_line, write_lines


def rows_of(dataset):
    out = []
    for features, labels in dataset:
        columns = {
            k: (v.to_list() if isinstance(v, tf.RaggedTensor) else v.numpy().tolist())
            for k, v in features.items()
        }
        for i, label in enumerate(labels.numpy().tolist()):
            out.append(({k: c[i] for k, c in columns.items()}, label))
    return out


@pytest.mark.parametrize(
    ("fmt", "reader", "with_fields"),
    [("libsvm", read_libsvm, False), ("libffm", read_libffm, True)],
)
@pytest.mark.parametrize("suffix", [".tfrecord", ".tfrecord.gz"])
def test_sparse_text_round_trips_through_tfrecord(
    tmp_path, fmt, reader, with_fields, suffix
):
    rows = random_sparse_rows(150, seed=4, with_fields=with_fields)
    write_lines(tmp_path / "a.txt", [sparse_line(*r) for r in rows[:70]])
    write_lines(tmp_path / "b.txt.gz", [sparse_line(*r) for r in rows[70:]])
    sources = [tmp_path / "a.txt", tmp_path / "b.txt.gz"]
    output = tmp_path / f"out{suffix}"
    schema = convert_to_tfrecord(sources, output, fmt)
    assert sorted(schema) == sorted(
        ["ids", "values", *(["fields"] if with_fields else [])]
    )
    expected = rows_of(reader(sources, task="regression", batch_size=40))
    assert (
        rows_of(read_tfrecord(output, schema=schema, task="regression", batch_size=40))
        == expected
    )
    binary = rows_of(read_tfrecord(output, schema=schema, task="binary"))
    assert [label for _, label in binary] == [float(r[0] > 0) for r in rows]


def test_csv_round_trips_through_tfrecord(tmp_path):
    write_lines(
        tmp_path / "a.csv",
        ["y,price,user,city,tags", "1,2.5,17,paris,a|b", "0,,3,rome,", "1,4,5,,c"],
    )
    kwargs = {
        "label_column": "y",
        "numeric_columns": ["price"],
        "integer_columns": ["user"],
        "multivalent_columns": {"tags": "|"},
    }
    schema = convert_to_tfrecord(
        tmp_path / "a.csv", tmp_path / "a.tfrecord", "csv", **kwargs
    )
    expected = rows_of(read_csv(tmp_path / "a.csv", task="binary", **kwargs))
    actual = rows_of(
        read_tfrecord(tmp_path / "a.tfrecord", schema=schema, task="binary")
    )
    assert len(actual) == 3
    for (got, got_label), (want, want_label) in zip(actual, expected, strict=True):
        assert got_label == want_label
        assert got.keys() == want.keys()
        for key in got:
            if key == "price" and np.isnan(want[key]):
                assert np.isnan(got[key])
            else:
                assert got[key] == want[key]


def test_unknown_format():
    with pytest.raises(ValueError, match="`file_format` must be one of"):
        convert_to_tfrecord(__file__, "x.tfrecord", "parquet")


def test_infer_schema_and_data_format_layouts(tmp_path):
    from keras_fm.data import infer_schema, schema_from_json
    from keras_fm.data.formats import DataFormat

    write_lines(
        tmp_path / "a.csv",
        ["y,price,user,city,tags", "1,2.5,17,paris,a|b", "0,1,3,rome,", "1,4,5,oslo,c"],
    )
    schema = convert_to_tfrecord(
        tmp_path / "a.csv",
        tmp_path / "a.tfrecord",
        "csv",
        label_column="y",
        numeric_columns=["price"],
        integer_columns=["user"],
        multivalent_columns={"tags": "|"},
    )
    described = infer_schema(tmp_path / "a.tfrecord", label_column="label")
    assert described == {
        "city": {"dtype": "string", "ragged": False},
        "price": {"dtype": "float32", "ragged": False},
        "tags": {"dtype": "string", "ragged": True},
        "user": {"dtype": "int64", "ragged": False},
    }
    assert {k: type(v) for k, v in schema_from_json(described).items()} == {
        k: type(v) for k, v in schema.items()
    }
    data_format = DataFormat("tfrecord", min_count=1).infer_sizes(
        tmp_path / "a.tfrecord"
    )
    assert data_format.layout == "columns" and data_format.has_fields
    data = data_format.read(tmp_path / "a.tfrecord", "binary", batch_size=8)
    specs = {s.name: s for s in DataFormat(**data_format.to_dict()).feature_specs(data)}
    assert type(specs["price"]).__name__ == "NumericFeature"
    assert specs["tags"].multivalent and specs["user"].dtype == "int64"
    with pytest.raises(ValueError, match="no label feature 'clicked'"):
        infer_schema(tmp_path / "a.tfrecord", label_column="clicked")


@pytest.mark.parametrize(
    ("fmt", "layout"), [("libsvm", "libsvm"), ("libffm", "libffm")]
)
def test_tfrecord_of_sparse_text_reads_like_the_text(tmp_path, fmt, layout):
    from keras_fm.data.formats import DataFormat

    rows = random_sparse_rows(60, seed=2, with_fields=fmt == "libffm")
    if fmt == "libsvm":  # one feature per field, by position
        rows = [
            (r[0], None, [3 * k + i % 3 for k in range(3)], [1.0, 0.5, 2.0])
            for i, r in enumerate(rows)
        ]
    write_lines(tmp_path / "a.txt", [sparse_line(*r) for r in rows])
    convert_to_tfrecord(tmp_path / "a.txt", tmp_path / "a.tfrecord", fmt)
    by_position = fmt == "libsvm"
    text = DataFormat(fmt, fields_by_position=by_position).infer_sizes(
        tmp_path / "a.txt"
    )
    records = DataFormat("tfrecord", fields_by_position=by_position).infer_sizes(
        tmp_path / "a.tfrecord"
    )
    assert records.layout == layout
    assert (records.num_features, records.num_fields) == (
        text.num_features,
        text.num_fields,
    )
    assert rows_of(records.read(tmp_path / "a.tfrecord", "binary", 16)) == rows_of(
        text.read(tmp_path / "a.txt", "binary", 16)
    )
