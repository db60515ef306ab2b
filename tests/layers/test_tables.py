"""Embedding tables filled by blocks: the same distribution, every row drawn."""

import keras
import numpy as np
import pytest

from keras_fm.layers import tables


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(tables, "BLOCK_ENTRIES", 64)  # 4 rows of 16 per block


def _table(initializer, shape=(1001, 16)):
    layer = keras.layers.Layer()
    return np.array(tables.add_table(layer, "t", shape, initializer))


def test_every_block_is_a_fresh_draw_of_the_distribution(small_blocks):
    values = _table(keras.initializers.RandomNormal(stddev=0.5))
    assert (values != 0).all()  # the last, partial block too
    assert not np.array_equal(values[:4], values[4:8])  # blocks differ
    assert abs(values.mean()) < 0.01 and abs(values.std() - 0.5) < 0.01
    uniform = _table(keras.initializers.RandomUniform(-0.2, 0.3))
    assert uniform.min() >= -0.2 and uniform.max() < 0.3
    assert abs(uniform.mean() - 0.05) < 0.005


def test_a_seeded_initializer_gives_the_same_table(small_blocks):
    first = _table(keras.initializers.TruncatedNormal(stddev=0.1, seed=3))
    again = _table(keras.initializers.TruncatedNormal(stddev=0.1, seed=3))
    other = _table(keras.initializers.TruncatedNormal(stddev=0.1, seed=4))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert np.abs(first).max() <= 0.2 + 1e-6  # truncated at two deviations


def test_shape_dependent_initializers_are_drawn_in_one_piece(small_blocks):
    initializer = keras.initializers.GlorotUniform(seed=1)
    expected = np.array(initializer((1001, 16)))
    np.testing.assert_array_equal(_table(initializer, (1001, 16)), expected)


def test_small_tables_are_drawn_in_one_piece():
    initializer = keras.initializers.RandomNormal(stddev=0.1, seed=7)
    expected = np.array(initializer((50, 8)))
    np.testing.assert_array_equal(_table(initializer, (50, 8)), expected)


def test_field_embedding_fills_its_table_by_blocks(small_blocks):
    from keras_fm.features import IdFeature
    from keras_fm.layers import FieldEmbedding

    layer = FieldEmbedding([IdFeature("user", 500)], embedding_dim=8)
    vectors, _ = layer({"user": np.array([3, 400])})
    table = np.array(layer.embeddings)
    assert (table != 0).all() and abs(table.std() - 0.01) < 0.001
    np.testing.assert_allclose(np.array(vectors)[:, 0], table[[3, 400]], rtol=1e-6)
