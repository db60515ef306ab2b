"""Every model of the zoo equals its paper's equation, computed in float64
NumPy from raw ids and the model's weights alone (no sublayer output is read).

The inputs are three id fields (out-of-vocabulary ids included) and one
number, so each example has exactly one row per field: row ``offset + id``
(``offset + vocabulary_size`` when the id is out of range) scaled by 1, and
the number's row scaled by its value. The pair and subset terms come from
`tests.references`, which loop over pairs explicitly.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm.features import IdFeature, NumericFeature
from keras_fm.models import BUILDERS
from tests.references import (
    ACTIVATIONS,
    afm_reference,
    anova_reference,
    cin_reference,
    ffm_reference,
    fm_reference,
    interacting_reference,
)

VOCABULARIES = {"user": 6, "item": 9, "context": 4}
EPSILON = 1e-5  # the deep models' batch norm epsilon (PyTorch's)


def features():
    return [IdFeature(n, v) for n, v in VOCABULARIES.items()] + [NumericFeature("x")]


def raw_batch(n=12, seed=0):
    rng = np.random.default_rng(seed)
    data = {
        name: rng.integers(-2, size + 3, size=(n, 1))  # some out of range
        for name, size in VOCABULARIES.items()
    }
    data["x"] = rng.uniform(-2.0, 2.0, size=(n, 1)).astype("float32")
    return data


def rows_and_values(data):
    """Each example's table row and its scale, field by field: ``(B, 4)``."""
    rows, offset = [], 0
    for name, size in VOCABULARIES.items():
        ids = data[name][:, 0]
        rows.append(offset + np.where((ids >= 0) & (ids < size), ids, size))
        offset += size + 1  # the out-of-vocabulary row
    rows.append(np.full(len(data["x"]), offset))
    values = np.ones((len(data["x"]), 4))
    values[:, 3] = data["x"][:, 0]
    return np.stack(rows, axis=1), values


def field_vectors(table, data):
    """``v_f x_f`` for every field: ``(B, 4, D)`` (``(B, 4, ...)`` for FFM)."""
    rows, values = rows_and_values(data)
    table = np.asarray(table, np.float64)
    return table[rows] * values.reshape(*values.shape, *[1] * (table.ndim - 1))


def first_order(layer, data):
    """``w0 + sum_f w_f x_f``: ``(B,)``."""
    rows, values = rows_and_values(data)
    weights = np.asarray(layer.linear_weights, np.float64)
    return float(layer.bias.numpy()) + (weights[rows] * values).sum(axis=1)


