"""Every model of the zoo: built from specs, equal to its equation, trainable."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm.datasets import make_fm_data
from keras_fm.defaults import normal
from keras_fm.features import IdFeature, LookupFeature, NumericFeature
from keras_fm.models import BUILDERS, MODEL_DEFAULTS, build_fm, compile_for_task
from keras_fm.ranking import PairwiseRanker, bpr_loss
from tests.layer_checklist import randomize_weights

SMALL = {
    "fm": {},
    "ffm": {"num_buckets": 64},
    "deepfm": {"dnn_units": (8, 4)},
    "xdeepfm": {"dnn_units": (8,), "cin_layer_sizes": (4, 2)},
    "afm": {"attention_units": 4},
    "autoint": {"num_layers": 2, "head_dim": 4},
    "autoint+": {"num_layers": 1, "head_dim": 4, "dnn_units": (8,)},
    "nfm": {"dnn_units": (8,)},
    "hofm": {"order": 3},
}


def some_long(keep):
    """Every model name; those not in ``keep`` marked long (CI runs ``keep``)."""
    return [
        name if name in keep else pytest.param(name, marks=pytest.mark.long)
        for name in sorted(SMALL)
    ]


def specs():
    return [
        IdFeature("user", 20),
        LookupFeature(
            "genre", vocabulary=["a", "b", "c"], multivalent=True, combiner="mean"
        ),
        NumericFeature("age", transform="log"),
    ]


def batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    genres = [
        list(rng.choice(["a", "b", "c", "z"], size=rng.integers(0, 3)))
        for _ in range(n)
    ]
    return {
        "user": tf.constant(rng.integers(0, 25, size=(n, 1))),
        "genre": tf.ragged.constant(genres, dtype=tf.string, ragged_rank=1),
        "age": tf.constant(rng.uniform(10, 60, size=(n, 1)).astype("float32")),
    }


def for_tiny_data(name):
    """No whole-table L2, dropout or batch norm, and N(0, 0.01) vectors: the
    defaults are for real data sizes, and these tests fit 64 rows in 20-30
    full-batch steps at a high learning rate (batch norm's moving statistics
    would lag behind, and N(0, 1e-4) vectors start too flat)."""
    options = {
        "embeddings_regularizer": None,
        "weights_regularizer": None,
        "embeddings_initializer": normal(0.01),
    }
    for option in ("dropout", "batch_norm"):
        if option in MODEL_DEFAULTS[name]:
            options[option] = type(MODEL_DEFAULTS[name][option])(0)
    return options


def build(name, **kwargs):
    builder = BUILDERS[name.rstrip("+")]
    return builder(specs(), embedding_dim=4, **{**SMALL[name], **kwargs})


@pytest.mark.parametrize("name", sorted(SMALL))
def test_binary_model_outputs_sigmoid_of_its_logit(name):
    model = build(name)
    data = batch()
    prediction = model(data)
    logit = keras.Model(model.inputs, model.get_layer("logit").output)(data)
    assert prediction.shape == (16, 1)
    np.testing.assert_allclose(prediction, tf.sigmoid(logit), rtol=1e-6)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_binary_models_train_on_the_logit_and_serve_the_probability(jit_compile):
    """The loss of a binary model is computed from its logit (Keras takes the
    logit behind a sigmoid output): a confident wrong answer at logit 40
    costs 40, not the 16.1 of a probability clipped at 1e-7, while the model
    outputs the probability."""
    model = build_fm(specs(), embedding_dim=2, embeddings_l2=0.0)
    compile_for_task(model, jit_compile=jit_compile)
    next(w for w in model.weights if w.path.endswith("bias")).assign(40.0)
    data = batch()
    np.testing.assert_allclose(model.predict(data, verbose=0), 1.0)
    logit = keras.Model(model.inputs, model.get_layer("logit").output)(data)
    scores = model.evaluate(data, np.zeros(16), verbose=0, return_dict=True)
    expected = float(np.mean(logit))  # log(1 + e^z) ~ z for label 0
    assert scores["loss"] == pytest.approx(expected, rel=1e-4)
    assert scores["logloss"] == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_trains_saves_and_reloads(name, tmp_path):
    keras.utils.set_random_seed(0)
    model = compile_for_task(
        build(name, **for_tiny_data(name)),
        "binary",
        optimizer=keras.optimizers.Adam(0.05),
    )
    data = batch(64)
    labels = (data["age"].numpy()[:, 0] > 35).astype("float32")
    first = model.evaluate(data, labels, verbose=0, return_dict=True)
    model.fit(data, labels, epochs=20, batch_size=64, verbose=0)
    last = model.evaluate(data, labels, verbose=0, return_dict=True)
    assert last["logloss"] < first["logloss"]
    model.save(tmp_path / "m.keras")
    revived = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(
        revived.predict(data, verbose=0),
        model.predict(data, verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("name", some_long({"ffm"}))
def test_regression_trains_saves_and_reloads(name, tmp_path):
    keras.utils.set_random_seed(0)
    model = compile_for_task(
        build(name, task="regression", output_range=(0.0, 10.0), **for_tiny_data(name)),
        "regression",
        optimizer=keras.optimizers.Adam(0.05),
    )
    data = batch(64)
    targets = data["age"].numpy()[:, 0] / 10.0
    first = model.evaluate(data, targets, verbose=0, return_dict=True)
    model.fit(data, targets, epochs=30, batch_size=64, verbose=0)
    last = model.evaluate(data, targets, verbose=0, return_dict=True)
    assert last["rmse"] < 0.5 * first["rmse"]
    model.save(tmp_path / "m.keras")
    revived = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(
        revived.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-5
    )


@pytest.mark.parametrize("name", some_long({"deepfm"}))
def test_ranking_trains_saves_and_reloads(name, tmp_path):
    """BPR on (positive, negative) pairs: any model's logit is a scorer."""
    keras.utils.set_random_seed(0)
    model = build(name, **for_tiny_data(name))
    ranker = PairwiseRanker(keras.Model(model.inputs, model.get_layer("logit").output))
    ranker.compile(keras.optimizers.Adam(0.05), bpr_loss())
    positives = batch(64, seed=1)
    # Each negative is its positive 30 years younger.
    negatives = {**positives, "age": positives["age"] - 30.0}
    positives["age"] = positives["age"] + 30.0
    pairs, ones = (positives, negatives), np.ones((64, 1), "float32")
    first = ranker.evaluate(pairs, ones, verbose=0)
    ranker.fit(pairs, ones, epochs=20, batch_size=64, verbose=0)
    after = ranker.predict(pairs, verbose=0)
    assert ranker.evaluate(pairs, ones, verbose=0) < 0.5 * first
    assert np.mean(after > 0) > 0.95
    ranker.save(tmp_path / "ranker.keras")
    revived = keras.saving.load_model(tmp_path / "ranker.keras")
    np.testing.assert_allclose(revived.predict(pairs, verbose=0), after, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_inputs_are_taken_by_name_and_extra_columns_ignored(name):
    """A batch with more columns than the model's inputs (here sorted before
    and after them, one with the dtype and shape of ``user``) predicts as
    without them: a Keras model built on a dict would match such a batch by
    position."""
    model = build(name)
    data = batch()
    extra = {"aaa": data["user"] + 3, **data, "zzz": data["age"] * 2}
    np.testing.assert_array_equal(model(extra), model(data))
    reordered = dict(reversed(list(data.items())))
    np.testing.assert_array_equal(model(reordered), model(data))


def test_fit_and_evaluate_on_a_dataset_with_extra_columns():
    keras.utils.set_random_seed(0)
    model = compile_for_task(build("deepfm"), "binary", keras.optimizers.Adam(0.01))
    data = batch(64)
    labels = tf.constant((data["age"].numpy()[:, 0] > 35).astype("float32"))
    extra = {"aaa": data["user"], **data, "row_id": tf.range(64)[:, None]}
    exact = tf.data.Dataset.from_tensors((data, labels))
    wider = tf.data.Dataset.from_tensors((extra, labels))
    np.testing.assert_allclose(
        model.evaluate(wider, verbose=0), model.evaluate(exact, verbose=0)
    )
    model.fit(wider, epochs=2, verbose=0)
    np.testing.assert_allclose(
        model.predict(wider, verbose=0), model.predict(exact, verbose=0)
    )


def test_a_missing_input_is_an_error_that_names_the_inputs():
    model = build("fm")
    data = batch()
    del data["age"]
    with pytest.raises(ValueError, match="'age'"):
        model(data)


def layer_outputs(model, names, data):
    return keras.Model(model.inputs, [model.get_layer(n).output for n in names])(data)


def test_fm_is_its_equation():
    model = build("fm")
    randomize_weights(model.get_layer("embedding"), seed=1)
    data = batch()
    vectors, first = model.get_layer("embedding")(data)
    v = vectors.numpy().astype("float64")
    pairs = sum(v[:, i] * v[:, j] for i in range(3) for j in range(i + 1, 3)).sum(
        axis=1
    )
    np.testing.assert_allclose(
        model(data)[:, 0], 1 / (1 + np.exp(-(first[:, 0] + pairs))), rtol=1e-5
    )


def test_deepfm_is_first_order_plus_fm_plus_dnn():
    model = build("deepfm")
    data = batch()
    first = model.get_layer("embedding")(data)[1]
    fm, deep = layer_outputs(model, ["fm", "dnn_logit"], data)
    np.testing.assert_allclose(model(data), tf.sigmoid(first + fm + deep), rtol=1e-5)


def test_xdeepfm_is_first_order_plus_cin_plus_dnn():
    model = build("xdeepfm")
    data = batch()
    first = model.get_layer("embedding")(data)[1]
    cin, deep = layer_outputs(model, ["cin_logit", "dnn_logit"], data)
    np.testing.assert_allclose(model(data), tf.sigmoid(first + cin + deep), rtol=1e-5)


def test_regression_with_output_range_clips():
    model = build_fm(
        specs(), embedding_dim=4, task="regression", output_range=(1.0, 5.0)
    )
    model.get_layer("embedding").bias.assign(10.0)
    np.testing.assert_allclose(model(batch()), 5.0)
    assert model.get_layer("prediction").get_config()["maximum"] == 5.0


def test_matrix_factorization_special_case():
    """FM on one-hot user + item with no first-order term is exactly <u, i>."""
    features = [IdFeature("user", 6), IdFeature("item", 9)]
    model = build_fm(
        features, embedding_dim=3, use_first_order=False, task="regression"
    )
    embedding = model.get_layer("embedding")
    randomize_weights(embedding, seed=4)
    table = embedding.embeddings.numpy()
    users, items = np.array([[0], [5], [2]]), np.array([[8], [1], [3]])
    expected = [
        table[u] @ table[7 + i] for u, i in zip(users[:, 0], items[:, 0], strict=True)
    ]
    np.testing.assert_allclose(
        model({"user": users, "item": items})[:, 0], expected, rtol=1e-5
    )


def test_fm_model_recovers_a_true_fm():
    keras.utils.set_random_seed(0)
    data = make_fm_data(
        20_000, vocabulary_sizes=(10, 8, 12, 6), rank=2, task="regression", seed=9
    )
    train, test = data.split(0.9)
    features = [
        IdFeature(n, v)
        for n, v in zip(data.field_names, data.vocabulary_sizes, strict=True)
    ]
    model = compile_for_task(
        build_fm(features, embedding_dim=2, task="regression"),
        "regression",
        keras.optimizers.Adam(0.02),
    )
    model.fit(train.features(), train.labels, batch_size=256, epochs=12, verbose=0)
    rmse = model.evaluate(test.features(), test.labels, verbose=0, return_dict=True)[
        "rmse"
    ]
    assert rmse < 1.25 * test.noise_floor()["rmse"]


def test_bad_task_and_order():
    with pytest.raises(ValueError, match="`task` must be one of"):
        build_fm(specs(), task="ranking")
    with pytest.raises(ValueError, match="`order` must be an int >= 2"):
        BUILDERS["hofm"](specs(), order=1)
    with pytest.raises(ValueError, match="regression only"):
        build_fm(specs(), output_range=(0, 1))


def test_output_range_clips_predictions_but_not_training():
    from keras_fm.models import OutputRange

    layer = OutputRange(1.0, 5.0)
    x = np.array([[0.0], [7.0]], "float32")
    np.testing.assert_allclose(layer(x), [[1.0], [5.0]])
    np.testing.assert_allclose(layer(x, training=True), x)
