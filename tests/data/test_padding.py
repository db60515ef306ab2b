"""Raw libsvm rows padded to dense tensors: the same model, compiled by XLA."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm.data import pad_rows, padded_widths, read_libsvm
from keras_fm.data.formats import DataFormat
from keras_fm.models import build_sparse_fm, compile_for_task


def test_widths_add_at_most_three_slots_or_a_quarter():
    widths = padded_widths(10_000)
    assert widths[:12] == [4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64]
    assert widths == sorted(set(widths))
    for length in range(1, 10_000):
        width = next(w for w in widths if w >= length)
        assert width - length <= max(3, length // 4), length


def random_rows(rng, count, longest):
    return [
        [(int(rng.integers(0, 50)), float(rng.normal())) for _ in range(n)]
        for n in rng.integers(0, longest + 1, size=count)
    ]


def ragged(rows):
    ids = tf.ragged.constant([[i for i, _ in r] for r in rows], dtype=tf.int64)
    values = tf.ragged.constant([[x for _, x in r] for r in rows], dtype=tf.float32)
    return {"ids": ids, "values": values}


@pytest.mark.parametrize("longest", [0, 3, 10, 17, 70])
def test_pad_rows_matches_padding_by_hand(longest):
    rng = np.random.default_rng(longest)
    rows = random_rows(rng, 9, longest)
    labels = tf.range(9)
    features, passed = pad_rows({**ragged(rows), "other": labels}, labels)
    width = max((len(r) for r in rows), default=0)
    width = next(w for w in padded_widths() if w >= width)
    ids = np.full((9, width), -1)
    values = np.zeros((9, width), "float32")
    for index, row in enumerate(rows):
        ids[index, : len(row)] = [i for i, _ in row]
        values[index, : len(row)] = [x for _, x in row]
    np.testing.assert_array_equal(features["ids"].numpy(), ids)
    np.testing.assert_array_equal(features["values"].numpy(), values)
    assert features["other"] is labels and passed is labels


def test_padded_model_scores_as_the_ragged_one_and_compiles_with_xla():
    rng = np.random.default_rng(1)
    rows = random_rows(rng, 32, 12)
    keras.utils.set_random_seed(0)
    padded = build_sparse_fm(60, embedding_dim=4, padded=True)
    flat = build_sparse_fm(60, embedding_dim=4)
    for model in (padded, flat):
        model.get_layer("fm").embeddings.assign(rng.normal(size=(61, 4)) * 0.3)
    flat.set_weights(padded.get_weights())
    expected = flat.predict(ragged(rows), verbose=0)
    compile_for_task(padded)
    assert padded.jit_compile  # ragged inputs rule XLA out
    assert not compile_for_task(flat).jit_compile
    np.testing.assert_allclose(
        padded.predict(pad_rows(ragged(rows)), verbose=0), expected, rtol=1e-5
    )
    x, y = pad_rows(ragged(rows)), np.ones((32, 1), "float32")
    assert padded.jit_compile and np.isfinite(padded.train_on_batch(x, y)[0])


def test_data_format_reads_padded_rows_and_sizes_them(tmp_path):
    path = tmp_path / "rows.libsvm"
    path.write_text("1 3:1 7:0.5\n0 41:2\n1 2:1 5:1 9:1 11:1 13:1\n")
    data_format = DataFormat("libsvm", padded=True)
    data = data_format.read(path, "binary", batch_size=2)
    assert data_format.with_sizes_of([data]).num_features == 42
    batches = list(data)
    assert [b[0]["ids"].shape.as_list() for b in batches] == [[2, 4], [1, 8]]
    np.testing.assert_array_equal(batches[0][0]["ids"][1], [41, -1, -1, -1])
    plain = read_libsvm(path, task="binary", batch_size=2)
    np.testing.assert_array_equal(
        next(iter(plain))[0]["values"].to_tensor(shape=[2, 4]),
        batches[0][0]["values"],
    )
    assert DataFormat(**data_format.to_dict()).padded
