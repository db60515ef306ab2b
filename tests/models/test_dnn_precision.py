"""The deep models' DNN in bfloat16 where the CPU multiplies it natively."""

import keras
import numpy as np
import pytest

from keras_fm.data import position_features
from keras_fm.models import build_deepfm, build_fm, compile_for_task, dnn_precision
from keras_fm.models.dnn_precision import dnn_dtype_policy, native_bfloat16
from keras_fm.models.tasks import xla_by_default


@pytest.fixture
def cpu_with(monkeypatch):
    def set_flags(*flags):
        monkeypatch.setattr(dnn_precision, "cpu_flags", lambda: frozenset(flags))

    return set_flags


@pytest.mark.parametrize("flag", ["amx_bf16", "avx512_bf16"])
def test_auto_is_bfloat16_on_cpus_with_bfloat16_units(cpu_with, flag):
    cpu_with("avx2", flag)
    assert native_bfloat16()
    assert dnn_dtype_policy("auto") == "mixed_bfloat16"


def test_auto_is_the_global_policy_elsewhere(cpu_with, monkeypatch):
    cpu_with("avx2", "avx512f")
    assert dnn_dtype_policy("auto") is None
    cpu_with("amx_bf16")
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")  # Eigen's kernels: no units
    assert dnn_dtype_policy("auto") is None
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    keras.config.set_dtype_policy("mixed_float16")
    try:
        assert dnn_dtype_policy("auto") is None  # a user's choice stands
    finally:
        keras.config.set_dtype_policy("float32")


def test_explicit_policies_are_kept(cpu_with):
    cpu_with()
    assert dnn_dtype_policy("mixed_bfloat16") == "mixed_bfloat16"
    assert dnn_dtype_policy("float32") == "float32"
    assert dnn_dtype_policy(None) is None


def test_cpu_flags_are_read_from_proc_cpuinfo():
    flags = dnn_precision.cpu_flags()
    assert isinstance(flags, frozenset)
    with open("/proc/cpuinfo") as info:
        text = info.read()
    assert ("sse2" in flags) == (" sse2" in text)


def _layer_dtypes(model):
    return {layer.name: layer.compute_dtype for layer in model.layers}


def test_only_the_tower_computes_in_bfloat16_and_trains_without_xla():
    features = position_features(3, 30)
    model = build_deepfm(features, dnn_units=(8, 4), dnn_dtype="mixed_bfloat16")
    dtypes = _layer_dtypes(model)
    tower = {name for name in dtypes if name.startswith("dnn_") and name != "dnn_logit"}
    assert {dtypes[name] for name in tower} == {"bfloat16"}
    assert len(tower) == 8  # dense, batch norm, activation, dropout: twice
    others = {dtypes[name] for name in dtypes if name not in tower}
    assert others == {"float32"}
    assert {w.dtype for w in model.weights} == {"float32"}
    assert not xla_by_default(model)  # XLA's CPU matmul skips the units
    float32 = build_deepfm(features, dnn_units=(8, 4), dnn_dtype="float32")
    assert xla_by_default(float32)
    assert xla_by_default(build_fm(features))


def test_a_bfloat16_tower_trains_saves_and_loads(tmp_path):
    features = position_features(3, 30)
    model = build_deepfm(features, dnn_units=(16,), dnn_dtype="mixed_bfloat16")
    compile_for_task(model, "binary")
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 30, size=(512, 3))
    inputs = {f"field_{f}": ids[:, f] for f in range(3)}
    inputs.update({f"field_{f}_value": np.ones(512, "float32") for f in range(3)})
    labels = (ids[:, 0] < 15).astype("float32")
    history = model.fit(inputs, labels, batch_size=64, epochs=8, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    model.save(tmp_path / "deepfm.keras")
    loaded = keras.saving.load_model(tmp_path / "deepfm.keras")
    assert _layer_dtypes(loaded) == _layer_dtypes(model)
    np.testing.assert_array_equal(
        loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0)
    )
