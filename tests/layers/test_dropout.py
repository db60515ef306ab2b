import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm.layers import Dropout


def _under_xla(layer, inputs):
    return tf.function(lambda x: layer(x, training=True), jit_compile=True)(inputs)


def test_under_xla_drops_the_rate_and_scales_the_rest():
    inputs = tf.fill((400, 500), 2.0)
    out = _under_xla(Dropout(0.3, seed=1), inputs).numpy()
    dropped = out == 0
    assert abs(dropped.mean() - 0.3) < 0.005  # 2e5 draws: 5 standard errors
    np.testing.assert_allclose(out[~dropped], 2.0 / 0.7, rtol=1e-6)
    rows, cols = dropped.mean(1), dropped.mean(0)  # no pattern by row or column
    assert rows.std() < 0.04 and cols.std() < 0.04


def test_masks_change_between_steps_and_follow_the_seed():
    inputs = tf.ones((64, 64))
    first, again = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    step = tf.function(lambda layer, x: layer(x, training=True), jit_compile=True)
    a1, a2 = step(first, inputs).numpy(), step(first, inputs).numpy()
    assert not np.array_equal(a1 == 0, a2 == 0)
    np.testing.assert_array_equal(step(again, inputs).numpy(), a1)


def test_without_xla_or_training_it_is_keras_dropout():
    inputs = np.random.default_rng(0).normal(size=(8, 10)).astype("float32")
    ours, keras_own = Dropout(0.4, seed=5), keras.layers.Dropout(0.4, seed=5)
    np.testing.assert_array_equal(
        ours(inputs, training=True), keras_own(inputs, training=True)
    )
    np.testing.assert_array_equal(ours(inputs, training=False), inputs)
    np.testing.assert_array_equal(_under_xla(Dropout(0.0), inputs), inputs)


def test_round_trips_and_saves_in_a_model(tmp_path):
    layer = Dropout(0.25, seed=7, name="drop")
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    again = keras.saving.deserialize_keras_object(config)
    assert type(again) is Dropout and again.get_config() == layer.get_config()
    inputs = keras.Input((3,))
    model = keras.Model(inputs, Dropout(0.5)(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[-1], Dropout)
    np.testing.assert_allclose(loaded.predict(np.ones((2, 3)), verbose=0), 1.0)


@pytest.mark.parametrize("builder", ["deepfm", "nfm"])
def test_the_deep_models_use_it(builder):
    from keras_fm.data import position_features
    from keras_fm.models import BUILDERS

    model = BUILDERS[builder](position_features(3, 20), dnn_units=(4,))
    assert any(type(layer) is Dropout for layer in model.layers)
