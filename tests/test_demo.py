import json

import keras
import numpy as np
import pytest

from keras_fm.cli import main
from keras_fm.demo import build_demo_model, format_report
from keras_fm.layers import CIN, FieldAwareFM, FMInteraction


def test_demo_model_uses_the_three_core_layers():
    model = build_demo_model(["a", "b", "c"], [4, 5, 6], embedding_dim=3)
    kinds = {type(layer) for layer in model.layers}
    assert {FMInteraction, FieldAwareFM, CIN} <= kinds
    assert [i.name for i in model.inputs] == ["a", "b", "c"]
    assert model.get_layer("ffm").input.shape == (None, 3, 3, 4)
    ids = {"a": np.array([[0]]), "b": np.array([[4]]), "c": np.array([[5]])}
    outputs = model.predict(ids, verbose=0)
    assert outputs.shape == (1, 1) and 0.0 < outputs[0, 0] < 1.0


@pytest.mark.slow
def test_demo_trains_evaluates_and_exports(tmp_path, capsys):
    """The README's main job: the CLI's table, then the report as JSON last."""
    args = ["demo", "--output-dir", str(tmp_path), "--examples", "20000"]
    assert main([*args, "--epochs", "4"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    report = json.loads(out[-1])
    # keras-fm train's epoch lines: 16,000 training rows / 512 = 32 steps
    assert out[0].startswith("epoch 1/4: 32 steps, ")
    assert out[-2].startswith("SavedModel:") and set(report["test"]) == {
        "logloss",
        "auc",
    }
    assert (tmp_path / "model.keras").is_file()
    assert report["saved_model"] == str(tmp_path / "saved_model" / "1")
    assert (tmp_path / "saved_model" / "1" / "saved_model.pb").is_file()
    assert report["saved_model_max_abs_diff"] <= 1e-5
    assert report["keras_reload_max_abs_diff"] == 0.0
    # Far better than a constant predictor (log loss ~0.69, AUC 0.5), and
    # not better than the generating model by more than sampling noise.
    assert report["test"]["auc"] > 0.75
    assert report["test"]["logloss"] < 0.6
    assert report["test"]["logloss"] > report["oracle"]["logloss"] - 0.02
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(reloaded.get_layer("cin"), CIN)
    assert np.isfinite(report["train_seconds"])
    assert format_report(report).splitlines()[-1] == out[-1]
