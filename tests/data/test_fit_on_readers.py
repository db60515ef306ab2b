"""model.fit on every reader's output, and recovery of known models from files."""

import keras
import numpy as np
import pytest

from keras_fm.data import (
    convert_to_tfrecord,
    keras_inputs,
    libffm_features,
    read_csv,
    read_libffm,
    read_libsvm,
    read_tfrecord,
    split_fields,
)
from keras_fm.datasets import make_ffm_data, make_fm_data
from keras_fm.features import LookupFeature, NumericFeature, adapt
from keras_fm.layers import (
    CIN,
    FieldAwareEmbedding,
    FieldAwareFM,
    FieldEmbedding,
    FMInteraction,
    SparseFM,
)
from tests.data.text_files import write_lines


def write_synthetic(data, path, with_fields):
    """One-hot rows with global ids (field offsets), as libFM / libffm files."""
    offsets = np.cumsum([0, *data.vocabulary_sizes[:-1]])
    lines = []
    for ids, label in zip(data.ids + offsets, data.labels, strict=True):
        if with_fields:
            pairs = [f"{f}:{i}:1" for f, i in enumerate(ids)]
        else:
            pairs = [f"{i}:1" for i in ids]
        lines.append(" ".join([repr(float(label)), *pairs]))
    write_lines(path, lines)
    return int(sum(data.vocabulary_sizes))


def fit_and_rmse(model, train, test, epochs, learning_rate=0.02):
    model.compile(keras.optimizers.Adam(learning_rate), "mse")
    model.fit(train, epochs=epochs, verbose=0)
    return float(np.sqrt(model.evaluate(test, verbose=0)))


def test_sparse_fm_from_libsvm_recovers_the_true_fm(tmp_path):
    keras.utils.set_random_seed(0)
    data = make_fm_data(
        30_000, vocabulary_sizes=(10, 8, 12, 6), rank=2, task="regression", seed=5
    )
    train, test = data.split(0.9)
    num_features = write_synthetic(train, tmp_path / "train.libfm", False)
    write_synthetic(test, tmp_path / "test.libfm", False)
    read = lambda name, **kw: read_libsvm(  # noqa: E731
        tmp_path / name,
        task="regression",
        num_features=num_features,
        batch_size=256,
        **kw,
    )
    train_data = read("train.libfm", shuffle_buffer=30_000, seed=1)
    inputs = keras_inputs(train_data)
    model = keras.Model(inputs, SparseFM(num_features, 2)(inputs))
    rmse = fit_and_rmse(model, train_data, read("test.libfm"), epochs=10)
    assert rmse < 1.25 * test.noise_floor()["rmse"]


@pytest.mark.long
def test_ffm_from_libffm_recovers_the_true_ffm(tmp_path):
    keras.utils.set_random_seed(0)
    data = make_ffm_data(
        40_000, vocabulary_sizes=(10, 8, 12, 6), rank=2, task="regression", seed=6
    )
    train, test = data.split(0.9)
    num_features = write_synthetic(train, tmp_path / "train.ffm", True)
    write_synthetic(test, tmp_path / "test.ffm", True)

    def read(name, **kwargs):
        dataset = read_libffm(
            tmp_path / name, task="regression", num_fields=4, num_features=num_features,
            batch_size=256, **kwargs,
        )  # fmt: skip
        return dataset.map(split_fields(4))

    train_data = read("train.ffm", shuffle_buffer=40_000, seed=1)
    inputs = keras_inputs(train_data)
    latent, first = FieldAwareEmbedding(
        libffm_features(4, num_features), embedding_dim=2
    )(inputs)
    model = keras.Model(inputs, keras.layers.Add()([first, FieldAwareFM()(latent)]))
    rmse = fit_and_rmse(model, train_data, read("test.ffm"), epochs=12)
    assert rmse < 1.3 * test.noise_floor()["rmse"]


