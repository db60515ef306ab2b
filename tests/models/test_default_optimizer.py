"""compile_for_task's defaults: dense Adam for small tables, LazyAdam else,
both under XLA where the model compiles; several steps per call into
TensorFlow."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm import native
from keras_fm.data import position_features
from keras_fm.features import IdFeature, LookupFeature
from keras_fm.models import (
    DENSE_UPDATE_ENTRIES,
    STEPS_PER_EXECUTION,
    build_deepfm,
    build_ffm,
    build_fm,
    build_sparse_fm,
    compile_for_task,
    default_optimizer,
    table_entries,
    tasks,
)
from keras_fm.native import row_reads
from keras_fm.optimizers import LazyAdam, SparseAdagrad, SparseFtrl
from keras_fm.ranking import PairwiseRanker


def test_table_entries_counts_rows_times_width_of_every_table():
    features = position_features(3, 99)  # one shared table of 100 rows
    # latent 100 x 8, first order 100; the bias and the DNN are not tables
    assert table_entries(build_fm(features, embedding_dim=8)) == 900
    assert table_entries(build_deepfm(features, embedding_dim=8)) == 900
    # FFM: one vector per field for each row
    assert table_entries(build_ffm(features, embedding_dim=4)) == 100 * 3 * 4 + 100
    assert table_entries(build_sparse_fm(99, embedding_dim=8)) == 900
    # a wrapped scorer is found too
    scorer = build_fm(features, embedding_dim=8)
    assert table_entries(PairwiseRanker(scorer)) == 900


def test_small_tables_train_with_dense_adam_under_xla():
    model = build_fm([IdFeature("user", 100), IdFeature("item", 50)])
    optimizer, jit_compile = default_optimizer(model, 0.01)
    assert type(optimizer) is keras.optimizers.Adam
    assert jit_compile is True
    np.testing.assert_allclose(float(optimizer.learning_rate), 0.01)
    compile_for_task(model, "binary")
    assert model.jit_compile is True
    assert type(model.optimizer) is keras.optimizers.Adam


def test_large_tables_train_with_lazy_adam_under_xla():
    rows = DENSE_UPDATE_ENTRIES // 10 + 1
    model = build_fm([IdFeature("user", rows), IdFeature("item", 50)], embedding_dim=10)
    assert table_entries(model) > DENSE_UPDATE_ENTRIES
    optimizer, jit_compile = default_optimizer(model)
    assert isinstance(optimizer, LazyAdam) and jit_compile is True
    compile_for_task(model, "binary")
    assert model.jit_compile is True and isinstance(model.optimizer, LazyAdam)
    assert model.steps_per_execution == STEPS_PER_EXECUTION
    assert model.optimizer.built  # slots made before fit


def test_tables_for_the_native_ops_train_without_xla(monkeypatch):
    """A table of `NATIVE_STEP_ENTRIES` entries or more trains by the
    native gather and row updates, which XLA cannot run; where they do not
    build, under XLA."""
    if row_reads.read_ops() is None or native.row_ops() is None:
        pytest.skip("keras_fm.native's ops could not be built here")
    features = [IdFeature("user", 20), IdFeature("item", 10)]
    model = build_fm(features, embedding_dim=4)
    latent = int(np.prod(model.get_layer("embedding").embeddings.shape))
    monkeypatch.setattr(tasks, "NATIVE_STEP_ENTRIES", latent)
    monkeypatch.setattr(row_reads, "MIN_ENTRIES", latent)
    assert default_optimizer(model)[1] is False
    assert compile_for_task(model, "binary").jit_compile is False
    model.fit(_steps_data(64), verbose=0)
    assert int(model.optimizer.iterations) == 4
    assert all(np.isfinite(w).all() for w in model.get_weights())
    monkeypatch.setattr(tasks, "NATIVE_STEP_ENTRIES", latent + 1)
    assert default_optimizer(build_fm(features, embedding_dim=4))[1] is True
    monkeypatch.setattr(tasks, "NATIVE_STEP_ENTRIES", latent)
    monkeypatch.setattr(row_reads, "read_ops", lambda: None)
    assert default_optimizer(build_fm(features, embedding_dim=4))[1] is True


def test_large_tables_without_xla_train_grouped_as_single_steps():
    """Without XLA too (here by choice; a ragged input or a bfloat16 DNN
    does the same), a large table's steps run 32 a call, and LazyAdam's
    row updates inside a group train exactly as single steps."""
    rows = DENSE_UPDATE_ENTRIES // 10 + 1

    def large(**kwargs):
        keras.utils.set_random_seed(3)
        features = [IdFeature("user", rows), IdFeature("item", 10)]
        model = build_fm(features, embedding_dim=10)
        return compile_for_task(model, "binary", jit_compile=False, **kwargs)

    grouped, single = large(), large(steps_per_execution=1)
    assert grouped.jit_compile is False and isinstance(grouped.optimizer, LazyAdam)
    assert grouped.steps_per_execution == STEPS_PER_EXECUTION
    data = _steps_data(40 * 16 - 5)
    for model in (grouped, single):
        model.fit(data, epochs=2, verbose=0)
        assert int(model.optimizer.iterations) == 2 * 40
    for a, b in zip(grouped.get_weights(), single.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_models_that_cannot_be_compiled_by_xla_run_without_it():
    user = LookupFeature("user", vocabulary=["a", "b", "c"])  # StringLookup
    model = compile_for_task(build_fm([user, IdFeature("item", 5)]), "binary")
    assert model.jit_compile is False
    model.fit(
        {"user": tf.constant([["a"], ["z"]]), "item": tf.constant([[1], [3]])},
        np.array([1.0, 0.0]),
        verbose=0,
    )


def test_ragged_inputs_run_without_xla():
    genre = IdFeature("genre", 10, multivalent=True)
    model = build_fm([IdFeature("user", 10), genre])  # genre: a ragged input
    assert default_optimizer(model)[1] is False
    dense = build_fm([IdFeature("user", 10), genre], list_inputs="dense")
    assert default_optimizer(dense)[1] is True


@pytest.mark.parametrize("jit_compile", [True, False])
def test_explicit_arguments_win(jit_compile):
    model = build_fm([IdFeature("user", 10)])
    optimizer = keras.optimizers.SGD(0.1)
    compile_for_task(model, "binary", optimizer, jit_compile=jit_compile)
    assert model.optimizer is optimizer and model.jit_compile is jit_compile
    compile_for_task(model, "binary", keras.optimizers.SGD(0.1))
    assert model.jit_compile is False  # Keras's row-sparse updates dislike XLA


@pytest.mark.parametrize("cls", [LazyAdam, SparseAdagrad, SparseFtrl])
def test_the_packages_row_sparse_optimizers_run_under_xla(cls):
    model = compile_for_task(build_fm([IdFeature("user", 10)]), "binary", cls(0.1))
    assert model.jit_compile is True
    ragged = build_fm([IdFeature("genre", 10, multivalent=True)])
    assert compile_for_task(ragged, "binary", cls(0.1)).jit_compile is False


def _steps_data(num_rows, batch_size=16, seed=0):
    rng = np.random.default_rng(seed)
    x = {"user": rng.integers(0, 20, num_rows), "item": rng.integers(0, 10, num_rows)}
    y = (x["user"] % 2 == x["item"] % 2).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def _steps_model(**compile_kwargs):
    keras.utils.set_random_seed(3)
    model = build_fm([IdFeature("user", 20), IdFeature("item", 10)], embedding_dim=4)
    return compile_for_task(
        model, "binary", keras.optimizers.Adam(0.05), **compile_kwargs
    )


def test_several_steps_per_execution_by_default():
    assert STEPS_PER_EXECUTION == 32
    assert _steps_model().steps_per_execution == STEPS_PER_EXECUTION
    assert _steps_model(steps_per_execution=1).steps_per_execution == 1
    rows = DENSE_UPDATE_ENTRIES // 10 + 1  # a large table: grouped under XLA
    large = build_fm([IdFeature("user", rows), IdFeature("item", 5)], embedding_dim=9)
    assert compile_for_task(large, "binary").steps_per_execution == 32


@pytest.mark.parametrize("num_batches", [7, 70])  # fewer than a group; 2 groups + 6
def test_grouped_steps_use_every_batch_and_train_as_single_steps(num_batches):
    data = _steps_data(num_batches * 16 - 5)  # a short last batch too
    grouped, single = _steps_model(), _steps_model(steps_per_execution=1)
    for model in (grouped, single):
        model.fit(data, epochs=2, verbose=0)
        assert int(model.optimizer.iterations) == 2 * num_batches
    for a, b in zip(grouped.get_weights(), single.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    scores = grouped.evaluate(data, verbose=0, return_dict=True)
    expected = single.evaluate(data, verbose=0, return_dict=True)
    assert scores == pytest.approx(expected, rel=1e-5)
    predictions = grouped.predict(data, verbose=0)
    assert predictions.shape == (num_batches * 16 - 5, 1)
    np.testing.assert_allclose(
        predictions, single.predict(data, verbose=0), rtol=1e-5, atol=1e-6
    )
