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
def test_equal_to_keras_when_every_row_is_touched(sparse, dense, kwargs, route):
    gradients = sparse_gradients(1, steps=6, touch_all=True)
    got = run(sparse(**kwargs), gradients)
    want = run(dense(**kwargs), gradients, dense_gradients=True)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)  # dense path: Keras's
    for mine, theirs in zip(got[3], want[3], strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("sparse", "dense", "kwargs"), CASES)
def test_touched_rows_follow_keras_and_untouched_rows_stay(
    sparse, dense, kwargs, route
):
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


def test_sparse_adagrad_equals_adagrad_on_any_rows(route):
    """Adagrad leaves zero-gradient rows alone, so the two agree everywhere."""
    gradients = sparse_gradients(3, steps=5)
    got = run(SparseAdagrad(learning_rate=0.3), gradients)
    want = run(keras.optimizers.Adagrad(learning_rate=0.3), gradients, True)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)


def test_lazy_adam_keeps_stale_moments_of_rows_not_seen(route):
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


def test_representatives_name_one_position_per_index():
    from keras_fm.optimizers.sparse_rows import representatives

    indices = np.random.default_rng(4).integers(0, 30, 200).astype("int32")
    scratch = tf.Variable(tf.fill((30,), -7))
    found = representatives(tf.constant(indices), scratch).numpy()
    np.testing.assert_array_equal(indices[found], indices)  # same index
    np.testing.assert_array_equal(found[found], found)  # a fixed point
    own = found == np.arange(len(indices))
    assert sorted(indices[own]) == sorted(set(indices))  # one per index


@pytest.mark.parametrize("row_shape", [(1,), (2,), (16,), (3, 4)])
@pytest.mark.parametrize("traced", [False, True])
def test_unique_rows_sum_each_row_like_a_loop(row_shape, traced):
    """Rows of one entry take TensorFlow's kernel, wider ones XLA's
    (`summed_by_position`); both against a loop, at two batch lengths."""
    from keras_fm.optimizers.sparse_rows import unique_rows

    function = tf.function(unique_rows) if traced else unique_rows
    rng = np.random.default_rng(len(row_shape) + row_shape[0])
    for length in (40, 33):
        indices = rng.integers(0, 50, length)
        values = rng.normal(size=(length, *row_shape)).astype("float32")
        gradient = tf.IndexedSlices(tf.constant(values), tf.constant(indices))
        rows, sums = (t.numpy() for t in function(gradient))
        assert list(rows) == list(dict.fromkeys(indices))  # in first-seen order
        assert sums.shape == (len(rows), *row_shape)
        for row, total in zip(rows, sums, strict=True):
            expected = np.zeros(row_shape, "float32")
            for index, value in zip(indices, values, strict=True):
                if index == row:
                    expected += value
            np.testing.assert_allclose(total, expected, rtol=1e-5, atol=1e-6)


def test_summed_rows_under_xla_sum_each_row_once():
    from keras_fm.optimizers.sparse_rows import representatives, summed_rows

    rng = np.random.default_rng(5)
    indices = rng.integers(0, ROWS, 40).astype("int32")
    values = rng.normal(size=(40, DIM)).astype("float32")
    scratch = tf.Variable(tf.zeros((ROWS,), tf.int32))

    @tf.function(jit_compile=True)
    def rows_and_sums(indices, values):
        gradient = tf.IndexedSlices(values, indices, tf.constant([ROWS, DIM]))
        return summed_rows(gradient, representatives(indices, scratch), ROWS)

    rows, sums = (t.numpy() for t in rows_and_sums(indices, values))
    kept = rows < ROWS
    assert sorted(rows[kept]) == sorted(set(indices))
    assert (rows[~kept] == ROWS).all()  # past the end: skipped by XLA's writes
    for row, total in zip(rows[kept], sums[kept], strict=True):
        np.testing.assert_allclose(total, values[indices == row].sum(0), rtol=1e-5)