def test_field_embedding_on_generated_data_recovers_the_true_fm():
    from keras_fm.features import IdFeature

    keras.utils.set_random_seed(0)
    data = make_fm_data(
        30_000, vocabulary_sizes=(10, 8, 12, 6), rank=2, task="regression", seed=7
    )
    train, test = data.split(0.9)
    features = [
        IdFeature(name, v)
        for name, v in zip(data.field_names, data.vocabulary_sizes, strict=True)
    ]
    inputs = {
        name: keras.Input((1,), dtype="int64", name=name) for name in data.field_names
    }
    vectors, first = FieldEmbedding(features, embedding_dim=2)(inputs)
    model = keras.Model(inputs, keras.layers.Add()([first, FMInteraction()(vectors)]))
    model.compile(keras.optimizers.Adam(0.02), "mse")
    model.fit(train.features(), train.labels, batch_size=256, epochs=10, verbose=0)
    rmse = float(np.sqrt(model.evaluate(test.features(), test.labels, verbose=0)))
    assert rmse < 1.2 * test.noise_floor()["rmse"]


def test_fit_on_csv_with_lookups_numeric_and_cin(tmp_path):
    rng = np.random.default_rng(0)
    cities, devices = ["paris", "rome", "oslo", "lima"], ["ios", "android", "web"]
    lines = ["clicked,city,device,price"]
    for _ in range(2000):
        city, device, price = rng.choice(cities), rng.choice(devices), rng.gamma(2.0)
        click = int((city == "rome") ^ (device == "web") ^ (rng.random() < 0.1))
        lines.append(f"{click},{city},{device},{price:.3f}")
    write_lines(tmp_path / "clicks.csv", lines)
    dataset = read_csv(
        tmp_path / "clicks.csv",
        label_column="clicked",
        task="binary",
        numeric_columns=["price"],
        batch_size=128,
    )
    features = adapt(
        [
            LookupFeature("city"),
            LookupFeature("device"),
            NumericFeature("price", transform="log", normalize=True),
        ],
        dataset,
    )
    inputs = keras_inputs(dataset)
    vectors, first = FieldEmbedding(features, embedding_dim=4)(inputs)
    terms = keras.layers.Concatenate()(
        [first, FMInteraction()(vectors), CIN([4, 4])(vectors)]
    )
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(terms))
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy", metrics=["auc"])
    history = model.fit(dataset, epochs=8, verbose=0)
    assert history.history["auc"][-1] > 0.85


def test_fit_on_tfrecord(tmp_path):
    data = make_fm_data(3000, vocabulary_sizes=(5, 6, 7), seed=8)
    num_features = write_synthetic(data, tmp_path / "d.libfm", False)
    schema = convert_to_tfrecord(
        tmp_path / "d.libfm", tmp_path / "d.tfrecord", "libsvm"
    )
    dataset = read_tfrecord(tmp_path / "d.tfrecord", schema=schema, task="binary")
    inputs = keras_inputs(dataset)
    model = keras.Model(
        inputs, keras.layers.Activation("sigmoid")(SparseFM(num_features, 4)(inputs))
    )
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy")
    history = model.fit(dataset, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.slow
@pytest.mark.long
def test_fit_on_libffm_criteo_sample(shared_data):
    path = shared_data / "libffm_criteo_sample" / "bigdata.tr.txt"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    dataset = read_libffm(
        path, task="binary", num_fields=18, num_features=10_000, batch_size=50
    )
    dataset = dataset.map(split_fields(18))
    inputs = keras_inputs(dataset)
    latent, first = FieldAwareEmbedding(
        libffm_features(18, 10_000), embedding_dim=4, num_buckets=4096
    )(inputs)
    model = keras.Model(
        inputs,
        keras.layers.Activation("sigmoid")(
            keras.layers.Add()([first, FieldAwareFM()(latent)])
        ),
    )
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy")
    history = model.fit(dataset, epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]
