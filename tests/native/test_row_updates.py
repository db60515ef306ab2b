"""keras_fm.native's one-pass row updates against loops and TensorFlow's ops."""

import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm import native
from keras_fm.native import build
from keras_fm.optimizers import LazyAdam, SparseAdagrad


@pytest.fixture(autouse=True)
def _ops():
    if native.row_ops() is None:
        pytest.skip("keras_fm.native's ops could not be built here")


def _case(seed, rows, row_shape, n, index_dtype):
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(size=(rows, *row_shape)).astype("float32") for _ in range(3)]
    arrays[2] = np.abs(arrays[2])  # second moments, accumulators
    indices = rng.integers(0, rows, n).astype(index_dtype)
    values = rng.normal(size=(n, *row_shape)).astype("float32")
    return arrays, indices, values


def _summed(indices, values):
    """Distinct rows in order of appearance, their gradient rows summed in order."""
    sums = {}
    for index, row in zip(indices, values, strict=True):
        sums[int(index)] = sums.get(int(index), np.zeros_like(row)) + row
    return sums


def _penalized(g, x, l1, l2):
    f = np.float32
    if not l1 and not l2:
        return g
    penalty = np.zeros_like(x)
    if l2:
        penalty = penalty + f(2.0 * l2) * x
    if l1:
        penalty = penalty + f(l1) * np.sign(x)
    return g + penalty


def _adam_loop(arrays, indices, values, alpha, beta_1, beta_2, epsilon, l1, l2):
    x, m, v = (a.copy() for a in arrays)
    f = np.float32
    c1, c2 = f(1 - beta_1), f(1 - beta_2)
    for row, grad in _summed(indices, values).items():
        g = _penalized(grad, x[row], l1, l2)
        m[row] = m[row] + (g - m[row]) * c1
        v[row] = v[row] + (g * g - v[row]) * c2
        x[row] = x[row] - m[row] * f(alpha) / (np.sqrt(v[row]) + f(epsilon))
    return x, m, v


def _adagrad_loop(arrays, indices, values, lr, epsilon, l1, l2):
    x, accumulator = arrays[0].copy(), arrays[2].copy()
    f = np.float32
    for row, grad in _summed(indices, values).items():
        g = _penalized(grad, x[row], l1, l2)
        accumulator[row] = accumulator[row] + g * g
        x[row] = x[row] - f(lr) * g / np.sqrt(accumulator[row] + f(epsilon))
    return x, accumulator


PENALTIES = [(0.0, 0.0), (0.0, 0.3), (0.02, 0.0), (0.02, 0.3)]


@pytest.mark.parametrize(("l1", "l2"), PENALTIES)
@pytest.mark.parametrize("index_dtype", ["int32", "int64"])
@pytest.mark.parametrize(("row_shape", "n"), [((1,), 40), ((16,), 300), ((3, 4), 7)])
def test_adam_is_an_explicit_loop_to_the_bit(row_shape, n, index_dtype, l1, l2):
    arrays, indices, values = _case(0, 50, row_shape, n, index_dtype)
    x, m, v = (tf.Variable(a) for a in arrays)
    gradient = tf.IndexedSlices(tf.constant(values), tf.constant(indices))
    native.sparse_row_adam(x, m, v, gradient, 0.01, 0.9, 0.999, 1e-7, l1, l2)
    want = _adam_loop(arrays, indices, values, 0.01, 0.9, 0.999, 1e-7, l1, l2)
    for got, expected in zip((x, m, v), want, strict=True):
        np.testing.assert_array_equal(got.numpy(), expected)
    untouched = np.setdiff1d(np.arange(50), indices)
    assert len(untouched) > 0 or n > 50
    np.testing.assert_array_equal(x.numpy()[untouched], arrays[0][untouched])


@pytest.mark.parametrize(("l1", "l2"), PENALTIES)
@pytest.mark.parametrize(("row_shape", "n"), [((1,), 40), ((16,), 300)])
def test_adagrad_is_an_explicit_loop_to_the_bit(row_shape, n, l1, l2):
    arrays, indices, values = _case(1, 50, row_shape, n, "int64")
    x, accumulator = tf.Variable(arrays[0]), tf.Variable(arrays[2])
    gradient = tf.IndexedSlices(tf.constant(values), tf.constant(indices))
    native.sparse_row_adagrad(x, accumulator, gradient, 0.1, 1e-7, l1, l2)
    want = _adagrad_loop(arrays, indices, values, 0.1, 1e-7, l1, l2)
    np.testing.assert_array_equal(x.numpy(), want[0])
    np.testing.assert_array_equal(accumulator.numpy(), want[1])


