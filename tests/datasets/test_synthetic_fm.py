import keras
import numpy as np
import pytest

from keras_fm.datasets import make_fm_data
from keras_fm.layers import FMInteraction


def naive_fm_logit(truth, row):
    """Rendle's Eq. (1) for one one-hot-per-field row, pair by pair."""
    total = truth.bias + sum(w[i] for w, i in zip(truth.weights, row, strict=True))
    for f in range(len(row)):
        for g in range(f + 1, len(row)):
            total += truth.factors[f][row[f]] @ truth.factors[g][row[g]]
    return total


def test_logits_follow_the_fm_equation():
    data = make_fm_data(50, vocabulary_sizes=(4, 6, 3, 5), rank=3, seed=7)
    expected = [naive_fm_logit(data.truth, row) for row in data.ids]
    np.testing.assert_allclose(data.logits, expected, rtol=1e-12)


def test_same_seed_same_data_and_other_seed_other_data():
    a, b = make_fm_data(100, seed=3), make_fm_data(100, seed=3)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(make_fm_data(100, seed=4).ids, a.ids)


def test_ids_within_vocabularies_and_features_by_field():
    data = make_fm_data(2000, vocabulary_sizes=(3, 9), seed=0)
    assert data.ids.min() == 0
    assert list(data.ids.max(axis=0)) == [2, 8]
    features = data.features(slice(0, 5))
    assert list(features) == ["field_0", "field_1"]
    assert features["field_1"].shape == (5, 1)
    np.testing.assert_array_equal(features["field_1"][:, 0], data.ids[:5, 1])


def test_pairwise_term_has_unit_variance():
    data = make_fm_data(100_000, rank=4, weight_stddev=0.0, seed=1)
    pairwise = data.logits - data.truth.bias
    assert 0.9 < pairwise.var() < 1.1


def test_binary_labels_follow_the_probabilities():
    data = make_fm_data(50_000, seed=2)
    assert set(np.unique(data.labels)) == {0.0, 1.0}
    probabilities = 1 / (1 + np.exp(-data.logits))
    standard_error = np.sqrt(np.sum(probabilities * (1 - probabilities))) / len(data)
    assert abs(data.labels.mean() - probabilities.mean()) < 4 * standard_error


def test_regression_noise_floor_is_the_noise():
    data = make_fm_data(50_000, task="regression", noise_stddev=0.3, seed=2)
    assert data.noise_floor()["rmse"] == pytest.approx(0.3, rel=0.02)


def test_split_keeps_order_and_sizes():
    data = make_fm_data(1000, seed=0)
    train, valid, test = data.split(0.8, 0.1)
    assert (len(train), len(valid), len(test)) == (800, 100, 100)
    np.testing.assert_array_equal(test.ids, data.ids[900:])
    np.testing.assert_array_equal(valid.labels, data.labels[800:900])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "ranking"}, "`task` must be one of"),
        ({"num_examples": 0}, "`num_examples` must be positive"),
        ({"vocabulary_sizes": (5,)}, "at least two fields"),
        ({"vocabulary_sizes": (5, 0)}, "at least two fields"),
        ({"rank": 0}, "`rank` must be positive"),
    ],
)
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_fm_data(**{"num_examples": 10, **kwargs})


def test_fm_trained_on_it_reaches_the_noise_floor():
    keras.utils.set_random_seed(0)
    data = make_fm_data(
        40_000, vocabulary_sizes=(10, 8, 12, 6), rank=2, task="regression", seed=5
    )
    train, test = data.split(0.9)
    total = sum(data.vocabulary_sizes)
    offsets = np.cumsum([0, *data.vocabulary_sizes[:-1]])
    ids = keras.Input((4,), dtype="int32")
    vectors = keras.layers.Embedding(total, 2)(ids)
    weights = keras.layers.Flatten()(keras.layers.Embedding(total, 1)(ids))
    first_order = keras.layers.Dense(1)(weights)  # w0 + sum of the id weights
    score = keras.layers.Add()([first_order, FMInteraction()(vectors)])
    model = keras.Model(ids, score)
    model.compile(keras.optimizers.Adam(0.02), loss="mse")
    model.fit(train.ids + offsets, train.labels, batch_size=256, epochs=12, verbose=0)
    predictions = model.predict(test.ids + offsets, verbose=0)[:, 0]
    rmse = np.sqrt(np.mean(np.square(predictions - test.labels)))
    assert rmse < 1.2 * test.noise_floor()["rmse"]
