import numpy as np
import tensorflow as tf

from keras_fm.data.shuffle import shuffle_in_windows


def _batches(rows, batch_size):
    ids = np.arange(rows, dtype=np.int64)
    columns = {"id": ids, "pair": np.stack([ids, -ids], axis=1)}
    return tf.data.Dataset.from_tensor_slices((columns, ids * 10)).batch(batch_size)


def _epochs(dataset, count):
    return [list(dataset.as_numpy_iterator()) for _ in range(count)]


def test_every_row_once_per_epoch_within_its_window_and_aligned():
    shuffled = shuffle_in_windows(_batches(103, 7), window=25, batch_size=10, seed=1)
    for batches in _epochs(shuffled, 3):
        sizes = [len(labels) for _, labels in batches]
        assert sizes == [10] * 10 + [3]
        ids = np.concatenate([columns["id"] for columns, _ in batches])
        assert sorted(ids) == list(range(103))
        # The row at position p comes from window p // 25, as in the input.
        np.testing.assert_array_equal(ids // 25, np.arange(103) // 25)
        for columns, labels in batches:  # every tensor took the same order
            np.testing.assert_array_equal(columns["pair"][:, 0], columns["id"])
            np.testing.assert_array_equal(columns["pair"][:, 1], -columns["id"])
            np.testing.assert_array_equal(labels, columns["id"] * 10)


def test_a_new_order_every_epoch_reproducible_from_the_seed():
    def orders(seed):
        shuffled = shuffle_in_windows(_batches(200, 16), 100, 16, seed=seed)
        return [
            np.concatenate([columns["id"] for columns, _ in batches])
            for batches in _epochs(shuffled, 3)
        ]

    first, again, other = orders(5), orders(5), orders(6)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    for epoch in first:
        assert np.mean(epoch != np.arange(200)) > 0.9  # most rows moved
    assert np.mean(first[0] != first[1]) > 0.9
    assert np.mean(first[0] != other[0]) > 0.9


def test_drop_remainder():
    shuffled = shuffle_in_windows(_batches(23, 5), 10, 4, seed=0, drop_remainder=True)
    sizes = [len(labels) for _, labels in shuffled.as_numpy_iterator()]
    assert sizes == [4] * 5
