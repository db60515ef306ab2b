import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm.features import BucketizedFeature, IdFeature, NumericFeature
from keras_fm.layers import FieldAwareEmbedding, FieldEmbedding, FMInteraction
from tests.layer_checklist import randomize_weights, run_fresh_python
from tests.layers.embedding_cases import (
    EXAMPLES,
    assert_mixed_precision_matches,
    entries,
    inputs,
    make_features,
    reference,
    rows_of,
)


def built_layer(combiner="sum", **kwargs):
    layer = FieldEmbedding(make_features(combiner), embedding_dim=4, **kwargs)
    layer(inputs("dense"))
    randomize_weights(layer, seed=3)
    return layer


def layer_reference(layer):
    return reference(
        layer.features,
        EXAMPLES,
        layer.embeddings.numpy(),
        layer.linear_weights.numpy(),
        layer.bias.numpy(),
    )


@pytest.mark.parametrize("combiner", ["sum", "mean", "sqrtn"])
@pytest.mark.parametrize("kind", ["dense", "ragged", "sparse"])
def test_matches_reference(combiner, kind):
    layer = built_layer(combiner)
    vectors, first = layer(inputs(kind))
    expected_vectors, expected_first = layer_reference(layer)
    np.testing.assert_allclose(vectors, expected_vectors, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(first, expected_first, rtol=1e-5, atol=1e-6)


def test_empty_lists_and_missing_values_give_zero_vectors():
    vectors, _ = built_layer()(inputs("ragged"))
    np.testing.assert_array_equal(vectors[2, 1], 0.0)  # no genre
    np.testing.assert_array_equal(vectors[2, 2], 0.0)  # NaN age
    np.testing.assert_array_equal(vectors[2, 4], 0.0)  # no history
    assert np.all(np.isfinite(vectors))


def test_shared_table_gives_equal_vectors():
    layer = built_layer()
    assert layer.num_rows == 8 + 6 + 1 + 4 + 7  # user, genre, age, city, items once
    vectors, _ = layer({**inputs("dense"), "history": np.array([[2, -1, -1]] * 3)})
    np.testing.assert_allclose(vectors[2, 4], vectors[2, 5])  # both item 2


def test_gradients_are_finite_and_reach_the_tables():
    layer = built_layer()
    with tf.GradientTape() as tape:
        vectors, first = layer(inputs("ragged"))
        loss = tf.reduce_sum(FMInteraction()(vectors)) + tf.reduce_sum(first)
    grads = tape.gradient(loss, layer.trainable_weights)
    for grad in grads:
        grad = tf.convert_to_tensor(grad)
        assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0


def test_jit_compile_matches_eager_on_dense_inputs():
    layer = FieldEmbedding([IdFeature("a", 5), NumericFeature("b")], embedding_dim=3)
    data = {"a": np.array([1, 4, 7]), "b": np.array([0.5, -1.0, 2.0], "float32")}
    eager = layer(data)
    jitted = tf.function(layer, jit_compile=True)(data)
    for e, j in zip(eager, jitted, strict=True):
        np.testing.assert_allclose(j, e, rtol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    layer = FieldEmbedding(make_features(), embedding_dim=4, dtype=policy)
    layer(inputs("dense"))
    assert_mixed_precision_matches(layer, built_layer())


def test_config_round_trips_through_json():
    layer = built_layer("mean", embeddings_regularizer=keras.regularizers.L2(0.1))
    config = json.loads(json.dumps(layer.get_config()))
    revived = FieldEmbedding.from_config(config)
    assert revived.get_config() == layer.get_config()
    assert revived.features == layer.features
    revived(inputs("dense"))
    assert [w.shape for w in revived.weights] == [w.shape for w in layer.weights]


def functional_model(layer):
    model_inputs = {
        "user": keras.Input((1,), dtype="int64", name="user"),
        "genre": keras.Input((None,), dtype="int64", name="genre"),
        "genre_w": keras.Input((None,), dtype="float32", name="genre_w"),
        "age": keras.Input((1,), dtype="float32", name="age"),
        "city": keras.Input((1,), dtype="string", name="city"),
        "history": keras.Input((None,), dtype="int64", name="history"),
        "item": keras.Input((1,), dtype="int64", name="item"),
    }
    vectors, first = layer(model_inputs)
    score = keras.layers.Add()([first, FMInteraction()(vectors)])
    return keras.Model(model_inputs, score)


def model_inputs(kind="dense"):
    data = inputs(kind)  # as tensors: Keras takes no NumPy string arrays
    return {
        k: tf.constant(v[:, None] if np.ndim(v) == 1 else v) for k, v in data.items()
    }


def test_keras_file_round_trip(tmp_path):
    model = functional_model(built_layer("sqrtn"))
    expected = model.predict(model_inputs(), verbose=0)
    model.save(tmp_path / "m.keras")
    revived = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(
        revived.predict(model_inputs(), verbose=0), expected, rtol=1e-6
    )


@pytest.mark.slow
def test_saved_model_in_fresh_process_with_raw_inputs(tmp_path):
    model = functional_model(built_layer())
    data = model_inputs()
    expected = model.predict(data, verbose=0)
    model.export(str(tmp_path / "sm"), verbose=False)
    np.save(
        tmp_path / "data.npy",
        {k: v.numpy() for k, v in data.items()},
        allow_pickle=True,
    )
    run_fresh_python(
        """
        import numpy as np, tensorflow as tf
        data = np.load("data.npy", allow_pickle=True).item()
        loaded = tf.saved_model.load("sm")
        np.save("served.npy", loaded.serve(data).numpy())
        """,
        cwd=tmp_path,
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "served.npy"), expected, rtol=1e-5, atol=1e-6
    )


@pytest.mark.slow
def test_tflite_builtin_ops_with_dense_ids(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    features = [
        IdFeature("user", 7),
        IdFeature("genre", 5, multivalent=True, combiner="mean"),
        NumericFeature("age", transform="log", normalize=True, mean=1.0, variance=2.0),
        BucketizedFeature("price", boundaries=[1.0, 10.0]),
    ]
    layer = FieldEmbedding(features, embedding_dim=4)
    named = {
        "user": keras.Input((1,), dtype="int32", name="user"),
        "genre": keras.Input((3,), dtype="int32", name="genre"),
        "age": keras.Input((1,), dtype="float32", name="age"),
        "price": keras.Input((1,), dtype="float32", name="price"),
    }
    vectors, first = layer(named)
    model = keras.Model(named, keras.layers.Add()([first, FMInteraction()(vectors)]))
    randomize_weights(layer, seed=1)
    data = {
        "user": np.array([[3], [9]], "int32"),
        "genre": np.array([[1, 4, -1], [-1, -1, -1]], "int32"),
        "age": np.array([[30.0], [0.5]], "float32"),
        "price": np.array([[0.5], [20.0]], "float32"),
    }
    expected = model.predict(data, verbose=0)
    path = str(tmp_path / "m.tflite")
    model.export(
        path,
        format="litert",
        verbose=False,
        target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]},
    )
    runner = Interpreter(model_path=path).get_signature_runner("serving_default")
    (actual,) = runner(**data).values()
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"features": [], "embedding_dim": 2}, "non-empty list"),
        ({"features": "user", "embedding_dim": 2}, "non-empty list"),
        (
            {"features": [IdFeature("a", 2), IdFeature("a", 3)], "embedding_dim": 2},
            "unique",
        ),
        ({"features": [IdFeature("a", 2)], "embedding_dim": 0}, "`embedding_dim`"),
        ({"features": [object()], "embedding_dim": 2}, "keras_fm.features"),
        (
            {
                "features": [
                    IdFeature("a", 2, table="t"),
                    IdFeature("b", 3, table="t"),
                ],
                "embedding_dim": 2,
            },
            "same number of rows",
        ),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FieldEmbedding(**kwargs)


