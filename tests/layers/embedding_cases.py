"""Inputs and NumPy references shared by the embedding layers' tests."""

import math

import numpy as np
import tensorflow as tf

from keras_fm.features import IdFeature, LookupFeature, NumericFeature

CITIES = ["paris", "rome", "oslo"]
HASH_MULTIPLIER = 2654435761
HASH_MODULUS = 2**31 - 1


def make_features(combiner="sum"):
    return [
        IdFeature("user", 7),
        IdFeature(
            "genre", 5, multivalent=True, combiner=combiner, weight_feature="genre_w"
        ),
        NumericFeature("age", transform="log"),
        LookupFeature("city", vocabulary=CITIES),
        IdFeature("history", 6, multivalent=True, table="items"),
        IdFeature("item", 6, table="items"),
    ]


# Per example: each field's raw entries. Example 2 has empty lists; ids 9 and
# -3 are out of range; "tokyo" is out of vocabulary; NaN age is missing.
EXAMPLES = [
    {
        "user": [3],
        "genre": [1, 4],
        "genre_w": [0.5, 2.0],
        "age": [30.0],
        "city": ["rome"],
        "history": [0, 5, 2],
        "item": [5],
    },
    {
        "user": [9],
        "genre": [2],
        "genre_w": [1.5],
        "age": [0.5],
        "city": ["tokyo"],
        "history": [1],
        "item": [-3],
    },
    {
        "user": [0],
        "genre": [],
        "genre_w": [],
        "age": [float("nan")],
        "city": ["oslo"],
        "history": [],
        "item": [2],
    },
]
LISTS = {"genre": -1, "genre_w": 0.0, "history": -1}


def rows_of(features):
    """Row offsets as documented: features in order, shared tables once."""
    offsets, total, tables = {}, 0, {}
    for feature in features:
        if feature.table in tables:
            offsets[feature.name] = tables[feature.table]
            continue
        offsets[feature.name] = total
        if feature.table is not None:
            tables[feature.table] = total
        total += feature.num_rows
    return offsets, total


def entries(feature, example):
    """(local row, weight) pairs of one field of one example, from the spec's rules."""
    values = example[feature.name]
    if isinstance(feature, NumericFeature):
        x = values[0]
        if math.isnan(x):
            return [(0, 0.0)]
        return [(0, math.copysign(math.log1p(abs(x)), x) if x else 0.0)]
    if isinstance(feature, LookupFeature):
        return [(CITIES.index(v) + 1 if v in CITIES else 0, 1.0) for v in values]
    v = feature.vocabulary_size
    weights = example.get(feature.weight_feature, [1.0] * len(values))
    pairs = [(i if 0 <= i < v else v, w) for i, w in zip(values, weights, strict=True)]
    if feature.multivalent and pairs and feature.combiner != "sum":
        total = sum(w for _, w in pairs)
        if feature.combiner == "sqrtn":
            total = math.sqrt(sum(w * w for _, w in pairs))
        pairs = [(i, w / total) for i, w in pairs]
    return pairs


def reference(features, examples, row_vectors, linear, bias):
    """vectors[b, f] = sum x * row_vectors[row], first[b] = bias + sum x * w[row]."""
    offsets, _ = rows_of(features)
    shape = row_vectors.shape[1:]
    vectors = np.zeros((len(examples), len(features), *shape))
    first = np.full((len(examples), 1), float(bias))
    for b, example in enumerate(examples):
        for f, feature in enumerate(features):
            for local, x in entries(feature, example):
                row = offsets[feature.name] + local
                vectors[b, f] += x * row_vectors[row]
                first[b, 0] += x * linear[row]
    return vectors, first


def hashed_rows(table, num_rows, num_fields, num_buckets):
    """(num_rows, F, D) field-aware vectors read through the documented hash."""
    out = np.zeros((num_rows, num_fields, table.shape[1]))
    for row in range(num_rows):
        for g in range(num_fields):
            key = (row * num_fields + g) % HASH_MODULUS
            out[row, g] = table[(key * HASH_MULTIPLIER % HASH_MODULUS) % num_buckets]
    return out


def inputs(kind, examples=EXAMPLES):
    """The examples as dense-padded, ragged or sparse tensors."""
    result = {}
    for name in examples[0]:
        column = [e[name] for e in examples]
        if name not in LISTS:
            result[name] = np.array([c[0] for c in column])
            continue
        dtype = tf.float32 if name.endswith("_w") else tf.int64
        ragged = tf.ragged.constant(column, dtype=dtype, ragged_rank=1)
        if kind == "ragged":
            result[name] = ragged
        elif kind == "sparse":
            result[name] = ragged.to_sparse()
        else:
            result[name] = ragged.to_tensor(default_value=LISTS[name])
    return result


def assert_mixed_precision_matches(layer, full, kind="ragged"):
    """``layer`` (built under a mixed policy) given ``full``'s float32 weights
    keeps float32 weights, returns its compute dtype, and matches ``full``
    within the half type's precision."""
    layer.set_weights(full.get_weights())
    got, want = layer(inputs(kind)), full(inputs(kind))
    assert all(w.dtype == "float32" for w in layer.weights)
    tolerance = 2e-2 if layer.compute_dtype == "bfloat16" else 2e-3
    for g, w in zip(got, want, strict=True):
        assert g.dtype == layer.compute_dtype
        np.testing.assert_allclose(
            np.asarray(g, "float32"), w, rtol=tolerance, atol=tolerance
        )
