"""The deep models' tower and its batch normalization."""

import keras
import numpy as np
import pytest

from keras_fm.models.dnn import dnn_tower
from tests.models.test_models import batch, build


def tower(**kwargs):
    inputs = keras.Input((3,))
    return keras.Model(inputs, dnn_tower(inputs, (3,), **kwargs))


def test_moving_statistics_follow_the_batches_within_fifty_steps():
    # frappe at batch 4096 has 49 steps per epoch: validation after the first
    # epoch must not run on the initial moving variance (1.0).
    model = tower(batch_norm=True)
    norm = model.get_layer("dnn_batch_norm_0")
    dense = model.get_layer("dnn_dense_0")
    x = np.random.default_rng(0).normal(size=(4096, 3)).astype("float32") + 2.0
    for _ in range(50):
        model(x, training=True)
    activations = dense(x).numpy()
    np.testing.assert_allclose(
        norm.moving_mean.numpy(), activations.mean(axis=0), rtol=0.02
    )
    np.testing.assert_allclose(
        norm.moving_variance.numpy(), activations.var(axis=0), rtol=0.02
    )


def test_small_activations_are_normalized_to_unit_variance():
    model = tower(batch_norm=True, activation="linear")
    model.get_layer("dnn_dense_0").set_weights([np.eye(3, dtype="float32")])
    x = np.random.default_rng(0).normal(scale=0.03, size=(4096, 3)).astype("float32")
    out = model(x, training=True).numpy()
    np.testing.assert_allclose(np.var(out, axis=0), 1.0, rtol=0.02)


@pytest.mark.parametrize("name", ["deepfm", "xdeepfm", "autoint+", "nfm"])
def test_every_batch_norm_of_the_deep_models_uses_the_tower_settings(name):
    model = build(name, batch_norm=True)
    model(batch())
    norms = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert norms
    for layer in norms:
        assert (layer.momentum, layer.epsilon) == (0.9, 1e-5)
