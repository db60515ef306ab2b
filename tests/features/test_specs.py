import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm.features import (
    BucketizedFeature,
    HashedFeature,
    IdFeature,
    LookupFeature,
    NumericFeature,
    adapt,
)

SPECS = [
    IdFeature(
        "user", 10, multivalent=True, combiner="mean", weight_feature="w", pad_value=-2
    ),
    LookupFeature(
        "city", vocabulary=["a", "b"], num_oov_indices=2, min_count=3, table="t"
    ),
    LookupFeature("zip", vocabulary=[7, 9], dtype="int64", max_tokens=5),
    HashedFeature("ip", num_bins=17, salt=3, multivalent=True, combiner="sqrtn"),
    NumericFeature("price", transform="log", normalize=True, mean=1.0, variance=4.0),
    BucketizedFeature("age", boundaries=[10, 20], num_bins=3, transform="log"),
]


def encode(feature, values):
    ids, weights = feature.encode(tf.constant(values), feature.make_preprocessor())
    return ids.numpy(), weights.numpy()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: type(s).__name__ + "-" + s.name)
def test_spec_round_trips_through_json(spec):
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(spec)))
    assert serialized["registered_name"] == f"keras_fm>{type(spec).__name__}"
    revived = keras.saving.deserialize_keras_object(serialized)
    assert revived == spec and revived.get_config() == spec.get_config()
    assert revived.num_rows == spec.num_rows


def test_id_feature_sends_out_of_range_ids_to_the_oov_row():
    ids, weights = encode(IdFeature("user", 5), [0, 4, 5, -1, 99])
    np.testing.assert_array_equal(ids, [0, 4, 5, 5, 5])
    np.testing.assert_array_equal(weights, 1.0)
    assert IdFeature("user", 5).num_rows == 6


def test_multivalent_padding_has_zero_weight():
    _, weights = encode(IdFeature("g", 5, multivalent=True), [[1, 2, -1]])
    np.testing.assert_array_equal(weights, [[1.0, 1.0, 0.0]])
    _, weights = encode(
        LookupFeature("t", vocabulary=["x"], multivalent=True), [["x", ""]]
    )
    np.testing.assert_array_equal(weights, [[1.0, 0.0]])


def test_lookup_puts_unknown_values_in_oov_rows():
    feature = LookupFeature("city", vocabulary=["paris", "rome"])
    ids, _ = encode(feature, ["rome", "paris", "oslo", ""])
    np.testing.assert_array_equal(ids, [2, 1, 0, 0])
    assert feature.num_rows == 3
    ids, _ = encode(
        LookupFeature("zip", vocabulary=[75, 10], dtype="int64"), [10, 11, -5]
    )
    np.testing.assert_array_equal(ids, [2, 0, 0])


def test_hashing_stays_in_range_and_is_deterministic():
    feature = HashedFeature("ip", num_bins=7)
    values = [f"10.0.0.{i}" for i in range(50)]
    ids, _ = encode(feature, values)
    assert ids.min() >= 0 and ids.max() < 7 and len(set(ids)) > 3
    np.testing.assert_array_equal(
        ids, encode(HashedFeature("ip", num_bins=7), values)[0]
    )


def test_numeric_log_normalize_and_missing():
    feature = NumericFeature(
        "x", transform="log", normalize=True, mean=1.0, variance=4.0
    )
    ids, weights = encode(feature, [0.0, math.e - 1, -(math.e - 1), np.nan])
    np.testing.assert_array_equal(ids, 0)
    np.testing.assert_allclose(
        weights, [(0 - 1) / 2, (1 - 1) / 2, (-1 - 1) / 2, 0.0], atol=1e-6
    )


def test_bucketized_buckets_and_missing():
    feature = BucketizedFeature("age", boundaries=[18, 30])
    ids, weights = encode(feature, [5.0, 18.0, 29.9, 30.0, 99.0, np.nan])
    np.testing.assert_array_equal(ids[:5], [0, 1, 1, 2, 2])
    np.testing.assert_array_equal(weights, [1, 1, 1, 1, 1, 0])
    assert feature.num_rows == 3


