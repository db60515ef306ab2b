import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm.calibration import calibrate, expected_calibration_error, fit_platt
from keras_fm.features import IdFeature
from keras_fm.models import build_fm, build_sparse_fm


def log_loss(z, y, scale, shift):
    t = scale * z + shift
    return np.sum(np.logaddexp(0, t) - y * t)


def draws(seed=0, count=5000):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, count)
    y = rng.random(count) < 1 / (1 + np.exp(-(0.4 * z + 0.7)))
    return z, y


def test_platt_is_the_minimum_of_the_log_loss_on_a_grid():
    z, y = draws()
    scale, shift = fit_platt(z, y)
    best = min(
        log_loss(z, y, a, b)
        for a in np.linspace(scale - 0.05, scale + 0.05, 41)
        for b in np.linspace(shift - 0.1, shift + 0.1, 41)
    )
    assert log_loss(z, y, scale, shift) <= best + 1e-9
    assert scale == pytest.approx(0.4, abs=0.05) and shift == pytest.approx(
        0.7, abs=0.1
    )


def test_temperature_fits_the_scale_alone():
    z, y = draws(1)
    scale, shift = fit_platt(z, y, "temperature")
    assert shift == 0.0
    grid = np.linspace(scale - 0.05, scale + 0.05, 201)
    assert log_loss(z, y, scale, 0) <= min(log_loss(z, y, a, 0) for a in grid) + 1e-9


def test_separable_or_one_class_labels():
    with pytest.raises(ValueError, match="both classes"):
        fit_platt(np.array([0.1, 0.2]), np.array([1, 1]))
    with pytest.raises(ValueError, match="finite logit"):
        fit_platt(np.array([np.nan, 0.2]), np.array([0, 1]))
    with pytest.raises(ValueError, match="`method`"):
        fit_platt(np.array([0.1, 0.2]), np.array([0, 1]), "isotonic")
    scale, _ = fit_platt(np.array([-1.0, 1.0]), np.array([0, 1]))  # separable
    assert np.isfinite(scale)


def overconfident_fm(tmp_path):
    """An FM whose logits are 4 times too large, and held-out batches."""
    features = [IdFeature("user", 30), IdFeature("item", 20)]
    model = build_fm(features, embedding_dim=2)
    rng = np.random.default_rng(3)
    table = model.get_layer("embedding").linear_weights
    weights = rng.normal(0, 1, table.shape[0])
    table.assign(4 * weights)
    item_rows = model.get_layer("embedding").offsets[1]
    users, items = rng.integers(0, 30, 4000), rng.integers(0, 20, 4000)
    truth = 1 / (1 + np.exp(-(weights[users] + weights[item_rows + items])))
    labels = (rng.random(4000) < truth).astype("float32")
    data = tf.data.Dataset.from_tensor_slices(
        ({"user": users, "item": items}, labels)
    ).batch(512)
    return model, data


def test_calibrate_puts_the_fitted_layer_into_the_model(tmp_path):
    model, data = overconfident_fm(tmp_path)
    calibrated = calibrate(model, data)
    layer = calibrated.get_layer("calibration")
    assert layer.scale == pytest.approx(0.25, abs=0.05)
    features = {"user": np.array([1, 5]), "item": np.array([2, 7])}
    logit = keras.Model(model.input, model.get_layer("logit").output)(features)
    expected = 1 / (1 + np.exp(-(layer.scale * np.asarray(logit) + layer.shift)))
    np.testing.assert_allclose(calibrated(features), expected, rtol=1e-5)
    labels = np.concatenate([y for _, y in data])
    before = np.concatenate([model(x) for x, _ in data])[:, 0]
    after = np.concatenate([calibrated(x) for x, _ in data])[:, 0]
    assert expected_calibration_error(labels, after) < 0.5 * expected_calibration_error(
        labels, before
    )
    calibrated.save(tmp_path / "c.keras")
    loaded = keras.saving.load_model(tmp_path / "c.keras")
    np.testing.assert_allclose(loaded(features), calibrated(features), rtol=1e-6)


def test_only_binary_models_are_calibrated():
    model = build_sparse_fm(5, task="regression")
    with pytest.raises(ValueError, match="binary models"):
        calibrate(model, tf.data.Dataset.range(1))