def randomize(model, seed=1):
    """Random non-zero weights; batch-norm variances positive and shifts
    positive, so that the ReLUs after them pass some values."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if "moving_variance" in weight.path:
            value = rng.uniform(0.5, 2.0, size=weight.shape)
        elif "batch_norm" in weight.path and weight.path.endswith("beta"):
            value = rng.uniform(0.2, 1.0, size=weight.shape)
        else:
            value = rng.normal(0.0, 0.8, size=weight.shape)
        weight.assign(value.astype(weight.dtype))


def weights(model, name):
    return [np.asarray(w, np.float64) for w in model.get_layer(name).weights]


def dense(model, name, x, activation="linear"):
    kernel, *bias = weights(model, name)
    return ACTIVATIONS[activation](x @ kernel + (bias[0] if bias else 0.0))


def batch_norm(model, name, x):
    gamma, beta, mean, variance = weights(model, name)
    return (x - mean) / np.sqrt(variance + EPSILON) * gamma + beta


def tower(model, x, units, batch_normed=False, prefix="dnn"):
    for index in range(len(units)):
        x = dense(model, f"{prefix}_dense_{index}", x)
        if batch_normed:
            x = batch_norm(model, f"{prefix}_batch_norm_{index}", x)
        x = np.maximum(x, 0.0)
    return x


def flat(vectors):
    return vectors.reshape(len(vectors), -1)


def fm_terms(model, data, name="embedding"):
    """Rendle (2010) Eq. (1)."""
    layer = model.get_layer(name)
    v = field_vectors(layer.embeddings, data)
    return {"first": first_order(layer, data), "pairs": fm_reference(v)[:, 0]}


def ffm_terms(model, data):
    """Juan et al. (2016) Eq. (3): ``<w[i, field(j)], w[j, field(i)]>``."""
    layer = model.get_layer("field_aware_embedding")
    table = np.asarray(layer.embeddings).reshape(layer.num_rows, 4, -1)
    latent = field_vectors(table, data)  # (B, i, field of j, D)
    return {"first": first_order(layer, data), "pairs": ffm_reference(latent)[:, 0]}


def deepfm_terms(model, data, units):
    """Guo et al. (2017) Eq. (1): first order + FM + DNN on the field vectors."""
    v = field_vectors(model.get_layer("embedding").embeddings, data)
    hidden = tower(model, flat(v), units, batch_normed=True)  # the default
    deep = dense(model, "dnn_logit", hidden)[:, 0]
    return {**fm_terms(model, data), "deep": deep}


def xdeepfm_terms(model, data, units):
    """Lian et al. (2018) Eq. (9): first order + CIN + DNN."""
    layer = model.get_layer("embedding")
    v = field_vectors(layer.embeddings, data)
    cin = model.get_layer("cin")
    kernels = [
        np.asarray(k, np.float64).reshape(-1, 4, k.shape[1]) for k in cin.kernels
    ]
    biases = [np.asarray(b, np.float64) for b in cin.biases]
    pooled = cin_reference(v, kernels, biases, "relu", split_half=cin.split_half)
    explicit = dense(model, "cin_logit", pooled)[:, 0]
    hidden = tower(model, flat(v), units, batch_normed=True)
    deep = dense(model, "dnn_logit", hidden)[:, 0]
    return {"first": first_order(layer, data), "cin": explicit, "deep": deep}


def afm_terms(model, data):
    """Xiao et al. (2017) Eq. (5): first order + p . attention-pooled pairs."""
    layer = model.get_layer("embedding")
    v = field_vectors(layer.embeddings, data)
    kernel, bias, projection_h, projection_p = weights(model, "afm")
    pairs = afm_reference(v, kernel, bias, projection_h, projection_p)[:, 0]
    return {"first": first_order(layer, data), "pairs": pairs}


def nfm_terms(model, data, units):
    """He and Chua (2017) Eq. (2): first order + DNN(BN(bi-interaction))."""
    layer = model.get_layer("embedding")
    v = field_vectors(layer.embeddings, data)
    pooled = batch_norm(
        model, "bi_interaction_batch_norm", fm_reference(v, None, False)
    )
    hidden = tower(model, pooled, units, batch_normed=True)
    deep = dense(model, "dnn_logit", hidden)[:, 0]
    return {"first": first_order(layer, data), "deep": deep}


def autoint_terms(model, data, num_layers, num_heads, units=()):
    """Song et al. (2019) Eqs. (5)-(9); with ``units``, AutoInt+'s DNN added."""
    v = field_vectors(model.get_layer("embedding").embeddings, data)
    attended = v
    for index in range(num_layers):  # scaled, layer-normed: the defaults
        wq, wk, wv, wres, gamma, beta = weights(model, f"interacting_{index}")
        attended = interacting_reference(
            attended, wq, wk, wv, wres, num_heads, True, norm=(gamma, beta)
        )
    terms = {"attention": dense(model, "attention_logit", flat(attended))[:, 0]}
    if units:
        hidden = tower(model, flat(v), units, batch_normed=True)
        terms["deep"] = dense(model, "dnn_logit", hidden)[:, 0]
    return terms


