"""Test-wide settings: quiet TensorFlow, deterministic seeds, policy isolation."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras
import pytest


@pytest.fixture(autouse=True)
def _isolate_keras_state():
    """Every test starts with the float32 policy and a fixed seed."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture(scope="session")
def shared_data():
    """The project's shared data folder (tests skip where it is absent)."""
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "shared" / "data"
