import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm.features import IdFeature, NumericFeature
from keras_fm.layers import FieldAwareEmbedding, FieldAwareFM
from tests.layer_checklist import randomize_weights
from tests.layers.embedding_cases import (
    EXAMPLES,
    assert_mixed_precision_matches,
    hashed_rows,
    inputs,
    make_features,
    reference,
)


def built_layer(num_buckets=None, combiner="mean"):
    layer = FieldAwareEmbedding(
        make_features(combiner), embedding_dim=3, num_buckets=num_buckets
    )
    layer(inputs("dense"))
    randomize_weights(layer, seed=5)
    return layer


def row_vectors(layer):
    table = layer.embeddings.numpy()
    if layer.num_buckets is None:
        return table.reshape(layer.num_rows, layer.num_fields, layer.embedding_dim)
    return hashed_rows(table, layer.num_rows, layer.num_fields, layer.num_buckets)


@pytest.mark.parametrize("num_buckets", [None, 13])
@pytest.mark.parametrize("kind", ["dense", "ragged", "sparse"])
def test_matches_reference(num_buckets, kind):
    layer = built_layer(num_buckets)
    latent, first = layer(inputs(kind))
    expected_latent, expected_first = reference(
        layer.features,
        EXAMPLES,
        row_vectors(layer),
        layer.linear_weights.numpy(),
        layer.bias.numpy(),
    )
    assert latent.shape == (3, 6, 6, 3)
    np.testing.assert_allclose(latent, expected_latent, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(first, expected_first, rtol=1e-5, atol=1e-6)


def test_memory_is_bounded_by_num_buckets():
    full, hashed = built_layer(), built_layer(num_buckets=13)
    assert full.embeddings.shape == (full.num_rows, 6 * 3)
    assert hashed.embeddings.shape == (13, 3)
    assert hashed.linear_weights.shape == (full.num_rows,)


def test_feeds_field_aware_fm_and_trains():
    features = [IdFeature("a", 4), IdFeature("b", 5), IdFeature("c", 3)]
    named = {f.name: keras.Input((1,), dtype="int64", name=f.name) for f in features}
    latent, first = FieldAwareEmbedding(features, embedding_dim=2, num_buckets=16)(
        named
    )
    model = keras.Model(named, keras.layers.Add()([first, FieldAwareFM()(latent)]))
    model.compile(keras.optimizers.Adam(0.05), "mse")
    rng = np.random.default_rng(0)
    data = {f.name: rng.integers(0, 3, size=(64, 1)) for f in features}
    target = (data["a"] == data["b"]).astype("float32")
    history = model.fit(data, target, epochs=30, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_config_round_trips_through_json():
    layer = built_layer(num_buckets=13)
    revived = FieldAwareEmbedding.from_config(
        json.loads(json.dumps(layer.get_config()))
    )
    assert revived.get_config() == layer.get_config()
    revived(inputs("dense"))
    assert revived.embeddings.shape == layer.embeddings.shape


def test_gradients_are_finite():
    layer = built_layer(num_buckets=13)
    with tf.GradientTape() as tape:
        latent, first = layer(inputs("ragged"))
        loss = tf.reduce_sum(FieldAwareFM()(latent)) + tf.reduce_sum(first)
    for grad in tape.gradient(loss, layer.trainable_weights):
        assert np.all(np.isfinite(tf.convert_to_tensor(grad)))


@pytest.mark.parametrize("num_buckets", [0, -3, 2**31, 1.5, True])
def test_rejects_bad_num_buckets(num_buckets):
    with pytest.raises(ValueError, match="`num_buckets`"):
        FieldAwareEmbedding(
            [IdFeature("a", 2)], embedding_dim=2, num_buckets=num_buckets
        )


def test_jit_compile_matches_eager_on_dense_inputs():
    features = [IdFeature("a", 5), IdFeature("c", 4), NumericFeature("b")]
    data = {
        "a": np.array([1, 4, 7]),
        "c": np.array([0, 3, -1]),
        "b": np.array([0.5, -1.0, 2.0], "float32"),
    }
    for num_buckets in (None, 13):
        layer = FieldAwareEmbedding(features, embedding_dim=3, num_buckets=num_buckets)
        layer(data)
        randomize_weights(layer, seed=1)
        eager = layer(data)
        jitted = tf.function(layer, jit_compile=True)(data)
        for e, j in zip(eager, jitted, strict=True):
            np.testing.assert_allclose(j, e, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_keeps_float32_weights_and_close_values(policy):
    layer = FieldAwareEmbedding(make_features("mean"), embedding_dim=3, dtype=policy)
    layer(inputs("dense"))
    assert_mixed_precision_matches(layer, built_layer())