def _train(cls, steps, penalty, monkeypatch, one_pass):
    if not one_pass:
        monkeypatch.setattr(native, "row_ops", lambda: None)
    start = np.random.default_rng(3).normal(size=(30, 4)).astype("float32")
    variable = keras.Variable(start)
    optimizer = cls(learning_rate=0.05)
    optimizer.build([variable])
    if penalty is not None:
        optimizer.penalize_rows([(variable, penalty)])

    @tf.function
    def step(values, indices):
        gradient = tf.IndexedSlices(values, indices, tf.constant([30, 4]))
        optimizer.apply_gradients([(gradient, variable)])

    rng = np.random.default_rng(4)
    for _ in range(steps):
        indices = rng.integers(0, 30, 25)
        step(rng.normal(size=(25, 4)).astype("float32"), tf.constant(indices))
    graph = step.get_concrete_function(
        tf.TensorSpec((None, 4), tf.float32), tf.TensorSpec((None,), tf.int64)
    ).graph
    types = {op.type for op in graph.get_operations()}
    monkeypatch.undo()
    return np.array(variable), [np.array(s) for s in optimizer.variables[2:]], types


@pytest.mark.parametrize("cls", [LazyAdam, SparseAdagrad])
@pytest.mark.parametrize(
    "penalty", [None, keras.regularizers.L2(0.1), keras.regularizers.L1L2(0.01, 0.1)]
)
def test_optimizers_train_as_with_tensorflows_ops_to_the_bit(cls, penalty, monkeypatch):
    fused, fused_slots, fused_types = _train(cls, 6, penalty, monkeypatch, True)
    plain, plain_slots, plain_types = _train(cls, 6, penalty, monkeypatch, False)
    # Adam to the bit. Adagrad within a few ulps: in a tf.function, Grappler
    # rewrites TensorFlow's ``g / sqrt(a)`` as ``g * rsqrt(a)``, the op divides
    # (as eager TensorFlow and the explicit loop above do).
    # An ulp there at a step moves later steps by a few more.
    tol = {"rtol": 0, "atol": 0} if cls is LazyAdam else {"rtol": 1e-5, "atol": 1e-7}
    np.testing.assert_allclose(fused, plain, **tol)
    for got, want in zip(fused_slots, plain_slots, strict=True):
        np.testing.assert_allclose(got, want, **tol)
    name = {LazyAdam: "KerasFmSparseRowAdam", SparseAdagrad: "KerasFmSparseRowAdagrad"}
    assert name[cls] in fused_types and "ResourceScatterUpdate" not in fused_types
    assert "ResourceScatterUpdate" in plain_types and name[cls] not in plain_types


def test_an_index_outside_the_table_is_an_error_naming_it():
    x, m, v = (tf.Variable(tf.zeros((5, 2))) for _ in range(3))
    gradient = tf.IndexedSlices(tf.ones((3, 2)), tf.constant([0, 7, 1]))
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"rows\[1\] = 7 is not in \[0, 5\)"
    ):
        native.sparse_row_adam(x, m, v, gradient, 0.1, 0.9, 0.999, 1e-7)
    np.testing.assert_array_equal(x.numpy(), np.zeros((5, 2)))


def test_values_not_one_row_per_index_are_an_error():
    x, accumulator = tf.Variable(tf.zeros((5, 2))), tf.Variable(tf.ones((5, 2)))
    gradient = tf.IndexedSlices(tf.ones((3, 3)), tf.constant([0, 2, 1]))
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="one row of 2 per position"
    ):
        native.sparse_row_adagrad(x, accumulator, gradient, 0.1, 1e-7)


def test_without_a_compiler_the_optimizers_keep_tensorflows_ops(
    monkeypatch, tmp_path, caplog
):
    monkeypatch.setenv("KERAS_FM_CACHE", str(tmp_path))
    monkeypatch.setenv("CXX", "no-such-compiler")
    native.row_ops.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="keras_fm"):
            assert native.row_ops() is None
        assert "no C++ compiler found (looked for no-such-compiler)" in caplog.text
        variable = keras.Variable(np.zeros((6, 2), "float32"))
        optimizer = LazyAdam(0.1)
        gradient = tf.IndexedSlices(tf.ones((2, 2)), tf.constant([1, 1]), [6, 2])
        optimizer.apply_gradients([(gradient, variable)])
        np.testing.assert_allclose(np.array(variable)[1], [-0.1, -0.1], rtol=1e-5)
    finally:
        native.row_ops.cache_clear()


def test_turned_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("KERAS_FM_NATIVE", "0")
    native.row_ops.cache_clear()
    try:
        assert native.row_ops() is None
    finally:
        native.row_ops.cache_clear()


def test_a_build_is_cached_and_a_changed_source_builds_anew(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_FM_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "ops.cc"
    source.write_text('#include "tensorflow/core/framework/op.h"\n')
    first = build.built_library(source)
    assert first.exists() and first.parent == tmp_path / "cache"
    built_at = first.stat().st_mtime_ns
    assert build.built_library(source) == first
    assert first.stat().st_mtime_ns == built_at
    source.write_text(source.read_text() + "// changed\n")
    assert build.built_library(source) != first


def test_a_failed_build_names_the_compilers_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_FM_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "broken.cc"
    source.write_text("this is not C++\n")
    with pytest.raises(build.BuildError, match=r"compiling broken\.cc failed"):
        build.built_library(source)
    assert not list((tmp_path / "cache").glob("*.so"))
