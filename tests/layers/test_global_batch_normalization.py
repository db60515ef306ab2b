import keras
import numpy as np
import pytest
import tensorflow as tf

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


def _train_step(layer, x):
    """Outputs and gradients of one training call, traced without XLA."""

    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(out, "float32") ** 3)
        return [out, *tape.gradient(loss, [x, *layer.trainable_weights])]

    return tf.function(step)(tf.constant(x))


@pytest.mark.parametrize(
    "shape, dtype, center, scale",
    [
        ((64, 5), "float32", True, True),
        ((16, 3, 5), "float32", False, True),
        ((64, 5), "mixed_bfloat16", True, False),
    ],
)
def test_the_fused_kernel_trains_as_keras(shape, dtype, center, scale):
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, size=shape).astype("float32")
    options = dict(momentum=0.9, epsilon=1e-5, center=center, scale=scale)
    ours = GlobalBatchNormalization(**options, dtype=dtype)
    keras_own = keras.layers.BatchNormalization(**options, dtype=dtype)
    values = rng.normal(size=(2, 5)).astype("float32")
    for layer in (ours, keras_own):
        layer.build((None, *shape[1:]))
        for weight, value in zip(layer.trainable_weights, values, strict=False):
            weight.assign(value)
    fused = _train_step(ours, x)
    reference = _train_step(keras_own, x)
    atol = 1e-4 if dtype == "float32" else 2e-2
    for got, want in zip(fused, reference, strict=True):
        np.testing.assert_allclose(
            np.asarray(got, "float32"),
            np.asarray(want, "float32"),
            atol=atol,
            rtol=1e-4,
        )
    for name in ("moving_mean", "moving_variance"):
        np.testing.assert_allclose(
            getattr(ours, name), getattr(keras_own, name), rtol=1e-5, atol=1e-7
        )
    seen = np.asarray(tf.cast(tf.cast(x, ours.compute_dtype), "float32"))
    np.testing.assert_allclose(
        ours.moving_variance, 0.9 + 0.1 * seen.reshape(-1, 5).var(axis=0), rtol=1e-5
    )


def test_it_runs_the_fused_kernel_in_training_outside_xla_only():
    def ops_of(compiled, training=True):
        layer = GlobalBatchNormalization()
        layer.build((None, 4))
        function = tf.function(
            lambda x: layer(x, training=training), jit_compile=compiled
        ).get_concrete_function(tf.TensorSpec((None, 4)))
        return {op.type for op in function.graph.get_operations()}

    assert "FusedBatchNormV3" in ops_of(compiled=False)
    assert "FusedBatchNormV3" not in ops_of(compiled=True)
    assert "FusedBatchNormV3" not in ops_of(compiled=False, training=False)
