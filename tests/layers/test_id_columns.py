"""Runs of one-column id features encoded as one block (`id_columns`)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_fm.features import IdFeature, NumericFeature
from keras_fm.layers import FieldEmbedding
from keras_fm.layers.id_columns import encode_id_columns

RNG = np.random.default_rng(7)


def reference(sizes, values, weights, offsets):
    """Explicit loops: IdFeature's out-of-vocabulary row, the offset, and a
    weight that is 1.0 where missing (NaN) and clipped to +-1e6."""
    batch, n = values.shape
    ids = np.zeros((batch, n), np.int64)
    out = np.ones((batch, n), np.float32)
    for b in range(batch):
        for c in range(n):
            value = values[b, c]
            row = value if 0 <= value < sizes[c] else sizes[c]
            ids[b, c] = row + offsets[c]
            if weights[c] is not None:
                w = weights[c][b]
                out[b, c] = 1.0 if np.isnan(w) else min(max(w, -1e6), 1e6)
    return ids, out


def random_columns(sizes, batch, weighted):
    values = np.stack(
        [RNG.integers(-3, size + 3, batch) for size in sizes], axis=1
    ).astype(np.int64)
    values[0, 0] = 2**40  # far outside any vocabulary
    weights = []
    for has_weight in weighted:
        if not has_weight:
            weights.append(None)
            continue
        w = RNG.normal(size=batch).astype(np.float32) * 3
        w[RNG.random(batch) < 0.2] = np.nan
        w[1] = np.inf
        w[2] = -3e7
        weights.append(w)
    return values, weights


@pytest.mark.parametrize("weighted", [(False,) * 4, (True, False, True, True)])
def test_block_matches_a_loop_over_columns(weighted):
    sizes = [5, 1, 40, 9]
    offsets = [0, 6, 8, 49]
    values, weights = random_columns(sizes, 64, weighted)
    features = [IdFeature(f"f{c}", size) for c, size in enumerate(sizes)]
    ids, out = encode_id_columns(
        features,
        [tf.constant(values[:, c : c + 1]) for c in range(len(sizes))],
        [None if w is None else tf.constant(w[:, None]) for w in weights],
        offsets,
    )
    expected_ids, expected_weights = reference(sizes, values, weights, offsets)
    assert ids.dtype == tf.int32 and out.dtype == tf.float32
    np.testing.assert_array_equal(ids.numpy(), expected_ids)
    np.testing.assert_array_equal(out.numpy(), expected_weights)


def mixed_features():
    return [
        IdFeature("a", 4),
        IdFeature("b", 7, weight_feature="b_w"),
        NumericFeature("age"),
        IdFeature("c", 3, table="shared"),
        IdFeature("d", 3, multivalent=True, table="shared"),
        IdFeature("e", 11),
        IdFeature("f", 2, weight_feature="f_w"),
    ]


def mixed_inputs(batch, ragged):
    values, weights = random_columns([4, 7, 3, 11, 2], batch, [0, 1, 0, 0, 1])
    inputs = {
        name: tf.constant(values[:, c])
        for c, name in enumerate(["a", "b", "c", "e", "f"])
    }
    inputs["b_w"] = tf.constant(weights[1])
    inputs["f_w"] = tf.constant(weights[4])
    inputs["age"] = tf.constant(RNG.normal(size=(batch, 1)).astype(np.float32))
    lists = RNG.integers(-1, 5, (batch, 3)).astype(np.int64)
    inputs["d"] = tf.RaggedTensor.from_tensor(lists, padding=-1) if ragged else lists
    return inputs


@pytest.mark.parametrize("ragged", [False, True])
def test_layer_encodes_as_feature_by_feature(ragged, monkeypatch):
    """Blocks of plain id features between other features give the ids,
    weights and fields the one-feature-at-a-time encoding gives."""
    features = mixed_features()
    if not ragged:
        features[4] = IdFeature("d", 3, multivalent=True, pad_value=-1, table="shared")
    layer = FieldEmbedding(features, embedding_dim=2)
    inputs = mixed_inputs(16, ragged)
    blocks = layer.encode(inputs)
    monkeypatch.setattr(
        "keras_fm.layers.field_input_layer.is_plain_id", lambda *args: False
    )
    one_by_one = layer.encode(inputs)
    for got, want in zip(blocks, one_by_one, strict=True):
        if isinstance(want, tf.RaggedTensor):
            assert got.to_list() == want.to_list()
        else:
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert isinstance(blocks[2], tf.Tensor if not ragged else tf.RaggedTensor)


def op_count(num_fields):
    features = [
        IdFeature(f"f{i}", 10, weight_feature=f"w{i}") for i in range(num_fields)
    ]
    layer = FieldEmbedding(features, embedding_dim=2)
    specs = {f"f{i}": tf.TensorSpec((None,), tf.int64) for i in range(num_fields)}
    specs.update(
        {f"w{i}": tf.TensorSpec((None,), tf.float32) for i in range(num_fields)}
    )
    graph = (
        tf.function(layer.encode, autograph=False).get_concrete_function(specs).graph
    )
    return len(graph.as_graph_def().node)


def test_encoding_ops_do_not_grow_with_the_fields():
    # Per field: its two placeholders and the slices (with their constants)
    # that make them columns, 10 ops; encoded one at a time, 32.
    assert op_count(10) - op_count(2) <= 8 * 12


def test_inputs_of_unknown_width_are_encoded_on_their_own():
    features = [IdFeature("a", 4), IdFeature("b", 5), IdFeature("c", 6)]
    layer = FieldEmbedding(features, embedding_dim=2)
    specs = {
        "a": tf.TensorSpec((None, 1), tf.int64),
        "b": tf.TensorSpec((None, None), tf.int64),
        "c": tf.TensorSpec((None,), tf.int64),
    }
    encode = tf.function(layer.encode, autograph=False).get_concrete_function(specs)
    ids, weights, fields = encode(
        {
            "a": tf.constant([[1], [9]], tf.int64),
            "b": tf.constant([[4, 1], [-1, 2]], tf.int64),
            "c": tf.constant([2, 6], tf.int64),
        }
    )
    # Offsets 0, 5 and 11; out-of-vocabulary rows 4, 10 and 17.
    np.testing.assert_array_equal(ids.numpy(), [[1, 9, 6, 13], [4, 10, 7, 17]])
    np.testing.assert_array_equal(weights.numpy(), np.ones((2, 4)))
    np.testing.assert_array_equal(fields.numpy(), [0, 1, 1, 2])
