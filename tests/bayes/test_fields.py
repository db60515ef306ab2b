"""Field features as the Bayesian learners' rows, and models that serve the
feature dict."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm.bayes import SparseRows, field_groups, field_rows, fit_mcmc
from keras_fm.features import IdFeature, LookupFeature, NumericFeature
from keras_fm.layers import FieldIds

FEATURES = [
    IdFeature("user", 6),  # ids 0..6 (6: out of range)
    LookupFeature("city", ["a", "b", "c"]),  # 7 (unknown), 8..10
    IdFeature("genres", 4, multivalent=True, combiner="mean", pad_value=-1),  # 11..15
    NumericFeature("age"),  # 16
]


def table(seed=0, num_rows=300):
    rng = np.random.default_rng(seed)
    user = rng.integers(0, 6, num_rows)
    city = rng.choice(["a", "b", "c", "z"], num_rows)
    genres = [sorted(rng.choice(4, rng.integers(0, 3), replace=False)) for _ in user]
    age = np.where(rng.random(num_rows) < 0.1, np.nan, rng.normal(0, 1, num_rows))
    label = user % 3 + (city == "a") + np.nan_to_num(age) * 0.5
    return user, city, genres, age, label + rng.normal(0, 0.2, num_rows)


def dataset(columns, batch=64):
    user, city, genres, age, label = columns
    features = {
        "user": user[:, None], "city": city[:, None],
        "genres": tf.ragged.constant(genres, dtype=tf.int64, row_splits_dtype=tf.int64),
        "age": age[:, None].astype("float32"),
    }  # fmt: skip
    return tf.data.Dataset.from_tensor_slices((features, label)).batch(batch)


def naive_rows(columns):
    """The rows written by hand from the specs' documented layout."""
    user, city, genres, age, label = columns
    cities = {"a": 8, "b": 9, "c": 10}
    ids, values = [], []
    for u, c, g, a in zip(user, city, genres, age, strict=True):
        row, x = [int(u), cities.get(str(c), 7)], [1.0, 1.0]
        row += [11 + int(i) for i in g]
        x += [1.0 / max(len(g), 1)] * len(g)  # combiner mean
        if np.isfinite(a):
            row.append(16)
            x.append(float(a))
        ids.append(row)
        values.append(x)
    return SparseRows.from_lists(ids, values, label, 17)


def test_field_rows_are_the_specs_ids_and_values():
    columns = table()
    rows = field_rows(dataset(columns), FEATURES)
    expected = naive_rows(columns)
    assert rows.num_features == 17 and rows.num_rows == 300
    for got, want in zip(
        (rows.rows, rows.ids), (expected.rows, expected.ids), strict=True
    ):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(rows.values, expected.values, rtol=1e-6)
    np.testing.assert_allclose(rows.labels, expected.labels)
    np.testing.assert_array_equal(
        field_groups(FEATURES), np.repeat(range(4), [7, 4, 5, 1])
    )


def test_the_model_of_field_rows_serves_the_feature_dict(tmp_path):
    columns = table()
    rows = field_rows(dataset(columns), FEATURES)
    groups = field_groups(FEATURES)
    by_fields = fit_mcmc(rows, embedding_dim=2, num_sweeps=12, burn_in=4,
                         features=FEATURES, seed=3)  # fmt: skip
    by_ids = fit_mcmc(rows, embedding_dim=2, num_sweeps=12, burn_in=4,
                      groups=groups, seed=3)  # fmt: skip
    test = table(seed=1, num_rows=50)
    expected_rows = naive_rows(test)
    expected = by_ids.predict(
        {
            "ids": tf.RaggedTensor.from_value_rowids(
                expected_rows.ids, expected_rows.rows
            ),
            "values": tf.RaggedTensor.from_value_rowids(
                expected_rows.values.astype("float32"), expected_rows.rows
            ),
        },
        verbose=0,
    )
    served = by_fields.predict(dataset(test), verbose=0)
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-5)
    path = tmp_path / "bayes.keras"
    by_fields.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(dataset(test), verbose=0), served, atol=1e-6
    )


def test_features_must_match_the_samples_feature_space():
    rows = field_rows(dataset(table()), FEATURES)
    with pytest.raises(
        ValueError, match="the features take 7 ids; the rows have 17 features"
    ):
        fit_mcmc(rows, num_sweeps=2, burn_in=0, features=FEATURES[:1])


def test_field_ids_config_round_trip_and_ragged_equals_dense():
    layer = FieldIds(FEATURES)
    clone = FieldIds.from_config(layer.get_config())
    assert [f.name for f in clone.features] == [f.name for f in FEATURES]
    inputs = {
        "user": np.array([[2], [5]]), "city": np.array([["b"], ["q"]]),
        "genres": np.array([[0, 3], [1, -1]]),
        "age": np.array([[0.5], [np.nan]], "float32"),
    }  # fmt: skip
    dense = clone(inputs)
    np.testing.assert_array_equal(
        dense["ids"], [[2, 9, 11, 14, 16], [5, 7, 12, 15, 16]]
    )
    np.testing.assert_allclose(
        dense["values"], [[1, 1, 0.5, 0.5, 0.5], [1, 1, 1, 0, 0]]
    )
    ragged = clone(
        {**inputs, "genres": tf.ragged.constant([[0, 3], [1]], dtype=tf.int64)}
    )
    assert isinstance(ragged["ids"], tf.RaggedTensor)
    kept = dense["values"].numpy() != 0
    ragged_kept = ragged["values"].flat_values.numpy() != 0
    np.testing.assert_array_equal(
        ragged["ids"].flat_values.numpy()[ragged_kept], dense["ids"].numpy()[kept]
    )
