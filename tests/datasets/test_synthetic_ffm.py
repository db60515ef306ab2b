import numpy as np
import pytest

from keras_fm.datasets import make_ffm_data


def naive_ffm_logit(truth, row):
    """Juan et al. (2016) Eq. (3) for one one-hot-per-field row, pair by pair:
    id ``row[f]`` meets field ``g`` with its vector for ``g``, and back."""
    total = truth.bias + sum(w[i] for w, i in zip(truth.weights, row, strict=True))
    for f in range(len(row)):
        for g in range(f + 1, len(row)):
            for d in range(truth.factors[f].shape[2]):
                total += truth.factors[f][row[f], g, d] * truth.factors[g][row[g], f, d]
    return total


def test_logits_follow_the_ffm_equation():
    data = make_ffm_data(60, vocabulary_sizes=(4, 6, 3, 5), rank=3, seed=7)
    assert [f.shape for f in data.truth.factors] == [
        (4, 4, 3), (6, 4, 3), (3, 4, 3), (5, 4, 3),
    ]  # fmt: skip
    expected = [naive_ffm_logit(data.truth, row) for row in data.ids]
    np.testing.assert_allclose(data.logits, expected, rtol=1e-12)


def test_field_aware_vectors_differ_from_one_shared_vector():
    """Swapping which vector an id uses against which field changes the
    logits: the data are field-aware, not a plain FM."""
    data = make_ffm_data(200, vocabulary_sizes=(5, 5, 5), rank=2, seed=3)
    truth = data.truth
    swapped = type(truth)(
        truth.bias, truth.weights, [f[:, ::-1] for f in truth.factors]
    )
    assert np.abs(swapped.logits(data.ids) - data.logits).mean() > 0.1


def test_pairwise_term_has_unit_variance():
    data = make_ffm_data(100_000, rank=4, weight_stddev=0.0, seed=1)
    assert 0.9 < (data.logits - data.truth.bias).var() < 1.1


def test_labels_and_seeds():
    binary = make_ffm_data(50_000, seed=2)
    probabilities = 1 / (1 + np.exp(-binary.logits))
    error = np.sqrt(np.sum(probabilities * (1 - probabilities))) / len(binary)
    assert abs(binary.labels.mean() - probabilities.mean()) < 4 * error
    regression = make_ffm_data(50_000, task="regression", noise_stddev=0.3, seed=2)
    assert np.std(regression.labels - regression.logits) == pytest.approx(0.3, rel=0.02)
    np.testing.assert_array_equal(
        make_ffm_data(50, seed=5).ids, make_ffm_data(50, seed=5).ids
    )
    assert list(make_ffm_data(2000, vocabulary_sizes=(3, 9)).ids.max(axis=0)) == [2, 8]
