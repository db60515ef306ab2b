import importlib
import importlib.metadata
import inspect

import keras
import pytest

import keras_fm
from keras_fm import layers

PUBLIC_LAYERS = [getattr(layers, name) for name in layers.__all__]


def test_version_matches_distribution():
    assert importlib.metadata.version("keras-fm") == keras_fm.__version__


def test_public_layers():
    assert sorted(layers.__all__) == [
        "AFMInteraction",
        "ANOVAInteraction",
        "CIN",
        "Dropout",
        "FMInteraction",
        "FieldAwareEmbedding",
        "FieldAwareFM",
        "FieldEmbedding",
        "FieldIds",
        "GlobalBatchNormalization",
        "InteractingLayer",
        "PlattScaling",
        "PosteriorFM",
        "SparseFM",
    ]


@pytest.mark.parametrize("cls", PUBLIC_LAYERS, ids=lambda c: c.__name__)
def test_layer_is_registered_under_keras_fm(cls):
    assert keras.saving.get_registered_object(f"keras_fm>{cls.__name__}") is cls


@pytest.mark.parametrize("cls", PUBLIC_LAYERS, ids=lambda c: c.__name__)
def test_layer_docstring_has_every_section(cls):
    doc = inspect.getdoc(cls)
    for section in ("Args:", "Call arguments:", "Returns:", "Example:", "References:"):
        assert section in doc, f"{cls.__name__} docstring lacks {section}"


@pytest.mark.parametrize("cls", PUBLIC_LAYERS, ids=lambda c: c.__name__)
def test_every_init_argument_is_a_public_attribute_in_the_config(cls):
    parameters = [
        p
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name not in ("self", "kwargs")
    ]
    from keras_fm.features import IdFeature

    required = {
        "layer_sizes": [2],
        "features": [IdFeature("a", 3), IdFeature("b", 4)],
        "embedding_dim": 2,
        "num_features": 5,
        "num_samples": 2,
        "degree": 3,
        "rate": 0.5,
    }
    layer = cls(**{p.name: required[p.name] for p in parameters if p.name in required})
    config = layer.get_config()
    for parameter in parameters:
        assert hasattr(layer, parameter.name)
        assert parameter.name in config


PACKAGES = (
    "data", "datasets", "features", "layers", "models", "optimizers", "ranking",
    "export", "serving", "bayes",
)  # fmt: skip


def public_functions():
    for package in PACKAGES:
        module = importlib.import_module(f"keras_fm.{package}")
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isfunction(value):
                yield pytest.param(value, id=f"{package}.{name}")


@pytest.mark.parametrize("function", list(public_functions()))
def test_public_function_docstring_has_args_and_returns(function):
    doc = inspect.getdoc(function) or ""
    if inspect.signature(function).parameters:
        assert "\nArgs:\n" in doc, function.__qualname__
    assert "\nReturns:\n" in doc, function.__qualname__
