"""Row-sparse optimizers against Keras's dense ones on the rows they touch."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm.optimizers import LazyAdam, SparseAdagrad, SparseFtrl

ROWS, DIM = 12, 3


def sparse_gradients(seed, steps, touch_all=False):
    """Per step: IndexedSlices with repeated indices (as a gather's gradient)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        if touch_all:
            indices = np.concatenate([np.arange(ROWS), rng.integers(0, ROWS, 5)])
        else:
            indices = rng.integers(0, ROWS // 2, 7)  # rows 6..11 never touched
        values = rng.normal(size=(len(indices), DIM)).astype("float32")
        out.append(
            tf.IndexedSlices(
                tf.constant(values), tf.constant(indices), tf.constant([ROWS, DIM])
            )
        )
    return out


def run(optimizer, gradients, dense_gradients=False):
    start = np.random.default_rng(0).normal(size=(ROWS, DIM)).astype("float32")
    variable = keras.Variable(start)
    bias = keras.Variable(np.ones(DIM, "float32"))
    for step, gradient in enumerate(gradients):
        if dense_gradients:
            gradient = tf.convert_to_tensor(gradient)
        bias_gradient = tf.constant(np.full(DIM, 0.1 * (step + 1), "float32"))
        optimizer.apply_gradients([(gradient, variable), (bias_gradient, bias)])
    slots = [np.array(v) for v in optimizer.variables[2:]]  # iterations, lr first
    return np.array(variable), np.array(bias), start, slots


CASES = [
    (LazyAdam, keras.optimizers.Adam, {"learning_rate": 0.05}),
    (SparseAdagrad, keras.optimizers.Adagrad, {"learning_rate": 0.3}),
    (
        SparseFtrl,
        keras.optimizers.Ftrl,
        {
            "learning_rate": 0.2,
            "l1_regularization_strength": 0.01,
            "l2_regularization_strength": 0.02,
            "l2_shrinkage_regularization_strength": 0.01,
            "beta": 0.1,
        },
    ),
]


@pytest.mark.parametrize(("sparse", "dense", "kwargs"), CASES)
def test_equal_to_keras_when_every_row_is_touched(sparse, dense, kwargs):
    gradients = sparse_gradients(1, steps=6, touch_all=True)
    got = run(sparse(**kwargs), gradients)
    want = run(dense(**kwargs), gradients, dense_gradients=True)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)  # dense path: Keras's
    for mine, theirs in zip(got[3], want[3], strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("sparse", "dense", "kwargs"), CASES)
def test_touched_rows_follow_keras_and_untouched_rows_stay(sparse, dense, kwargs):
    gradients = sparse_gradients(2, steps=1)
    got, _, start, slots = run(sparse(**kwargs), gradients)
    want, *_ = run(dense(**kwargs), gradients, dense_gradients=True)
    touched = np.unique(gradients[0].indices.numpy())
    untouched = np.setdiff1d(np.arange(ROWS), touched)
    assert len(untouched) >= 6
    # One step: a touched row's update is the dense one, whatever the optimizer.
    np.testing.assert_allclose(got[touched], want[touched], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got[untouched], start[untouched])
    fresh = run(dense(**kwargs), [])[3]
    for slot, initial in zip(slots[: len(fresh) // 2], fresh, strict=False):
        np.testing.assert_array_equal(slot[untouched], initial[untouched])


def test_sparse_adagrad_equals_adagrad_on_any_rows():
    """Adagrad leaves zero-gradient rows alone, so the two agree everywhere."""
    gradients = sparse_gradients(3, steps=5)
    got = run(SparseAdagrad(learning_rate=0.3), gradients)
    want = run(keras.optimizers.Adagrad(learning_rate=0.3), gradients, True)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)


def test_lazy_adam_keeps_stale_moments_of_rows_not_seen():
    """Rows seen only at step 1: Adam keeps moving them, LazyAdam does not."""
    shape = tf.constant([ROWS, DIM])
    first = tf.IndexedSlices(tf.ones((1, DIM)), tf.constant([0]), shape)
    later = tf.IndexedSlices(tf.ones((1, DIM)), tf.constant([1]), shape)
    lazy = run(LazyAdam(learning_rate=0.1), [first, later, later])[0]
    stock = run(keras.optimizers.Adam(learning_rate=0.1), [first, later, later], True)[
        0
    ]
    start = run(LazyAdam(), [])[2]
    np.testing.assert_allclose(lazy[0], start[0] - 0.1, atol=1e-5)  # one step only
    assert (stock[0] < lazy[0] - 0.05).all()  # Adam's momentum moved it twice more


@pytest.mark.parametrize("cls", [LazyAdam, SparseAdagrad, SparseFtrl])
def test_serialization_and_model_fit(cls, tmp_path):
    optimizer = cls(learning_rate=0.01)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is cls and restored.get_config() == optimizer.get_config()
    from keras_fm.features import IdFeature
    from keras_fm.models import build_fm, compile_for_task

    model = build_fm([IdFeature("u", 50), IdFeature("i", 40)], embedding_dim=4)
    compile_for_task(model, "binary", cls(learning_rate=0.05))
    rng = np.random.default_rng(0)
    x = {"u": rng.integers(0, 50, 512), "i": rng.integers(0, 40, 512)}
    y = ((x["u"] % 2) | (x["i"] < 10)).astype("float32")
    history = model.fit(x, y, batch_size=64, epochs=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] - 0.05
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is cls
