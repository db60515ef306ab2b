"""Training steps read the rows of a table they use, never the whole table."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm.features import IdFeature
from keras_fm.layers import FieldAwareEmbedding, FieldEmbedding, SparseFM
from keras_fm.optimizers import LazyAdam, SparseAdagrad, SparseFtrl
from keras_fm.sparse_read import gather_rows

ROWS = 1000


def dense_reads(function, *args):
    """Shapes of the whole-variable reads (ReadVariableOp) in a traced step."""
    graph = tf.function(function).get_concrete_function(*args).graph
    return [
        tuple(op.outputs[0].shape)
        for op in graph.get_operations()
        if op.type == "ReadVariableOp"
    ]


def test_gather_rows_values_and_gradient():
    variable = keras.Variable(np.arange(12, dtype="float32").reshape(4, 3))
    ids = tf.constant([2, 0, 2])
    with tf.GradientTape() as tape:
        rows = gather_rows(variable, ids, "float16")
        loss = tf.reduce_sum(tf.cast(rows, "float32"))
    assert rows.dtype == tf.float16
    np.testing.assert_array_equal(rows, variable.numpy()[[2, 0, 2]])
    gradient = tape.gradient(loss, variable.value)
    assert isinstance(gradient, tf.IndexedSlices)
    np.testing.assert_array_equal(gradient.indices, [2, 0, 2])


@pytest.mark.parametrize(
    "make",
    [
        lambda f: FieldEmbedding(f, 8),
        lambda f: FieldAwareEmbedding(f, 4),
        lambda f: FieldAwareEmbedding(f, 4, num_buckets=500),
    ],
    ids=["field_embedding", "field_aware", "field_aware_buckets"],
)
def test_field_layers_read_only_used_rows(make):
    features = [IdFeature(f"f{i}", vocabulary_size=ROWS) for i in range(3)]
    layer = make(features)
    inputs = {f.name: tf.constant([[1], [7]]) for f in features}
    layer(inputs)

    def step(inputs):
        with tf.GradientTape() as tape:
            vectors, first_order = layer(inputs)
            loss = tf.reduce_sum(vectors) + tf.reduce_sum(first_order)
        return tape.gradient(loss, [w.value for w in layer.trainable_weights])

    specs = {name: tf.TensorSpec((None, 1), tf.int32) for name in inputs}
    assert dense_reads(step, specs) == [()]  # the bias only


def test_sparse_fm_reads_only_used_rows():
    layer = SparseFM(ROWS, 8)
    inputs = {"ids": tf.constant([[1, 5]]), "values": tf.constant([[1.0, 0.5]])}
    layer(inputs)
    specs = {
        "ids": tf.TensorSpec((None, 2), tf.int32),
        "values": tf.TensorSpec((None, 2), tf.float32),
    }
    assert dense_reads(layer, specs) == [()]


@pytest.mark.parametrize("optimizer_cls", [LazyAdam, SparseAdagrad, SparseFtrl])
def test_sparse_optimizers_read_only_touched_rows(optimizer_cls):
    variable = keras.Variable(np.zeros((ROWS, 4), "float32"))
    optimizer = optimizer_cls(0.1)
    optimizer.build([variable])

    def step(values, indices):
        gradient = tf.IndexedSlices(values, indices, tf.constant([ROWS, 4]))
        optimizer.apply_gradients([(gradient, variable)])
        return tf.constant(0)

    reads = dense_reads(
        step, tf.TensorSpec((None, 4), tf.float32), tf.TensorSpec((None,), tf.int32)
    )
    assert all(np.prod(shape, dtype=int) < ROWS for shape in reads), reads
