"""One table of defaults: the builders, compile_for_task and the CLI agree on it."""

import inspect

import keras
import pytest

from keras_fm.cli.arguments import defaults_table, model_default
from keras_fm.cli.train import _build, train_options
from keras_fm.data import position_features
from keras_fm.data.formats import DataFormat
from keras_fm.defaults import table_l2
from keras_fm.models import (
    BUILDERS,
    MODEL_DEFAULTS,
    TRAINING_DEFAULTS,
    build_autoint,
    build_deepfm,
    build_fm,
    build_sparse_fm,
    compile_for_task,
    model_task,
)

FIELDS, FEATURES = 3, 30


def features():
    return position_features(FIELDS, FEATURES)


def test_the_table_covers_every_builder():
    assert sorted(MODEL_DEFAULTS) == sorted(BUILDERS)
    assert sorted(TRAINING_DEFAULTS) == sorted([*BUILDERS, "sparse_fm", "autoint_plus"])


@pytest.mark.parametrize("name", sorted(set(BUILDERS) - {"autoint+"}))
def test_builder_signature_defaults_are_the_table(name):
    parameters = inspect.signature(BUILDERS[name]).parameters
    for option, value in MODEL_DEFAULTS[name].items():
        assert parameters[option].default == value, option
    # Every tunable keyword of the builder is in the table.
    tunable = set(parameters) - {"features", "task", "output_range", "list_inputs"}
    assert tunable - {"name"} == set(MODEL_DEFAULTS[name])


def test_autoint_plus_is_autoint_with_its_defaults():
    plus = BUILDERS["autoint+"](features())
    same = build_autoint(features(), name="autoint_plus", **MODEL_DEFAULTS["autoint+"])
    assert plus.get_config() == same.get_config()
    assert len([x for x in plus.layers if x.name.startswith("interacting_")]) == 5
    assert plus.get_layer("interacting_0").num_heads == 4
    assert plus.get_layer("dnn_dropout_0").rate == 0.1


def test_deep_models_default_to_the_whole_table_l2():
    embedding = build_deepfm(features()).get_layer("embedding")
    assert embedding.embeddings_regularizer.l2 == pytest.approx(0.025)
    assert embedding.weights_regularizer.l2 == pytest.approx(0.025)
    assert embedding.embeddings_l2 == 0.0
    assert embedding.embeddings_initializer.stddev == 1e-4


def test_fm_defaults_to_the_per_batch_l2():
    embedding = build_fm(features()).get_layer("embedding")
    assert embedding.embeddings_regularizer is None
    assert embedding.embeddings_l2 == 0.005
    assert build_sparse_fm(FEATURES).get_layer("fm").embeddings_l2 == 0.005


def test_regularizers_are_separate_objects_per_model():
    first = build_deepfm(features()).get_layer("embedding")
    second = build_deepfm(features()).get_layer("embedding")
    assert first.embeddings_regularizer is not second.embeddings_regularizer
    assert table_l2(0.0) is None


@pytest.mark.parametrize(
    "name, rate", [("fm", 1e-2), ("ffm", 1e-2), ("deepfm", 1e-3), ("autoint+", 1e-3)]
)
def test_compile_for_task_takes_the_models_learning_rate(name, rate):
    model = compile_for_task(BUILDERS[name](features()))
    assert float(model.optimizer.learning_rate) == pytest.approx(rate)


def test_compile_for_task_uses_adam_1e3_for_other_models():
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1, name="prediction")(inputs))
    compile_for_task(model, "regression")
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)


def test_compile_for_task_reads_the_task_and_refuses_another():
    binary = build_fm(features())
    regression = build_fm(features(), task="regression", output_range=(1, 5))
    assert model_task(binary) == "binary"
    assert model_task(regression) == "regression"
    assert compile_for_task(binary).loss.name == "logloss"
    assert compile_for_task(regression).loss.name == "mse"
    with pytest.raises(ValueError, match="built for task 'binary'"):
        compile_for_task(build_fm(features()), "regression")
    inputs = keras.Input((2,))
    other = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    with pytest.raises(ValueError, match="pass `task`"):
        compile_for_task(other)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_the_cli_builds_the_builders_default_model(name):
    data_format = DataFormat(
        "libsvm", num_features=FEATURES, num_fields=FIELDS, fields_by_position=True
    )
    cli_model = _build(name, "binary", data_format, None, train_options(name, {}))
    builder_model = BUILDERS[name](features())
    assert cli_model.get_config() == builder_model.get_config()


def test_the_cli_raw_row_fm_is_build_sparse_fm():
    data_format = DataFormat("libsvm", num_features=FEATURES)
    cli_model = _build("fm", "binary", data_format, None, train_options("fm", {}))
    assert cli_model.get_config() == build_sparse_fm(FEATURES).get_config()


def test_train_options_and_help_show_each_models_defaults():
    options = train_options("xdeepfm", {"dropout": 0.3})
    assert options["dropout"] == 0.3
    assert options["table_l2"] == pytest.approx(0.1)
    assert options["cin_layer_sizes"] == [64]
    assert options["learning_rate"] == 1e-3 and options["epochs"] == 100
    assert model_default("afm", "dropout") == 0.1  # its attention dropout
    assert train_options("fm", {})["batch_size"] == 1024
    with pytest.raises(ValueError, match="not options of model fm"):
        train_options("fm", {"dnn_units": [8]})
    table = defaults_table()
    for name in BUILDERS:
        assert f"\n  {name} " in table
    assert "--table-l2 0.05 --dropout 0.2 --dnn-units 400,400,400" in table
