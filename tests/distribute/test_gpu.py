"""On a GPU, when there is one: the layers against their references and a
DeepFM fit; skipped, with the reason, on machines without one."""

import numpy as np
import pytest
import tensorflow as tf

from keras_fm.layers import CIN, FieldAwareFM, FMInteraction
from keras_fm.models import compile_for_task
from tests.layers import test_cin
from tests.models.test_models import batch, build
from tests.references import ffm_reference, fm_reference

GPUS = tf.config.list_logical_devices("GPU")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not GPUS, reason="no GPU: tf.config lists none here"),
]


def test_layers_on_the_gpu_equal_their_references():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5, 4)).astype("float32")
    with tf.device(GPUS[0].name):
        fm = FMInteraction()(x)
        cin = CIN(layer_sizes=(4, 2))
        cin_out = cin(x)
        ffm = FieldAwareFM()
        vectors = rng.normal(size=(8, 5, 5, 4)).astype("float32")
        ffm_out = ffm(vectors)
    assert tf.DeviceSpec.from_string(fm.device).device_type == GPUS[0].device_type
    np.testing.assert_allclose(fm, fm_reference(x), rtol=1e-4, atol=1e-5)
    expected = test_cin.TestCIN().reference(cin, x)
    np.testing.assert_allclose(cin_out, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ffm_out, ffm_reference(vectors), rtol=1e-4, atol=1e-5)


def test_deepfm_fits_on_the_gpu():
    x = batch(256, seed=1)
    y = np.random.default_rng(2).integers(0, 2, size=(256, 1)).astype("float32")
    with tf.device(GPUS[0].name):
        model = build("deepfm")
        compile_for_task(model)
        history = model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]
