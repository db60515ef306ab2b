import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm.layers import Dropout


def _under_xla(layer, inputs):
    return tf.function(lambda x: layer(x, training=True), jit_compile=True)(inputs)


def _outside_xla(layer, inputs):
    return tf.function(lambda x: layer(x, training=True))(inputs)


CONTEXTS = {"xla": _under_xla, "tensorflow": _outside_xla}


def _splitmix64_mask(shape, seed, rate):
    """The mask from SplitMix64 as Steele, Lea and Flood (2014) give it,
    with Python integers: output i of a seed is mix(mix(seed) + i * gamma),
    each output's four 16-bit words (low first) the draws of four entries."""
    mask64 = (1 << 64) - 1

    def mix(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask64
        return z ^ (z >> 31)

    base = mix(seed[0] | (seed[1] << 32))  # the two int32 words, little-endian
    size = int(np.prod(shape))
    draws = []
    for i in range(1, (size + 3) // 4 + 1):
        word = mix((base + i * 0x9E3779B97F4A7C15) & mask64)
        draws += [(word >> (16 * k)) & 0xFFFF for k in range(4)]
    dropped = round(rate * 65536)
    scale = 65536 / (65536 - dropped)
    kept = np.array(draws[:size]) >= dropped
    return np.where(kept, scale, 0.0).reshape(shape)


@pytest.mark.parametrize("context", CONTEXTS)
def test_the_mask_is_splitmix64s(context):
    from keras_fm.layers import dropout_masks

    seed = tf.constant([12345, 678], tf.int32)
    shape = (7, 9)  # 63 entries: the last output's fourth word unused
    mask = tf.function(
        lambda: dropout_masks.keep_mask(tf.constant(shape), seed, 0.3, tf.float64),
        jit_compile=context == "xla",
    )()
    np.testing.assert_allclose(mask, _splitmix64_mask(shape, [12345, 678], 0.3))


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_drops_the_rate_and_scales_the_rest(context, dtype):
    inputs = tf.fill((400, 501), tf.constant(2.0, dtype))  # not a multiple of 4
    policy = "mixed_bfloat16" if dtype == "bfloat16" else "float32"
    out = CONTEXTS[context](Dropout(0.3, seed=1, dtype=policy), inputs)
    assert out.dtype == dtype
    out = out.numpy().astype("float64")
    dropped = out == 0
    assert abs(dropped.mean() - 0.3) < 0.005  # 2e5 draws: 5 standard errors
    dropped_halves = round(0.3 * 65536)  # 19661: kept ones scaled by 1 / 0.70000
    scale = 2.0 * 65536 / (65536 - dropped_halves)
    np.testing.assert_allclose(
        out[~dropped], scale, rtol=1e-6 if dtype == "float32" else 4e-3
    )
    rows, cols = dropped.mean(1), dropped.mean(0)  # no pattern by row or column
    assert rows.std() < 0.04 and cols.std() < 0.04
    # Neighbours (words of one output) are independent.
    quads = dropped.reshape(-1)[: 400 * 500].reshape(-1, 4)
    for first, second in [(0, 1), (1, 2), (0, 3)]:
        both = (quads[:, first] & quads[:, second]).mean()
        assert abs(both - 0.09) < 0.005


@pytest.mark.parametrize("context", CONTEXTS)
def test_masks_change_between_steps_and_follow_the_seed(context):
    inputs = tf.ones((64, 64))
    first, again = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    run = CONTEXTS[context]
    a1, a2 = run(first, inputs).numpy(), run(first, inputs).numpy()
    assert not np.array_equal(a1 == 0, a2 == 0)
    np.testing.assert_array_equal(run(again, inputs).numpy(), a1)


def test_a_seed_gives_the_same_masks_under_xla_and_outside():
    inputs = tf.random.normal((33, 17), seed=0)
    np.testing.assert_array_equal(
        _under_xla(Dropout(0.4, seed=9), inputs),
        _outside_xla(Dropout(0.4, seed=9), inputs),
    )


def _values_and_gradient(layers, inputs, jit_compile):
    weights = tf.random.normal(inputs.shape, seed=1)

    @tf.function(jit_compile=jit_compile)
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = x
            for layer in layers:
                out = layer(out, training=True)
            loss = tf.reduce_sum(tf.cast(out, weights.dtype) * weights)
        return out, tape.gradient(loss, x)

    out, gradient = run(inputs)
    return out.numpy(), gradient.numpy(), weights.numpy()


@pytest.mark.parametrize("jit_compile", [True, False])
def test_the_gradient_is_the_mask(jit_compile):
    inputs = tf.random.normal((64, 64), seed=0)
    out, gradient, weights = _values_and_gradient(
        [Dropout(0.25, seed=4)], inputs, jit_compile
    )
    mask = _splitmix64_mask((64, 64), _first_seed(0.25, 4), 0.25)
    np.testing.assert_allclose(out, inputs.numpy() * mask, rtol=1e-6)
    np.testing.assert_allclose(gradient, mask * weights, rtol=1e-6)


def _first_seed(rate, seed):
    """The int32 seed words a fresh layer's first training call uses."""
    generator = Dropout(rate, seed=seed).seed_generator
    return [int(v) % (2**31 - 2) for v in generator.next().numpy()]


@pytest.mark.parametrize("jit_compile", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_after_a_relu_it_is_the_relu_then_the_mask(jit_compile, dtype):
    policy = "mixed_bfloat16" if dtype == "bfloat16" else "float32"
    inputs = tf.random.normal((64, 40), seed=0)
    relu = keras.layers.Activation("relu", dtype=policy)
    out, gradient, weights = _values_and_gradient(
        [relu, Dropout(0.3, seed=4, dtype=policy)], inputs, jit_compile
    )
    mask = _splitmix64_mask((64, 40), _first_seed(0.3, 4), 0.3)
    x = tf.cast(tf.cast(inputs, dtype), "float64").numpy()  # as the ReLU sees it
    rtol = 1e-6 if dtype == "float32" else 8e-3
    np.testing.assert_allclose(
        out.astype("float64"), np.maximum(x, 0) * mask, rtol=rtol
    )
    expected = np.where(x > 0, mask * weights, 0.0)
    np.testing.assert_allclose(
        gradient.astype("float64"), expected, rtol=rtol, atol=1e-6
    )


def test_outside_xla_the_relu_runs_in_the_masks_pass():
    inputs = tf.random.normal((8, 6), seed=0)
    relu, dropout = keras.layers.Activation("relu"), Dropout(0.3, seed=4)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(dropout(relu(x), training=True))
        return tape.gradient(loss, x)

    graph = step.get_concrete_function(inputs).graph
    kinds = {operation.type for operation in graph.get_operations()}
    assert "ReluGrad" not in kinds  # the ReLU's own gradient is not taken
    compiled = [
        operation
        for operation in graph.get_operations()
        if "PartitionedCall" in operation.type
        and operation.node_def.attr["_XlaMustCompile"].b
    ]
    assert len(compiled) == 2  # forward and backward, each an XLA cluster


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
