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


def _outside_xla(layer, inputs):
    return tf.function(lambda x: layer(x, training=True))(inputs)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_outside_xla_drops_the_rate_and_scales_the_rest(dtype):
    inputs = tf.fill((400, 501), tf.constant(2.0, dtype))  # an odd count of halves
    policy = "mixed_bfloat16" if dtype == "bfloat16" else "float32"
    out = _outside_xla(Dropout(0.3, seed=1, dtype=policy), inputs)
    assert out.dtype == dtype
    out = out.numpy().astype("float64")
    dropped = out == 0
    assert abs(dropped.mean() - 0.3) < 0.005  # 2e5 draws: 5 standard errors
    dropped_halves = round(0.3 * 65536)  # 19661: kept ones scaled by 1 / 0.70000
    scale = 2.0 * 65536 / (65536 - dropped_halves)
    np.testing.assert_allclose(
        out[~dropped], scale, rtol=1e-6 if dtype == "float32" else 4e-3
    )
    rows, cols = dropped.mean(1), dropped.mean(0)
    assert rows.std() < 0.04 and cols.std() < 0.04
    # Neighbours (the two halves of one draw) are independent.
    pairs = dropped.reshape(-1)[: 400 * 500].reshape(-1, 2)
    assert abs((pairs[:, 0] & pairs[:, 1]).mean() - 0.09) < 0.005


def test_outside_xla_masks_change_follow_the_seed_and_pass_the_gradient():
    inputs = tf.random.normal((64, 64), seed=0)
    first, again = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    a1, a2 = _outside_xla(first, inputs).numpy(), _outside_xla(first, inputs).numpy()
    assert not np.array_equal(a1 == 0, a2 == 0)
    np.testing.assert_array_equal(_outside_xla(again, inputs).numpy(), a1)
    layer = Dropout(0.25, seed=4)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        out = layer(inputs, training=True)
        loss = tf.reduce_sum(out * tf.range(64, dtype="float32"))
    mask = np.where(out.numpy() == 0, 0.0, 65536 / (65536 - 16384))
    np.testing.assert_allclose(
        tape.gradient(loss, inputs), mask * np.arange(64), rtol=1e-6
    )


def test_out_of_training_or_with_a_noise_shape_it_is_keras_dropout():
    inputs = np.random.default_rng(0).normal(size=(8, 10)).astype("float32")
    ours = Dropout(0.4, noise_shape=(8, 1), seed=5)
    keras_own = keras.layers.Dropout(0.4, noise_shape=(8, 1), seed=5)
    np.testing.assert_array_equal(
        ours(inputs, training=True), keras_own(inputs, training=True)
    )
    np.testing.assert_array_equal(Dropout(0.4)(inputs, training=False), inputs)
    np.testing.assert_array_equal(_under_xla(Dropout(0.0), inputs), inputs)
    np.testing.assert_array_equal(_outside_xla(Dropout(0.0), inputs), inputs)


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
