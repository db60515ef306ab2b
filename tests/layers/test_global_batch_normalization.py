import keras
import numpy as np
import pytest

from keras_fm.layers import GlobalBatchNormalization


def test_outside_a_strategy_it_is_keras_batch_normalization():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(32, 5)).astype("float32")
    gamma, beta = rng.normal(size=(2, 5)).astype("float32")
    ours = GlobalBatchNormalization(momentum=0.9, epsilon=1e-5)
    keras_own = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    for layer in (ours, keras_own):
        layer.build((None, 5))
        layer.set_weights([gamma, beta, np.zeros(5, "float32"), np.ones(5, "float32")])
    standardized = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
    np.testing.assert_allclose(
        ours(x, training=True), standardized * gamma + beta, atol=1e-5
    )
    np.testing.assert_allclose(ours.moving_mean, 0.1 * x.mean(axis=0), rtol=1e-5)
    keras_own(x, training=True)
    for training in (True, False):
        np.testing.assert_allclose(
            ours(x, training=training), keras_own(x, training=training), atol=1e-6
        )


def test_config_round_trip_and_loading_by_name():
    layer = GlobalBatchNormalization(momentum=0.8, epsilon=1e-4, name="norm")
    config = layer.get_config()
    assert "synchronized" not in config
    again = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert isinstance(again, GlobalBatchNormalization)
    assert (again.momentum, again.epsilon, again.name) == (0.8, 1e-4, "norm")


def test_synchronized_is_refused():
    with pytest.raises(ValueError, match="synchronized already"):
        GlobalBatchNormalization(synchronized=True)
