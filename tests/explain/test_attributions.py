"""`keras_fm.explain.attributions` against brute force: Shapley values over
every subset of deleted fields, Harsanyi dividends of pairs, naive AFM."""

import itertools
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm.explain import attributions
from keras_fm.features import IdFeature
from keras_fm.models import BUILDERS, build_ffm, build_fm, build_hofm, build_sparse_fm

NAMES = ("user", "item", "city", "hour")
SIZES = (6, 8, 5, 4)


def specs():
    # Multivalent, so that an empty list deletes a field.
    return [
        IdFeature(n, s, multivalent=True) for n, s in zip(NAMES, SIZES, strict=True)
    ]


def randomize(model, seed=0, scale=0.5):
    """Random tables and bias (all zeros or tiny at initialization)."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if weight.path.split("/")[-1] in ("embeddings", "linear_weights", "bias"):
            weight.assign(rng.normal(0, scale, weight.shape))
    return model


def rows(count=6, seed=1, present=None):
    """Ragged inputs with one id per field (two for the city), or none for
    fields outside ``present``."""
    rng = np.random.default_rng(seed)
    data = {}
    for index, (name, size) in enumerate(zip(NAMES, SIZES, strict=True)):
        width = 2 if name == "city" else 1
        lists = [list(rng.integers(0, size, width)) for _ in range(count)]
        if present is not None and index not in present:
            lists = [[] for _ in range(count)]
        data[name] = tf.ragged.constant(lists, dtype=tf.int64, ragged_rank=1)
    return data


def logit(model, inputs):
    sub = keras.Model(model.input, model.get_layer("logit").output)
    return np.asarray(sub(inputs, training=False), np.float64)[:, 0]


def subset_logits(model, count):
    """The logit of every row with only the fields of each subset present."""
    fields = range(len(NAMES))
    return {
        subset: logit(model, rows(count, present=set(subset)))
        for size in range(len(NAMES) + 1)
        for subset in itertools.combinations(fields, size)
    }


def shapley(values, num_fields):
    result = np.zeros((len(values[()]), num_fields))
    for i in range(num_fields):
        others = [f for f in range(num_fields) if f != i]
        for size in range(num_fields):
            weight = (
                math.factorial(size)
                * math.factorial(num_fields - size - 1)
                / math.factorial(num_fields)
            )
            for subset in itertools.combinations(others, size):
                with_i = tuple(sorted((*subset, i)))
                result[:, i] += weight * (values[with_i] - values[subset])
    return result


EXACT = {
    "fm": lambda: build_fm(specs(), embedding_dim=3),
    "ffm": lambda: build_ffm(specs(), embedding_dim=3),
    "hofm": lambda: build_hofm(specs(), embedding_dim=3, order=3),
}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_fields_are_shapley_values_and_pairs_the_dividends(name):
    model = randomize(EXACT[name]())
    result = attributions(model, rows())
    values = subset_logits(model, 6)
    np.testing.assert_allclose(result.fields, shapley(values, 4), atol=1e-5)
    np.testing.assert_allclose(result.bias, values[()], atol=1e-6)
    np.testing.assert_allclose(result.logit, values[(0, 1, 2, 3)], atol=1e-6)
    np.testing.assert_array_equal(result.rest, 0.0)
    for i, j in itertools.combinations(range(4), 2):
        dividend = values[(i, j)] - values[(i,)] - values[(j,)] + values[()]
        np.testing.assert_allclose(result.pairs[:, i, j], dividend, atol=1e-5)
        np.testing.assert_allclose(result.pairs[:, j, i], dividend, atol=1e-5)
    assert np.all(result.pairs[:, range(4), range(4)] == 0)
    # Interactions are material: Shapley values differ from first-order terms.
    assert np.abs(result.pairs).max() > 0.05


def test_hofm_triples_are_shared_by_thirds():
    """HOFM's third-order term is not in `pairs`: fields minus the pair
    halves minus the first-order term is a third of each triple."""
    model = randomize(build_hofm(specs(), embedding_dim=3, order=3))
    result = attributions(model, rows())
    values = subset_logits(model, 6)
    triples = np.zeros((6, 4))
    for triple in itertools.combinations(range(4), 3):
        dividend = sum(
            (-1) ** (3 - len(s)) * values[s]
            for size in range(4)
            for s in itertools.combinations(triple, size)
        )
        for field in triple:
            triples[:, field] += dividend / 3
    first = np.stack([values[(i,)] - values[()] for i in range(4)], axis=1)
    halves = result.pairs.sum(axis=2) / 2
    np.testing.assert_allclose(result.fields - first - halves, triples, atol=1e-5)
    assert np.abs(triples).max() > 0.01


def naive_afm_pairs(layer, vectors):
    kernel, bias, h, p = (
        np.asarray(w, np.float64)
        for w in (layer.attention_kernel, layer.attention_bias,
                  layer.attention_projection, layer.projection)
    )  # fmt: skip
    batch, num_fields, _ = vectors.shape
    pairs = np.zeros((batch, num_fields, num_fields))
    for b in range(batch):
        found = list(itertools.combinations(range(num_fields), 2))
        products = [vectors[b, i] * vectors[b, j] for i, j in found]
        logits = np.array([np.maximum(q @ kernel + bias, 0) @ h for q in products])
        weights = np.exp(logits - logits.max())
        weights /= weights.sum()
        for (i, j), weight, product in zip(found, weights, products, strict=True):
            pairs[b, i, j] = pairs[b, j, i] = weight * (product @ p)
    return pairs


def test_afm_pairs_are_the_attention_weighted_terms():
    model = randomize(BUILDERS["afm"](specs(), embedding_dim=3))
    inputs = rows()
    result = attributions(model, inputs)
    vectors = keras.Model(model.input, model.get_layer("embedding").output[0])
    expected = naive_afm_pairs(
        model.get_layer("afm"), np.asarray(vectors(inputs), np.float64)
    )
    np.testing.assert_allclose(result.pairs, expected, atol=1e-5)
    first = keras.Model(model.input, model.get_layer("embedding").output[1])
    np.testing.assert_allclose(
        result.bias + (result.fields - expected.sum(axis=2) / 2).sum(axis=1),
        np.asarray(first(inputs))[:, 0],
        atol=1e-5,
    )


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_zoo_model_is_complete(name):
    model = randomize(BUILDERS[name](specs(), embedding_dim=3))
    result = attributions(model, rows(count=9), batch_size=4)
    assert result.fields.shape == (9, 4) and result.rest.shape == (9,)
    assert result.completeness_error() < 1e-5
    np.testing.assert_allclose(result.logit, logit(model, rows(count=9)), atol=1e-6)
    assert list(result.field_names) == list(NAMES)


def test_deepfm_rest_is_its_dnn_and_fields_its_fm():
    features = specs()
    deepfm = randomize(BUILDERS["deepfm"](features, embedding_dim=3))
    inputs = rows()
    result = attributions(deepfm, inputs)
    dnn = keras.Model(deepfm.input, deepfm.get_layer("dnn_logit").output)
    np.testing.assert_allclose(result.rest, np.asarray(dnn(inputs))[:, 0], atol=1e-6)
    fm = build_fm(features, embedding_dim=3)
    fm.get_layer("embedding").set_weights(deepfm.get_layer("embedding").get_weights())
    expected = attributions(fm, inputs)
    np.testing.assert_allclose(result.fields, expected.fields, atol=1e-6)
    np.testing.assert_allclose(result.pairs, expected.pairs, atol=1e-6)


def test_datasets_and_dense_inputs_give_the_same_rows():
    model = randomize(build_fm(specs(), embedding_dim=3))
    inputs = rows(count=10)
    expected = attributions(model, inputs)
    padded = [
        IdFeature(n, s, multivalent=True, pad_value=-1)
        for n, s in zip(NAMES, SIZES, strict=True)
    ]
    dense = build_fm(padded, embedding_dim=3, list_inputs="dense")
    dense.set_weights(model.get_weights())
    as_dense = {n: v.to_tensor(default_value=-1) for n, v in inputs.items()}
    result = attributions(dense, as_dense)
    np.testing.assert_allclose(result.fields, expected.fields, atol=1e-6)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, np.zeros(10))).batch(3)
    streamed = attributions(model, dataset)
    np.testing.assert_allclose(streamed.fields, expected.fields, atol=1e-6)
    np.testing.assert_allclose(streamed.pairs, expected.pairs, atol=1e-6)
    assert streamed.interaction_matrix().shape == (4, 4)
    np.testing.assert_allclose(
        streamed.field_importance(), np.abs(expected.fields).mean(axis=0), atol=1e-6
    )


def test_sparse_fm_positions_are_shapley_values():
    """Raw libsvm rows: each non-zero is a player (rows of 2 and 3 non-zeros,
    one id out of range, which the layer maps to its out-of-vocabulary row)."""
    model = randomize(build_sparse_fm(10, embedding_dim=3))
    ids = [[1, 4, 7], [2, 12], [0, 3, 9]]
    values = [[1.0, 0.5, 2.0], [1.0, 1.5], [0.3, 1.0, -1.0]]

    def score(keep):
        data = {
            "ids": tf.ragged.constant(
                [[r[i] for i in keep if i < len(r)] for r in ids],
                tf.int64,
                ragged_rank=1,
            ),
            "values": tf.ragged.constant(
                [[r[i] for i in keep if i < len(r)] for r in values],
                tf.float32,
                ragged_rank=1,
            ),
        }
        return logit(model, data)

    values_by_subset = {
        subset: score(subset)
        for size in range(4)
        for subset in itertools.combinations(range(3), size)
    }
    full = {
        name: tf.ragged.constant(v, dtype, ragged_rank=1)
        for name, v, dtype in (("ids", ids, tf.int64), ("values", values, tf.float32))
    }
    result = attributions(model, full, batch_size=2)
    np.testing.assert_allclose(result.fields, shapley(values_by_subset, 3), atol=1e-5)
    assert list(result.field_names) == ["position 1", "position 2", "position 3"]
    assert result.completeness_error() < 1e-5
    assert result.fields[1, 2] == 0 and np.abs(result.pairs).max() > 0.05


def test_models_without_fields_are_refused():
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="no layer named 'logit'"):
        attributions(plain, {"x": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="dict from feature name"):
        attributions(build_fm(specs()), np.zeros((2, 4)))


def test_integrated_gradients_of_a_linear_deep_part_are_its_terms():
    """DeepFM with no hidden layer: the "DNN" is Dense(1) on the flattened
    field vectors, so each field's integrated gradient is exactly its part
    ``sum_d W[f, d] v[f, d]`` (and the error is 0)."""
    model = randomize(
        BUILDERS["deepfm"](specs(), embedding_dim=3, dnn_units=(), batch_norm=False)
    )
    inputs = rows()
    result = attributions(model, inputs, deep="integrated_gradients", steps=4)
    plain = attributions(model, inputs)
    vectors = keras.Model(model.input, model.get_layer("embedding").output[0])
    v = np.asarray(vectors(inputs), np.float64)  # (B, F, D)
    kernel, _ = (
        np.asarray(w, np.float64) for w in model.get_layer("dnn_logit").weights
    )
    expected = np.einsum("bfd,fd->bf", v, kernel[:, 0].reshape(4, 3))
    np.testing.assert_allclose(result.fields - plain.fields, expected, atol=1e-5)
    np.testing.assert_allclose(result.deep_error, 0.0, atol=1e-5)
    assert result.completeness_error() < 1e-5
    assert plain.deep_error is None


@pytest.mark.parametrize("name", ["deepfm", "xdeepfm", "nfm", "autoint", "autoint+"])
def test_integrated_gradients_converge_and_keep_the_sum_exact(name):
    model = BUILDERS[name](specs(), embedding_dim=3)
    rng = np.random.default_rng(4)
    for weight in model.trainable_weights:  # biases too: a non-linear path
        weight.assign(rng.normal(0, 0.5, weight.shape))
    inputs = rows()
    coarse = attributions(model, inputs, deep="integrated_gradients", steps=2)
    fine = attributions(model, inputs, deep="integrated_gradients", steps=64)
    for result in (coarse, fine):
        assert result.completeness_error() < 1e-5
    assert np.abs(coarse.deep_error).mean() > 1e-4  # the path is not linear
    # AutoInt's layer norm is singular where every field is deleted, so its
    # path integral converges slowly (its error is in deep_error).
    factor = 1.5 if name.startswith("autoint") else 4
    assert np.abs(fine.deep_error).mean() < np.abs(coarse.deep_error).mean() / factor
    with pytest.raises(ValueError, match="`deep` must be one of"):
        attributions(model, inputs, deep="shap")
