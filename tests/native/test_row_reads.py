"""keras_fm.native.row_reads's prefetching gather against np.take and tf.gather."""

import numpy as np
import pytest
import tensorflow as tf

from keras_fm.native import row_reads
from keras_fm.sparse_read import gather_rows


@pytest.fixture(autouse=True)
def _ops():
    if row_reads.read_ops() is None:
        pytest.skip("keras_fm.native's gather could not be built here")


def _gather_op(variable, ids):
    return row_reads.read_ops().keras_fm_gather_rows(variable.handle, ids)


@pytest.mark.parametrize("index_dtype", ["int32", "int64"])
@pytest.mark.parametrize(
    ("row_shape", "ids_shape"),
    [((1,), (40,)), ((16,), (300,)), ((3, 4), (7,)), ((5,), (6, 3)), ((2,), (0,))],
)
def test_the_rows_are_np_take(row_shape, ids_shape, index_dtype):
    rng = np.random.default_rng(0)
    table = rng.normal(size=(50, *row_shape)).astype("float32")
    ids = rng.integers(0, 50, ids_shape).astype(index_dtype)  # with repeats
    rows = _gather_op(tf.Variable(table), tf.constant(ids))
    assert rows.shape == (*ids_shape, *row_shape)
    np.testing.assert_array_equal(rows.numpy(), np.take(table, ids, axis=0))


@pytest.mark.parametrize("bad", [50, -1])
def test_an_id_outside_the_table_is_an_error_naming_it(bad):
    variable = tf.Variable(tf.zeros((50, 2)))
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=rf"indices\[1\] = {bad} is not in \[0, 50\)",
    ):
        _gather_op(variable, tf.constant([0, bad, 1], tf.int64))


@pytest.fixture
def small_tables(monkeypatch):
    """Any table takes the op (the tests' tables are small)."""
    monkeypatch.setattr(row_reads, "MIN_ENTRIES", 1)


def _step(variable, jit_compile=False, tape=True):
    """A traced step: the rows of ``variable`` at 2-D ids, a weighted sum of
    them and its gradient (None without a tape)."""
    weights = tf.constant(np.arange(1, 5, dtype="float32"))

    @tf.function(jit_compile=jit_compile)
    def step(ids):
        if not tape:
            return gather_rows(variable, ids), None
        with tf.GradientTape() as recording:
            rows = gather_rows(variable, ids)
            loss = tf.reduce_sum(rows * weights)
        return rows, recording.gradient(loss, variable)

    return step


def _types(step, ids):
    return {op.type for op in step.get_concrete_function(ids).graph.get_operations()}


def test_under_a_tape_gather_rows_takes_the_op_with_tf_gathers_gradient(
    small_tables,
):
    table = np.random.default_rng(1).normal(size=(10, 4)).astype("float32")
    variable = tf.Variable(table)
    ids = tf.constant([[1, 3], [1, 9]], tf.int64)
    step = _step(variable)
    rows, gradient = step(ids)
    assert "KerasFmGatherRows" in _types(step, ids)
    assert "ResourceGather" not in _types(step, ids)
    np.testing.assert_array_equal(rows.numpy(), table[ids.numpy()])
    assert isinstance(gradient, tf.IndexedSlices)
    np.testing.assert_array_equal(gradient.indices.numpy(), [1, 3, 1, 9])
    np.testing.assert_array_equal(
        gradient.values.numpy(), np.tile([1, 2, 3, 4], (4, 1))
    )
    np.testing.assert_array_equal(gradient.dense_shape.numpy(), [10, 4])


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"tape": False}, "no tape: evaluation, prediction, SavedModels"),
        ({"jit_compile": True}, "XLA compiles its own gather"),
    ],
)
def test_elsewhere_gather_rows_keeps_tf_gather(small_tables, settings, reason):
    variable = tf.Variable(tf.ones((10, 4)))
    ids = tf.constant([[1, 3], [1, 9]], tf.int64)
    step = _step(variable, **settings)
    step(ids)
    types = _types(step, ids)
    assert "KerasFmGatherRows" not in types, reason
    if not settings.get("jit_compile"):
        assert "ResourceGather" in types


def test_small_tables_keep_tf_gather():
    variable = tf.Variable(tf.ones((10, 4)))
    ids = tf.constant([[1, 3]], tf.int64)
    step = _step(variable)
    step(ids)
    assert "KerasFmGatherRows" not in _types(step, ids)
    assert row_reads.MIN_ENTRIES > 40


def _trained_deepfm(monkeypatch, min_entries):
    import keras

    from keras_fm.features import IdFeature
    from keras_fm.models import build_deepfm, compile_for_task

    monkeypatch.setattr(row_reads, "MIN_ENTRIES", min_entries)
    taken = []
    gather = row_reads.gather

    def counted(variable, ids):
        rows = gather(variable, ids)
        taken.append(rows is not None)
        return rows

    monkeypatch.setattr(row_reads, "gather", counted)
    rng = np.random.default_rng(2)
    x = {"u": rng.integers(0, 60, 512), "i": rng.integers(0, 30, 512)}
    y = ((x["u"] % 3 == 0) | (x["i"] < 8)).astype("float32")
    keras.utils.set_random_seed(3)
    model = build_deepfm(
        [IdFeature("u", 60), IdFeature("i", 30)], embedding_dim=4, dnn_units=(8,)
    )
    compile_for_task(model, "binary", jit_compile=False)
    model.fit(x, y, batch_size=64, epochs=2, shuffle=False, verbose=0)
    return model, taken


def test_a_model_trains_as_with_tf_gather_and_exports_without_the_op(
    monkeypatch, tmp_path
):
    from keras_fm.export import export_saved_model

    with_op, taken = _trained_deepfm(monkeypatch, 1)
    assert any(taken)  # the training step's gathers
    plain, taken = _trained_deepfm(monkeypatch, 1 << 40)
    assert taken and not any(taken)
    assert len(with_op.weights) == len(plain.weights)
    for mine, theirs in zip(with_op.weights, plain.weights, strict=True):
        np.testing.assert_allclose(np.array(mine), np.array(theirs), rtol=1e-6)
    assert not np.allclose(np.array(with_op.weights[0]), 0)
    monkeypatch.setattr(row_reads, "MIN_ENTRIES", 1)
    path = export_saved_model(with_op, tmp_path / "model", explain=True)
    saved = (path / "saved_model.pb").read_bytes()
    assert b"ResourceGather" in saved
    assert b"KerasFmGatherRows" not in saved
