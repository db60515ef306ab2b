import numpy as np
import pytest

from keras_fm.calibration import expected_calibration_error, reliability


def naive_ece(labels, probabilities, bins):
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        rows = [
            i for i, p in enumerate(probabilities)
            if low <= p < high or (b == bins - 1 and p == 1.0)
        ]  # fmt: skip
        if rows:
            accuracy = np.mean([labels[i] > 0 for i in rows])
            confidence = np.mean([probabilities[i] for i in rows])
            total += len(rows) / len(labels) * abs(accuracy - confidence)
    return total


@pytest.mark.parametrize("bins", [1, 5, 15])
def test_ece_equals_a_loop_over_bins(bins):
    rng = np.random.default_rng(bins)
    probabilities = np.concatenate([rng.random(300), [0.0, 1.0]])
    labels = rng.random(302) < probabilities**2  # miscalibrated
    expected = naive_ece(labels, probabilities, bins)
    assert expected > 0.01
    assert expected_calibration_error(labels, probabilities, bins) == pytest.approx(
        expected, abs=1e-12
    )
    table = reliability(labels, probabilities, bins)
    assert table["count"].sum() == 302


def test_calibrated_draws_have_a_small_ece():
    rng = np.random.default_rng(0)
    probabilities = rng.random(200_000)
    labels = rng.random(200_000) < probabilities
    assert expected_calibration_error(labels, probabilities) < 0.005
    assert expected_calibration_error(labels, probabilities**3) > 0.1


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="as many labels"):
        expected_calibration_error(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        expected_calibration_error(np.ones(2), np.array([0.5, np.nan]))
    with pytest.raises(ValueError, match="`bins` must be"):
        expected_calibration_error(np.ones(2), np.ones(2), bins=0)