def test_missing_input_and_wrong_shape_are_named():
    layer = FieldEmbedding([IdFeature("a", 2), IdFeature("b", 2)], embedding_dim=2)
    with pytest.raises(ValueError, match=r"missing inputs \['b'\]"):
        layer({"a": np.array([1])})
    with pytest.raises(ValueError, match="Feature 'a' is single-valued"):
        layer({"a": np.array([[1, 0]]), "b": np.array([1])})


def test_embeddings_l2_penalizes_only_the_rows_in_the_batch():
    layer = FieldEmbedding(
        [IdFeature("a", 5), IdFeature("b", 5)], embedding_dim=2, embeddings_l2=0.1
    )
    data = {"a": np.array([1, 1]), "b": np.array([0, 3])}
    layer(data)
    table = layer.embeddings.numpy()
    rows = [1, 6 + 0, 1, 6 + 3]  # b's rows follow a's 6 rows
    expected = 0.1 * sum(np.sum(table[r] ** 2) for r in rows) / 2
    assert float(sum(layer.losses)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("kind", ["dense", "ragged", "sparse"])
def test_embeddings_l2_per_feature_matches_reference(kind):
    penalties = {"user": 0.3, "genre": 0.05, "age": 2.0, "history": 0.7}
    layer = built_layer(embeddings_l2=penalties)
    layer(inputs(kind))  # a call's losses replace the previous call's
    table = layer.embeddings.numpy()
    offsets, _ = rows_of(layer.features)
    expected = 0.0
    for example in EXAMPLES:
        for feature in layer.features:
            for local, x in entries(feature, example):
                if x != 0:  # padding and zero values use no vector
                    row = table[offsets[feature.name] + local]
                    expected += penalties.get(feature.name, 0.0) * np.sum(row**2)
    expected /= len(EXAMPLES)
    assert float(sum(layer.losses)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("layer_class", [FieldEmbedding, FieldAwareEmbedding])
def test_embeddings_l2_per_feature_adds_up_to_the_uniform_penalty(layer_class):
    features = [IdFeature("a", 5), IdFeature("b", 5)]
    data = {"a": np.array([1, 2, 4]), "b": np.array([0, 3, 3])}
    losses = []
    for l2 in (0.1, {"a": 0.1}, {"b": 0.1}, {"a": 0.1, "b": 0.1}):
        layer = layer_class(features, embedding_dim=2, embeddings_l2=l2)
        layer.build(None)
        shape = layer.embeddings.shape
        layer.embeddings.assign(
            np.arange(np.prod(shape), dtype="float32").reshape(shape)
        )
        layer(data)
        losses.append(float(sum(layer.losses)))
    uniform, only_a, only_b, both = losses
    assert only_a > 0 and only_b > 0
    assert only_a + only_b == pytest.approx(uniform, rel=1e-6)
    assert both == pytest.approx(uniform, rel=1e-6)


def test_embeddings_l2_per_feature_round_trips_and_checks_names():
    features = [IdFeature("a", 5), IdFeature("b", 5)]
    layer = FieldEmbedding(features, embedding_dim=2, embeddings_l2={"b": 0.5})
    config = json.loads(json.dumps(layer.get_config()))
    assert FieldEmbedding.from_config(config).embeddings_l2 == {"b": 0.5}
    with pytest.raises(ValueError, match=r"not inputs: \['c'\]"):
        FieldEmbedding(features, embedding_dim=2, embeddings_l2={"c": 0.5})
    with pytest.raises(ValueError, match="non-negative float"):
        FieldEmbedding(features, embedding_dim=2, embeddings_l2={"a": -1.0})
    with pytest.raises(ValueError, match="non-negative float"):
        FieldEmbedding(features, embedding_dim=2, embeddings_l2=float("nan"))
