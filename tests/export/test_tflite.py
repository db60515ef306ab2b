"""TFLite export of every model of the zoo, run in ai_edge_litert."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_fm.export import edge_inputs, to_tflite
from keras_fm.features import HashedFeature, IdFeature, NumericFeature
from keras_fm.layers import FieldEmbedding
from keras_fm.models import (
    MODEL_DEFAULTS,
    build_deepfm,
    build_sparse_fm,
    feature_inputs,
)
from tests.export.test_saved_model import randomize_trainable
from tests.models.test_models import SMALL, batch, build

# Exactness needs the float32 DNN ("auto" is bfloat16 on CPUs with its units).
FLOAT32_DNN = {
    name: {"dnn_dtype": "float32"}
    for name in SMALL
    if "dnn_dtype" in MODEL_DEFAULTS[name]
}


def run_tflite(path, inputs):
    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    return runner(**{k: np.asarray(v) for k, v in inputs.items()})["prediction"]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_float_tflite_equals_keras(name, tmp_path):
    model = build(name, **FLOAT32_DNN.get(name, {}))
    randomize_trainable(model, seed=5)
    data = batch(32, seed=2)
    want = model(data).numpy()
    info = to_tflite(model, tmp_path / f"{name}.tflite")
    assert info["bytes"] == (tmp_path / f"{name}.tflite").stat().st_size
    got = run_tflite(info["path"], edge_inputs(model, data))
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.ptp(want) > 1e-4


def test_a_bfloat16_dnn_converts_to_the_float32_model(tmp_path):
    """TFLite's kernels are float32: a DNN trained in bfloat16 runs there as
    the same weights in float32."""
    model = build("deepfm", dnn_dtype="mixed_bfloat16")
    randomize_trainable(model, seed=5)
    twin = build("deepfm", dnn_dtype="float32")
    twin.set_weights(model.get_weights())
    data = batch(32, seed=2)
    info = to_tflite(model, tmp_path / "deepfm.tflite")
    got = run_tflite(info["path"], edge_inputs(model, data))
    np.testing.assert_allclose(got, twin(data).numpy(), atol=1e-5)
    assert np.abs(model(data).numpy() - twin(data).numpy()).max() > 1e-6


def test_sparse_fm_tflite_takes_padded_rows(tmp_path):
    """FM over raw libsvm rows: ids padded with -1, values with 0; an id
    beyond the table takes the out-of-vocabulary row, as in Keras."""
    model = build_sparse_fm(50, embedding_dim=4)
    randomize_trainable(model, seed=3)
    rows = [[3, 17, 42], [5], [7, 60]]
    values = [[1.0, 0.5, 2.0], [1.0], [0.25, 3.0]]
    want = model(
        {
            "ids": tf.ragged.constant(rows, dtype="int64"),
            "values": tf.ragged.constant(values, dtype="float32"),
        }
    ).numpy()
    to_tflite(model, tmp_path / "fm.tflite")
    padded_ids = np.full((3, 3), -1, "int64")
    padded_values = np.zeros((3, 3), "float32")
    for row, (ids, weights) in enumerate(zip(rows, values, strict=True)):
        padded_ids[row, : len(ids)] = ids
        padded_values[row, : len(ids)] = weights
    got = run_tflite(
        tmp_path / "fm.tflite", {"ids": padded_ids, "values": padded_values}
    )
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert np.std(want) > 0.01


def test_edge_inputs_are_the_lookup_indices_in_the_vocabulary_files(tmp_path):
    model = build("fm")
    info = to_tflite(model, tmp_path / "fm.tflite")
    vocabulary = (tmp_path / "fm_vocabularies" / "genre.txt").read_text().split()
    index = json.loads((tmp_path / "fm_vocabularies" / "index.json").read_text())
    assert vocabulary == ["a", "b", "c"] and info["vocabularies"]
    offset = index["num_oov_indices"]["genre"]
    data = {
        "user": tf.constant([[1], [2]], tf.int64),
        "genre": tf.ragged.constant([["c", "a"], ["zz"]]),
        "age": tf.constant([[20.0], [30.0]]),
    }
    edge = edge_inputs(model, data)
    expected = [[offset + 2, offset + 0], [0, -1]]  # unknown -> 0, padding -> -1
    assert edge["genre"].numpy().tolist() == expected


def test_hashed_features_take_bucket_indices_on_the_edge(tmp_path):
    features = [
        HashedFeature("device", num_bins=50),
        IdFeature("item", 30),
        NumericFeature("price", transform="log"),
    ]
    model = build_deepfm(features, embedding_dim=4, dnn_units=(8,), dnn_dtype="float32")
    randomize_trainable(model, seed=1)
    data = {
        "device": tf.constant([["ios"], ["android"], ["?"]]),
        "item": tf.constant([[3], [40], [-2]], tf.int64),  # 40, -2: out of range
        "price": tf.constant([[9.5], [np.nan], [0.0]]),
    }
    info = to_tflite(model, tmp_path / "deepfm.tflite")
    got = run_tflite(info["path"], edge_inputs(model, data))
    np.testing.assert_allclose(got, model(data).numpy(), atol=1e-5)


def auc(labels, scores):
    metric = keras.metrics.AUC(num_thresholds=10_000)
    metric.update_state(labels.astype("float32"), scores)
    return float(metric.result())


def large_batch(n, seed):
    rng = np.random.default_rng(seed)
    return {
        "user": tf.constant(rng.integers(0, 5000, size=(n, 1))),
        "item": tf.constant(rng.integers(0, 3000, size=(n, 1))),
        "age": tf.constant(rng.uniform(10, 60, size=(n, 1)).astype("float32")),
    }


# Documented in to_tflite: the largest error (dynamic, float16) or the median
# error (int8), and the AUC drop, against the float model.
TOLERANCES = {"dynamic": (0.05, 0.005), "float16": (0.005, 0.005), "int8": (0.1, 0.06)}


@pytest.mark.parametrize("quantize", sorted(TOLERANCES))
def test_quantized_tflite_stays_close_and_smaller(quantize, tmp_path):
    features = [IdFeature("user", 5000), IdFeature("item", 3000), NumericFeature("age")]
    model = build_deepfm(features, embedding_dim=16, dnn_units=(64,))
    randomize_trainable(model, seed=5, scale=0.1)
    calibration = [
        {k: v.numpy() for k, v in edge_inputs(model, large_batch(64, s)).items()}
        for s in range(4)
    ]
    float_info = to_tflite(model, tmp_path / "float.tflite")
    info = to_tflite(
        model,
        tmp_path / f"{quantize}.tflite",
        quantize=quantize,
        representative_data=calibration,
    )
    data = large_batch(256, seed=9)
    want = model(data).numpy()
    assert np.ptp(want) > 0.2  # predictions spread over the range
    got = run_tflite(info["path"], edge_inputs(model, data))
    error = np.abs(got - want)
    labels = np.random.default_rng(0).uniform(size=want.shape) < want
    auc_drop = auc(labels, want) - auc(labels, got)
    tolerance, max_auc_drop = TOLERANCES[quantize]
    typical = np.median(error) if quantize == "int8" else error.max()
    assert 0 < typical < tolerance
    assert auc_drop < max_auc_drop
    assert info["bytes"] < 0.6 * float_info["bytes"]


class AsStringLength(keras.layers.Layer):
    """Uses AsString, an op outside TFLite's built-in set."""

    def call(self, x):
        return tf.cast(tf.strings.length(tf.strings.as_string(x)), "float32")


def test_a_model_needing_a_flex_op_fails_naming_it(tmp_path):
    features = [IdFeature("item", 10)]
    inputs = feature_inputs(features)
    _, first = FieldEmbedding(features, embedding_dim=2)(inputs)
    model = keras.Model(inputs, AsStringLength()(first))
    with pytest.raises(ValueError, match="AsString"):
        to_tflite(model, tmp_path / "m.tflite")


def test_bad_arguments(tmp_path):
    model = build("fm")
    with pytest.raises(ValueError, match="quantize"):
        to_tflite(model, tmp_path / "m.tflite", quantize="int4")
    with pytest.raises(ValueError, match="representative_data"):
        to_tflite(model, tmp_path / "m.tflite", quantize="int8")
