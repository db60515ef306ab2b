import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm.layers import SparseFM
from tests.layer_checklist import randomize_weights

# Rows of (feature id, value): any number of non-zeros, a repeated id, an
# out-of-range id (12), a negative one, and an empty row.
ROWS = [
    [(3, 1.0), (7, 0.5), (3, 2.0), (0, -1.5)],
    [(9, 2.5)],
    [],
    [(1, 0.3), (12, 1.0), (-4, 2.0), (5, 1.0), (6, -0.7), (2, 4.0)],
]


def rendle_reference(layer, rows):
    """Rendle's Eq. (1) over all non-zeros of each row, pair by pair."""
    v = layer.embeddings.numpy().astype("float64")
    w = layer.linear_weights.numpy().astype("float64")
    out = []
    for row in rows:
        row = [
            (i if 0 <= i < layer.num_features else layer.num_features, x)
            for i, x in row
        ]
        total = float(layer.bias.numpy()) + sum(w[i] * x for i, x in row)
        for a in range(len(row)):
            for b in range(a + 1, len(row)):
                (i, xi), (j, xj) = row[a], row[b]
                total += v[i] @ v[j] * xi * xj
        out.append([total])
    return np.array(out)


def as_inputs(kind, rows=ROWS):
    ids = tf.ragged.constant(
        [[i for i, _ in r] for r in rows], dtype=tf.int64, ragged_rank=1
    )
    values = tf.ragged.constant(
        [[x for _, x in r] for r in rows], dtype=tf.float32, ragged_rank=1
    )
    if kind == "sparse":
        return {"ids": ids.to_sparse(), "values": values.to_sparse()}
    if kind == "dense":
        return {"ids": ids.to_tensor(0), "values": values.to_tensor(0.0)}
    return {"ids": ids, "values": values}


def built(dim=4, **kwargs):
    layer = SparseFM(num_features=10, embedding_dim=dim, **kwargs)
    layer(as_inputs("ragged"))
    randomize_weights(layer, seed=2)
    return layer


@pytest.mark.parametrize("kind", ["ragged", "sparse", "dense"])
def test_matches_rendle_equation_over_all_non_zeros(kind):
    layer = built()
    np.testing.assert_allclose(
        layer(as_inputs(kind)), rendle_reference(layer, ROWS), rtol=1e-5, atol=1e-5
    )


def test_empty_row_gives_the_bias():
    layer = built()
    assert float(layer(as_inputs("ragged"))[2, 0]) == pytest.approx(
        float(layer.bias.numpy())
    )


def test_trains_with_fit_on_ragged_rows():
    keras.utils.set_random_seed(0)
    ids = keras.Input((None,), dtype="int64", ragged=True, name="ids")
    values = keras.Input((None,), dtype="float32", ragged=True, name="values")
    model = keras.Model(
        {"ids": ids, "values": values}, SparseFM(10, 4)({"ids": ids, "values": values})
    )
    model.compile(keras.optimizers.Adam(0.05), "mse")
    data = as_inputs("ragged")
    target = np.array([1.0, -1.0, 0.5, 2.0], "float32")
    dataset = tf.data.Dataset.from_tensor_slices((data, target)).batch(4)
    initial = model.evaluate(dataset, verbose=0)
    model.fit(dataset.repeat(100), verbose=0)
    assert model.evaluate(dataset, verbose=0) < 0.01 * initial


def test_config_round_trip_and_keras_file(tmp_path):
    layer = built(embeddings_l2=0.25)
    revived = SparseFM.from_config(json.loads(json.dumps(layer.get_config())))
    assert revived.get_config() == layer.get_config()
    assert revived.embeddings_l2 == 0.25
    ids = keras.Input((None,), dtype="int64", name="ids")
    values = keras.Input((None,), dtype="float32", name="values")
    model = keras.Model(
        {"ids": ids, "values": values}, layer({"ids": ids, "values": values})
    )
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    data = as_inputs("dense")
    np.testing.assert_allclose(
        loaded.predict(data, verbose=0), model.predict(data, verbose=0)
    )


@pytest.mark.parametrize(("arg", "value"), [("num_features", 0), ("embedding_dim", -1)])
def test_bad_arguments(arg, value):
    kwargs = {"num_features": 5, "embedding_dim": 2, arg: value}
    with pytest.raises(ValueError, match=f"`{arg}` must be a positive int"):
        SparseFM(**kwargs)


def test_rejects_inputs_without_ids_and_values():
    with pytest.raises(ValueError, match="'ids' and 'values'"):
        SparseFM(5, 2)({"ids": tf.ragged.constant([[1]])})


@pytest.mark.parametrize("kind", ["ragged", "sparse", "dense"])
def test_embeddings_l2_penalizes_the_vectors_of_each_non_zero(kind):
    layer = built(embeddings_l2=0.3)
    layer(as_inputs(kind))
    v = layer.embeddings.numpy().astype("float64")
    # Every non-zero's vector, repeats counted each time, out-of-range ids on
    # the OOV row; dense padding (value 0) is not a non-zero.
    expected = sum(
        0.3 * v[i if 0 <= i < 10 else 10] @ v[i if 0 <= i < 10 else 10]
        for row in ROWS
        for i, _ in row
    ) / len(ROWS)
    assert len(layer.losses) == 1
    assert float(layer.losses[0]) == pytest.approx(expected, rel=1e-5)


def test_no_embeddings_l2_adds_no_loss():
    layer = built()
    layer(as_inputs("ragged"))
    assert layer.losses == []


@pytest.mark.parametrize("value", [-0.1, float("nan"), "0.1", True, {"ids": 0.1}])
def test_bad_embeddings_l2(value):
    with pytest.raises(ValueError, match="`embeddings_l2` must be a non-negative"):
        SparseFM(5, 2, embeddings_l2=value)


def test_gradients_are_finite_and_reach_every_weight():
    layer = built()
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(as_inputs("ragged")))
    weights = layer.trainable_weights
    grads = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, weights)]
    for weight, grad in zip(weights, grads, strict=True):
        assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0, weight.path
    by_name = {w.name: g for w, g in zip(weights, grads, strict=True)}
    # The loss sums 4 rows: d/d bias is 4, d/d w_3 the values of id 3 (1 + 2).
    assert float(by_name["bias"]) == pytest.approx(4.0)
    assert by_name["linear_weights"][3] == pytest.approx(3.0)


def test_jit_compile_matches_eager_on_dense_inputs():
    layer = built()
    data = as_inputs("dense")
    jitted = tf.function(layer, jit_compile=True)(data)
    np.testing.assert_allclose(jitted, layer(data), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        jitted, rendle_reference(layer, ROWS), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_keeps_float32_weights_and_close_values(policy):
    layer = SparseFM(num_features=10, embedding_dim=4, dtype=policy)
    layer(as_inputs("ragged"))
    randomize_weights(layer, seed=2, scale=0.3)
    out = layer(as_inputs("ragged"))
    assert out.dtype == policy.split("_")[1]
    assert all(w.dtype == "float32" for w in layer.weights)
    tolerance = 2e-2 if policy == "mixed_bfloat16" else 3e-3
    np.testing.assert_allclose(
        np.asarray(out, "float32"),
        rendle_reference(layer, ROWS),
        atol=tolerance * 5,
        rtol=tolerance,
    )
