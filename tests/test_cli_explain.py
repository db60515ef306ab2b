"""keras-fm train --calibrate, explain, evaluate --reliability and report,
end to end on a small libsvm file."""

import csv
import json

import numpy as np
import pytest

from keras_fm.cli import main
from tests.test_cli_runs import libsvm_file, train

PNG = b"\x89PNG"


def png(path):
    data = path.read_bytes()
    return data.startswith(PNG) and len(data) > 5000


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A calibrated FM run on raw rows, and a DeepFM run by field position."""
    folder = tmp_path_factory.mktemp("explain")
    data = libsvm_file(folder / "train.libsvm", 800)
    for name, extra in (("fm", ()), ("deepfm", ("--fields-by-position",))):
        code = main(["train", "--model", name, "--format", "libsvm", "--task",
                     "binary", "--train", str(data), "--valid", str(data), "--test",
                     str(data), "--epochs", "2", "--batch-size", "128",
                     "--calibrate", "platt", "--model-dir", str(folder / name),
                     *extra])  # fmt: skip
        assert code == 0
    return folder, data


def test_train_writes_history_logs_report_and_calibration(run):
    folder, _ = run
    metrics = json.loads((folder / "fm" / "metrics.json").read_text())
    calibration = metrics["calibration"]
    assert calibration["method"] == "platt" and calibration["scale"] > 0
    assert set(calibration["uncalibrated"]) == {"valid", "test"}
    before = calibration["uncalibrated"]["valid"]
    assert metrics["valid"]["logloss"] <= before["logloss"] + 1e-6  # Platt's loss
    assert 0 <= metrics["test"]["ece"] < 1
    with open(folder / "fm" / "history.csv") as handle:
        epochs = list(csv.DictReader(handle))
    assert len(epochs) == 2 and {"val_auc", "learning_rate"} <= set(epochs[0])
    assert any((folder / "fm" / "logs" / "validation").iterdir())
    assert png(folder / "fm" / "report.png")


def test_explain_writes_exact_rows_tables_and_pictures(run, capsys):
    folder, data = run
    for name in ("fm", "deepfm"):
        out = folder / f"explain-{name}"
        code = main(["explain", "--model-dir", str(folder / name), "--format",
                     "libsvm", "--data", str(data), "--rows", "50",
                     "--output", str(out)])  # fmt: skip
        assert code == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed["rows"] == 50 and printed["completeness_error"] < 1e-5
        with open(out / "attributions.csv") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == 50
        fields = [k for k in rows[0] if k not in ("row", "logit", "bias", "rest")]
        assert len(fields) == 3
        for row in rows:
            total = float(row["bias"]) + float(row["rest"])
            total += sum(float(row[f]) for f in fields)
            assert total == pytest.approx(float(row["logit"]), abs=1e-4)
        summary = json.loads((out / "summary.json").read_text())
        assert np.array(summary["interaction_matrix"]).shape == (3, 3)
        for picture in ("fields.png", "waterfall.png", "interactions.png"):
            assert png(out / picture), picture
    deep_rest = [float(r["rest"]) for r in rows]
    assert max(map(abs, deep_rest)) > 0  # DeepFM's DNN


def test_evaluate_draws_the_reliability_diagram(run, capsys):
    folder, data = run
    target = folder / "reliability.png"
    code = main(["evaluate", "--model-dir", str(folder / "fm"), "--format", "libsvm",
                 "--data", str(data), "--reliability", str(target)])  # fmt: skip
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    metrics = json.loads((folder / "fm" / "metrics.json").read_text())
    assert printed["ece"] == pytest.approx(metrics["test"]["ece"], abs=1e-6)
    assert png(target)


def test_report_draws_again_and_says_what_is_missing(run, tmp_path, capsys):
    folder, _ = run
    (folder / "fm" / "report.png").unlink()
    assert main(["report", "--model-dir", str(folder / "fm")]) == 0
    assert png(folder / "fm" / "report.png")
    assert main(["report", "--model-dir", str(tmp_path)]) == 1
    assert "missing history.csv" in capsys.readouterr().err


def test_calibrate_needs_binary_labels_and_validation_files(tmp_path, capsys):
    data = libsvm_file(tmp_path / "train.libsvm", 100)
    code = main(["train", "--model", "fm", "--format", "libsvm", "--task",
                 "binary", "--train", str(data), "--calibrate", "platt",
                 "--model-dir", str(tmp_path / "run")])  # fmt: skip
    assert code == 1
    assert "--calibrate needs --task binary and --valid" in capsys.readouterr().err
    code, _, err = train(tmp_path, capsys, "--learner", "mcmc", "--calibrate", "platt")
    assert code == 1 and "--calibrate applies to --learner sgd" in err


def test_export_adds_the_explain_signature(run, capsys):
    import tensorflow as tf

    folder, _ = run
    code = main(["export", "--model-dir", str(folder / "deepfm"), "--saved-model",
                 str(folder / "serving"), "--explain"])  # fmt: skip
    assert code == 0
    path = json.loads(capsys.readouterr().out)["saved_model"]
    signatures = tf.saved_model.load(path).signatures
    assert {"serving_default", "examples", "explain"} <= set(signatures)
    assert set(signatures["explain"].structured_outputs) == {
        "fields", "bias", "rest", "logit"
    }  # fmt: skip