@pytest.mark.parametrize(("sparse", "dense", "kwargs"), CASES)
def test_under_xla_equal_to_without(sparse, dense, kwargs):
    """XLA cannot compile tf.unique: the scratch path must give the same steps."""
    gradients = sparse_gradients(6, steps=5)
    eager = run(sparse(**kwargs), gradients)
    optimizer = sparse(**kwargs)
    start = np.random.default_rng(0).normal(size=(ROWS, DIM)).astype("float32")
    variable = keras.Variable(start)
    bias = keras.Variable(np.ones(DIM, "float32"))
    optimizer.build([variable, bias])

    @tf.function(jit_compile=True)
    def step(values, indices, bias_gradient):
        gradient = tf.IndexedSlices(values, indices, tf.constant([ROWS, DIM]))
        optimizer.apply_gradients([(gradient, variable), (bias_gradient, bias)])

    for index, gradient in enumerate(gradients):
        bias_gradient = tf.constant(np.full(DIM, 0.1 * (index + 1), "float32"))
        step(gradient.values, tf.cast(gradient.indices, "int32"), bias_gradient)
    np.testing.assert_allclose(np.array(variable), eager[0], rtol=1e-5, atol=1e-6)
    slots = [np.array(v) for v in optimizer.variables[2:]]
    for mine, theirs in zip(slots, eager[3], strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [LazyAdam, SparseAdagrad, SparseFtrl])
def test_scratch_is_not_state(cls):
    """The scratch vectors hold nothing: not among the variables Keras saves."""
    stock = {LazyAdam: keras.optimizers.Adam, SparseAdagrad: keras.optimizers.Adagrad}
    reference = stock.get(cls, keras.optimizers.Ftrl)()
    variables = [keras.Variable(np.zeros((ROWS, DIM), "float32"))]
    optimizer = cls()
    optimizer.build(variables)
    reference.build(variables)
    assert len(optimizer.variables) == len(reference.variables)
    assert list(optimizer._row_state.by_rows) == [ROWS]


def test_a_model_trains_the_same_with_and_without_xla():
    from keras_fm.features import IdFeature
    from keras_fm.models import build_fm, compile_for_task

    rng = np.random.default_rng(1)
    x = {"u": rng.integers(0, 50, 640), "i": rng.integers(0, 40, 640)}
    y = ((x["u"] % 2) | (x["i"] < 10)).astype("float32")
    weights = []
    for jit_compile in (True, False):
        keras.utils.set_random_seed(2)
        model = build_fm([IdFeature("u", 50), IdFeature("i", 40)], embedding_dim=4)
        compile_for_task(model, "binary", LazyAdam(0.05), jit_compile=jit_compile)
        assert model.jit_compile is jit_compile
        model.fit(x, y, batch_size=64, epochs=3, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    for xla, plain in zip(*weights, strict=True):
        np.testing.assert_allclose(xla, plain, rtol=1e-4, atol=1e-5)


def test_tables_gathered_with_the_same_ids_share_their_source():
    """The latent and first-order tables of a batch are gathered with the
    same ids (reshaped): their gradients share one source, and the rows are
    found once; other ids have another source."""
    from keras_fm.optimizers.sparse_rows import indices_source
    from keras_fm.sparse_read import gather_rows

    tables = [
        keras.Variable(np.zeros((ROWS, DIM), "float32")),
        keras.Variable(np.zeros((ROWS,), "float32")),
        keras.Variable(np.zeros((ROWS,), "float32")),
    ]
    keys = []

    @tf.function
    def step(ids):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(gather_rows(tables[0], ids))
            loss += tf.reduce_sum(gather_rows(tables[1], ids))
            loss += tf.reduce_sum(gather_rows(tables[2], ids + 0))
        gradients = tape.gradient(loss, [t.value for t in tables])
        keys.extend(indices_source(g.indices) for g in gradients)

    step(tf.constant([[1, 2], [2, 5]]))
    assert keys[0] == keys[1] and keys[2] != keys[0]


@pytest.mark.parametrize("cls", [LazyAdam, SparseAdagrad, SparseFtrl])
def test_under_xla_the_update_reuses_the_forward_gather(cls):
    """The update reads the table at the gradient's indices, which XLA
    merges with the forward pass's gather: a step that gathers the rows and
    updates them gathers from the table no more than the update alone."""
    from keras_fm.sparse_read import gather_rows

    table = keras.Variable(np.ones((ROWS, DIM), "float32"))
    optimizer = cls(learning_rate=0.1)
    optimizer.build([table])
    ids = tf.constant([[1, 3], [3, 7]], tf.int32)

    def forward_and_update(ids):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(gather_rows(table, ids)))
        optimizer.apply_gradients([(tape.gradient(loss, table.value), table)])

    def update_only(ids):
        values = tf.ones((4, DIM))
        gradient = tf.IndexedSlices(values, tf.reshape(ids, [-1]), (ROWS, DIM))
        optimizer.apply_gradients([(gradient, table)])

    def gathers(function):
        compiled = tf.function(function, jit_compile=True)
        hlo = compiled.experimental_get_compiler_ir(ids)(stage="optimized_hlo")
        return hlo.count(" gather(")

    assert gathers(forward_and_update) == gathers(update_only)
