"""The optimizers' two routes outside XLA: one-pass C++ ops, TensorFlow's ops."""

import pytest

from keras_fm import native


@pytest.fixture
def composed(monkeypatch):
    """Row-sparse updates composed of TensorFlow's ops (no `keras_fm.native`)."""
    monkeypatch.setattr(native, "row_ops", lambda: None)


@pytest.fixture(params=["one pass", "composed"])
def route(request, monkeypatch):
    """Each test runs once with `keras_fm.native`'s ops and once without."""
    if request.param == "one pass":
        if native.row_ops() is None:
            pytest.skip("keras_fm.native's ops could not be built here")
    else:
        monkeypatch.setattr(native, "row_ops", lambda: None)
    return request.param
