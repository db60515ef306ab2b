import json

import keras
import numpy as np
import pytest

from keras_fm.layers import PlattScaling


def test_is_the_affine_map_and_round_trips_through_json():
    layer = PlattScaling(scale=0.25, shift=-1.5, name="calibration")
    logits = np.array([[-2.0], [0.0], [3.0]], "float32")
    np.testing.assert_allclose(layer(logits), 0.25 * logits - 1.5, rtol=1e-6)
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    again = keras.saving.deserialize_keras_object(config)
    assert isinstance(again, PlattScaling) and again.get_config() == layer.get_config()
    assert sorted(dir(again)) == sorted(dir(layer)) and not again.weights
    np.testing.assert_allclose(again(logits), layer(logits))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_keeps_the_compute_dtype(policy):
    layer = PlattScaling(2.0, 1.0, dtype=policy)
    out = layer(keras.ops.cast(np.array([[1.0]]), layer.compute_dtype))
    assert out.dtype == layer.compute_dtype
    assert float(keras.ops.cast(out, "float32")[0, 0]) == 3.0


def test_saves_and_loads_in_a_model(tmp_path):
    inputs = keras.Input((1,))
    model = keras.Model(inputs, PlattScaling(0.5, 0.1)(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(np.array([[4.0]]), verbose=0), [[2.1]])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True, "1"])
def test_refuses_what_is_not_a_finite_float(bad):
    with pytest.raises(ValueError, match="`scale` must be a finite float"):
        PlattScaling(scale=bad)