def test_adapt_builds_vocabulary_with_min_count_and_max_tokens():
    data = tf.data.Dataset.from_tensor_slices(
        ({"c": ["x", "y", "x", "z", "y", "x", "w"]}, np.zeros(7))
    ).batch(3)
    (feature,) = adapt([LookupFeature("c", min_count=2)], data)
    assert feature.vocabulary == ["x", "y"]
    (feature,) = adapt([LookupFeature("c", max_tokens=1)], data)
    assert feature.vocabulary == ["x"]


def test_adapt_numeric_and_bucketized_ignore_missing():
    values = np.array([1.0, 2.0, 3.0, np.nan, 4.0], dtype="float32")
    data = tf.data.Dataset.from_tensor_slices({"v": values}).batch(2)
    numeric, buckets, fixed = adapt(
        [
            NumericFeature("v", normalize=True),
            BucketizedFeature("v", num_bins=2),
            IdFeature("u", 3),
        ],
        data,
    )
    assert numeric.mean == pytest.approx(2.5) and numeric.variance == pytest.approx(
        1.25
    )
    assert buckets.boundaries == [2.5]
    assert fixed == IdFeature("u", 3)


def test_adapt_skips_padding_of_multivalent_lists():
    data = tf.data.Dataset.from_tensor_slices(
        {"g": tf.ragged.constant([["a", "b"], ["a"]])}
    )
    (feature,) = adapt([LookupFeature("g", multivalent=True)], data.batch(2))
    assert feature.vocabulary == ["a", "b"]
    dense = tf.data.Dataset.from_tensor_slices({"g": [["a", ""], ["b", ""]]}).batch(2)
    (feature,) = adapt([LookupFeature("g", multivalent=True)], dense)
    assert "" not in feature.vocabulary


def test_adapt_reports_missing_input():
    data = tf.data.Dataset.from_tensor_slices({"a": ["x"]})
    with pytest.raises(ValueError, match="Cannot adapt feature 'b'"):
        adapt([LookupFeature("b")], data)


def test_unadapted_spec_says_how_to_fix_it():
    with pytest.raises(ValueError, match=r"keras_fm\.features\.adapt"):
        LookupFeature("c").num_rows  # noqa: B018


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: IdFeature("", 3), "`name` must be"),
        (lambda: IdFeature("1abc", 3), "`name` must be"),
        (lambda: IdFeature("u", 0), "`vocabulary_size`"),
        (lambda: IdFeature("u", 3, combiner="max"), "`combiner` must be one of"),
        (lambda: IdFeature("u", 3, multivalent="yes"), "`multivalent` must be a bool"),
        (lambda: IdFeature("u", 3, pad_value="x"), "`pad_value`"),
        (lambda: IdFeature("u", 3, table=""), "`table`"),
        (lambda: LookupFeature("c", vocabulary=[]), "is empty"),
        (lambda: LookupFeature("c", vocabulary=["a", "a"]), "repeats"),
        (lambda: LookupFeature("c", dtype="float32"), "`dtype`"),
        (lambda: LookupFeature("c", num_oov_indices=0), "`num_oov_indices`"),
        (lambda: LookupFeature("c", min_count=0), "`min_count`"),
        (lambda: HashedFeature("h", num_bins=0), "`num_bins`"),
        (lambda: NumericFeature("x", transform="sqrt"), "`transform`"),
        (lambda: NumericFeature("x", mean=1.0), "both `mean` and `variance`"),
        (lambda: NumericFeature("x", mean=0.0, variance=-1.0), "non-negative"),
        (lambda: BucketizedFeature("b"), "`boundaries` or `num_bins`"),
        (lambda: BucketizedFeature("b", boundaries=[2, 1]), "strictly increasing"),
        (lambda: BucketizedFeature("b", num_bins=1), "`num_bins`"),
    ],
)
def test_bad_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()
