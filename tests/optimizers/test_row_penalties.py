"""Whole-table penalties applied by the row-sparse optimizers to updated rows."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm.features import IdFeature
from keras_fm.models import build_deepfm, build_fm, compile_for_task
from keras_fm.models.table_penalties import table_penalties
from keras_fm.optimizers import LazyAdam, SparseAdagrad, SparseFtrl
from keras_fm.optimizers.row_penalties import is_separable, penalty_gradient

PENALTIES = [
    keras.regularizers.L2(0.3),
    keras.regularizers.L1(0.2),
    keras.regularizers.L1L2(l1=0.1, l2=0.4),
]


@pytest.mark.parametrize("regularizer", PENALTIES)
def test_penalty_gradient_is_the_regularizers_gradient(regularizer):
    rows = tf.constant(np.random.default_rng(0).normal(size=(5, 3)), "float32")
    with tf.GradientTape() as tape:
        tape.watch(rows)
        value = regularizer(rows)
    expected = tape.gradient(value, rows)
    np.testing.assert_allclose(penalty_gradient(regularizer, rows), expected, rtol=1e-6)


def test_only_entrywise_penalties_are_separable():
    assert all(is_separable(r) for r in PENALTIES)
    assert not is_separable(keras.regularizers.OrthogonalRegularizer(0.1))


ROWS, DIM = 10, 3


def _steps(cls, penalty, jit_compile, indices_per_step):
    start = np.random.default_rng(1).normal(size=(ROWS, DIM)).astype("float32")
    variable = keras.Variable(start)
    optimizer = cls(learning_rate=0.1)
    optimizer.build([variable])
    optimizer.penalize_rows([(variable, penalty)])

    def step(values, indices):
        gradient = tf.IndexedSlices(values, indices, tf.constant([ROWS, DIM]))
        optimizer.apply_gradients([(gradient, variable)])

    step = tf.function(step, jit_compile=jit_compile)
    rng = np.random.default_rng(2)
    for indices in indices_per_step:
        values = rng.normal(size=(len(indices), DIM)).astype("float32")
        step(values, tf.constant(indices, "int32"))
    return start, np.array(variable)


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("cls", [LazyAdam, SparseAdagrad, SparseFtrl])
def test_touched_rows_get_the_penalty_once_and_others_stay(cls, jit_compile, route):
    penalty = keras.regularizers.L2(0.5)
    steps = [[1, 4, 4, 7, 1, 1]]  # rows 1 and 4 repeated
    start, got = _steps(cls, penalty, jit_compile, steps)
    # The reference: the dense optimizer on the penalized loss, one step.
    variable = keras.Variable(start)
    reference = {
        LazyAdam: keras.optimizers.Adam,
        SparseAdagrad: keras.optimizers.Adagrad,
        SparseFtrl: keras.optimizers.Ftrl,
    }[cls](learning_rate=0.1)
    values = np.random.default_rng(2).normal(size=(6, DIM)).astype("float32")
    dense = tf.math.unsorted_segment_sum(values, steps[0], ROWS)
    dense += penalty_gradient(penalty, tf.constant(start))
    reference.apply_gradients([(dense, variable)])
    touched = [1, 4, 7]
    np.testing.assert_allclose(got[touched], np.array(variable)[touched], rtol=1e-5)
    untouched = np.setdiff1d(np.arange(ROWS), touched)
    np.testing.assert_array_equal(got[untouched], start[untouched])


def test_without_xla_and_under_it_agree_over_steps(route):
    steps = [list(np.random.default_rng(s).integers(0, ROWS, 8)) for s in range(5)]
    penalty = keras.regularizers.L1L2(l1=0.01, l2=0.2)
    plain = _steps(LazyAdam, penalty, False, steps)[1]
    compiled = _steps(LazyAdam, penalty, True, steps)[1]
    np.testing.assert_allclose(compiled, plain, rtol=1e-5, atol=1e-6)


def _all_ids_every_step(model_builder, optimizer, regularizer):
    """FM on 2 fields whose every id is in every batch: a penalty on the rows
    a step updates is then the whole-table penalty."""
    keras.utils.set_random_seed(5)
    features = [IdFeature("u", 6), IdFeature("i", 6)]
    model = model_builder(
        features,
        embedding_dim=3,
        embeddings_regularizer=regularizer,
        weights_regularizer=regularizer,
        embeddings_l2=0.0,
    )
    compile_for_task(model, "binary", optimizer, jit_compile=False)
    x = {"u": np.tile(np.arange(7), 4), "i": np.repeat(np.arange(7), 4)}
    y = (x["u"] > x["i"]).astype("float32")
    model.fit(x, y, batch_size=28, epochs=6, shuffle=False, verbose=0)
    return model


def test_a_model_trains_as_with_the_whole_table_penalty_when_every_row_is_used(
    route,
):
    penalty = keras.regularizers.L2(0.05)
    lazy = _all_ids_every_step(build_fm, LazyAdam(0.05), penalty)
    dense = _all_ids_every_step(build_fm, keras.optimizers.Adam(0.05), penalty)
    for got, want in zip(lazy.get_weights(), dense.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert not lazy.losses and dense.losses  # the term left the loss


def test_compile_for_task_places_the_penalties_for_its_optimizer():
    model = build_deepfm([IdFeature("u", 20), IdFeature("i", 9)], dnn_units=(4,))
    pairs = table_penalties(model)
    assert len(pairs) == 2  # the default: FuxiCTR's whole-table L2 on both tables
    compile_for_task(model, "binary", LazyAdam(1e-3))
    assert all(table.regularizer is None for table, _ in pairs)
    compile_for_task(model, "binary", keras.optimizers.Adam(1e-3))
    assert all(table.regularizer is penalty for table, penalty in pairs)
    assert len(model.losses) == 2


@pytest.mark.parametrize("cls", [LazyAdam, SparseAdagrad, SparseFtrl])
def test_a_penalized_update_reads_the_variable_rows_once(cls, composed):
    variable = keras.Variable(np.zeros((ROWS, DIM), "float32"))
    optimizer = cls(learning_rate=0.1)
    optimizer.build([variable])
    optimizer.penalize_rows([(variable, keras.regularizers.L2(0.5))])

    def step(values, indices):
        gradient = tf.IndexedSlices(values, indices, tf.constant([ROWS, DIM]))
        optimizer.apply_gradients([(gradient, variable)])

    graph = (
        tf.function(step)
        .get_concrete_function(
            tf.TensorSpec((None, DIM), tf.float32), tf.TensorSpec((None,), tf.int32)
        )
        .graph
    )
    gathers = [
        op
        for op in graph.get_operations()
        if op.type == "ResourceGather"
        and op.inputs[0].op.type == "Placeholder"
        and op.inputs[0].dtype == tf.resource
    ]
    # one gather per variable: the table's own and one per slot
    slots = len([v for v in optimizer.variables if tuple(v.shape) == (ROWS, DIM)])
    assert len(gathers) == slots + 1, [op.name for op in gathers]