def hofm_terms(model, data, order):
    """Blondel et al. (2016) Eq. (5): one table per order, ANOVA kernels."""
    terms = fm_terms(model, data, "embedding_2")
    for degree in range(3, order + 1):
        v = field_vectors(model.get_layer(f"embedding_{degree}").embeddings, data)
        terms[f"order_{degree}"] = anova_reference(v, degree)[:, 0]
    return terms


# The DNN in float32, as the references compute (its default, "auto", is
# bfloat16 on CPUs with bfloat16 units: tested below to that precision).
FLOAT32 = {"dnn_dtype": "float32"}
CASES = {
    "fm": ({}, fm_terms),
    "ffm": ({}, ffm_terms),
    "deepfm": (
        {"dnn_units": (8, 4), **FLOAT32},
        lambda m, d: deepfm_terms(m, d, (8, 4)),
    ),
    "xdeepfm": (
        {"dnn_units": (6,), "cin_layer_sizes": (4, 3), "cin_split_half": True}
        | FLOAT32,
        lambda m, d: xdeepfm_terms(m, d, (6,)),
    ),
    "afm": ({"attention_units": 5}, afm_terms),
    "nfm": (
        {"dnn_units": (8, 3), **FLOAT32},
        lambda m, d: nfm_terms(m, d, (8, 3)),
    ),
    "autoint": (
        {"num_layers": 2, "num_heads": 2, "head_dim": 3, **FLOAT32},
        lambda m, d: autoint_terms(m, d, 2, 2),
    ),
    "autoint+": (
        {"num_layers": 1, "num_heads": 2, "head_dim": 3, "dnn_units": (5,), **FLOAT32},
        lambda m, d: autoint_terms(m, d, 1, 2, (5,)),
    ),
    "hofm": ({"order": 4}, lambda m, d: hofm_terms(m, d, 4)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_model_is_its_equation(name):
    kwargs, reference = CASES[name]
    model = BUILDERS[name.rstrip("+")](features(), embedding_dim=4, **kwargs)
    data = raw_batch()
    model(data)  # builds every weight
    randomize(model)
    terms = reference(model, data)
    for term, values in terms.items():  # every term is in play
        assert np.std(values) > 0.05, f"{term} is nearly constant: {values}"
    logit = sum(terms.values())
    want = 1.0 / (1.0 + np.exp(-logit))
    np.testing.assert_allclose(model(data)[:, 0], want, rtol=1e-5, atol=1e-6)
    logits = keras.Model(model.inputs, model.get_layer("logit").output)(data)
    np.testing.assert_allclose(logits[:, 0], logit, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["deepfm", "nfm"])
def test_a_bfloat16_dnn_is_its_equation_to_bfloat16_precision(name):
    kwargs, reference = CASES[name]
    model = BUILDERS[name](
        features(), embedding_dim=4, **{**kwargs, "dnn_dtype": "mixed_bfloat16"}
    )
    data = raw_batch()
    model(data)
    randomize(model)
    dense = [layer for layer in model.layers if layer.name.startswith("dnn_dense")]
    assert dense and all(layer.compute_dtype == "bfloat16" for layer in dense)
    assert all(w.dtype == "float32" for w in model.weights)
    logit = sum(reference(model, data).values())
    logits = keras.Model(model.inputs, model.get_layer("logit").output)(data)
    assert logits.dtype == "float32"
    # bfloat16 keeps 8 bits of each product's factors: 2^-8 of the terms.
    scale = np.abs(logit).max()
    np.testing.assert_allclose(logits[:, 0], logit, atol=0.02 * scale)
    assert np.abs(logits[:, 0] - logit).max() > 1e-6  # it did round


def test_regression_model_is_its_logit():
    model = BUILDERS["fm"](features(), embedding_dim=4, task="regression")
    data = raw_batch(seed=3)
    model(data)
    randomize(model, seed=2)
    np.testing.assert_allclose(
        model(data)[:, 0], sum(fm_terms(model, data).values()), rtol=1e-4, atol=1e-4
    )
    assert tf.reduce_all(tf.math.is_finite(model(data)))
