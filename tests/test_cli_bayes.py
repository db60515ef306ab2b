"""keras-fm train --learner mcmc / als, then evaluate, predict and export as
for any trained model."""

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_fm.datasets import make_fm_data
from tests.test_cli_runs import libsvm_file
from tests.test_cli_train import run


def train(tmp_path, capsys, learner, task="binary", *extra, burn_in=None):
    """``--burn-in 10`` for mcmc, none for the others (unless ``burn_in``)."""
    if burn_in is None:
        burn_in = ["--burn-in", 10] if learner == "mcmc" else []
    data = libsvm_file(tmp_path / "train.libsvm", 1500)
    valid = libsvm_file(tmp_path / "valid.libsvm", 500, seed=0)
    return run(
        capsys, "train", "--model", "fm", "--format", "libsvm", "--task", task,
        "--train", data, "--valid", valid, "--test", valid, "--learner", learner,
        "--sweeps", 30, *burn_in, "--model-dir", tmp_path / "model", *extra,
    )  # fmt: skip


def test_mcmc_trains_evaluates_predicts_and_exports(tmp_path, capsys):
    code, out, err = train(tmp_path, capsys, "mcmc", "binary", "--fields-by-position")
    assert code == 0, err
    assert out[0].startswith("keras-fm train: mcmc on 1500 rows of 120 features")
    assert [line.split(":")[0] for line in out[1:4]] == [
        "sweep 10", "sweep 20", "sweep 30",
    ]  # fmt: skip
    assert "latent rmse" in out[1] and "validation auc" in out[3]
    seconds = [
        float(line.split(", ")[-1].removesuffix(" s a sweep")) for line in out[1:4]
    ]
    assert all(s > 0 for s in seconds)
    metrics = json.loads(out[-1])
    assert metrics == json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["test"]["auc"] > 0.6  # data from a known FM of rank 2
    layer = tf.keras.models.load_model(tmp_path / "model" / "model.keras").get_layer(
        "fm"
    )
    assert layer.num_samples == 20 and layer.link == "probit"
    common = ["--model-dir", tmp_path / "model", "--data", tmp_path / "valid.libsvm",
              "--format", "libsvm"]  # fmt: skip
    code, out, _ = run(capsys, "evaluate", *common)
    assert code == 0
    assert json.loads(out[-1]) == pytest.approx(metrics["test"], abs=1e-5)
    code, _, _ = run(capsys, "predict", *common, "--output", tmp_path / "p.txt")
    predictions = np.loadtxt(tmp_path / "p.txt")
    assert code == 0 and len(predictions) == 500
    code, out, err = run(
        capsys, "export", "--model-dir", tmp_path / "model", "--saved-model",
        tmp_path / "serving", "--tflite", tmp_path / "m.tflite",
    )  # fmt: skip
    assert code == 0, err
    serve = tf.saved_model.load(json.loads(out[-1])["saved_model"])
    served = serve.signatures["serving_default"](
        ids=tf.constant([[0, 50, 90]], tf.int64), values=tf.constant([[1.0] * 3])
    )["prediction"]
    assert 0.0 < float(served[0]) < 1.0


def test_als_regression_takes_l2(tmp_path, capsys):
    code, out, err = train(tmp_path, capsys, "als", "regression", "--l2", 30)
    assert code == 0, err
    labels = np.loadtxt(tmp_path / "valid.libsvm", usecols=0)
    constant = float(np.std(labels))  # the RMSE of the best constant
    assert json.loads(out[-1])["test"]["rmse"] < constant - 0.02
    settings = json.loads((tmp_path / "model" / "run.json").read_text())["settings"]
    assert settings["l2"] == 30.0 and settings["learner"] == "als"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "deepfm"], "--learner mcmc trains --model fm only"),
        (["--distribute", "mirrored"], "runs on one device"),
        (
            ["--learning-rate", "0.1", "--l2", "0.1"],
            "--learning-rate, --l2: not options of --learner mcmc",
        ),
        (["--batch-size", "64"], "--batch-size: not an option of --learner mcmc"),
        (
            ["--epochs", "3", "--patience", "1"],
            "--epochs, --patience: not options of --learner mcmc",
        ),
    ],
)
def test_what_the_learners_do_not_do_is_a_one_line_error(
    tmp_path, capsys, extra, message
):
    code, _, err = train(tmp_path, capsys, "mcmc", "binary", *extra)
    assert code == 1 and message in err and "\n" not in err


@pytest.mark.parametrize(
    ("learner", "given", "message"),
    [
        ("sgd", ["--burn-in", 10], "--sweeps, --burn-in: options of --learner mcmc "),
        ("sgd", ["--chains", 2], "--sweeps, --chains: options of --learner mcmc "),
        ("als", ["--burn-in", 10], "--burn-in: an option of --learner mcmc"),
        (
            "als",
            ["--thin", 2, "--chains", 2],
            "--thin, --chains: options of --learner mcmc",
        ),
    ],
)
def test_options_a_learner_does_not_take_are_refused(
    tmp_path, capsys, learner, given, message
):
    code, _, err = train(tmp_path, capsys, learner, burn_in=given)
    assert code == 1 and message in err and "\n" not in err


def test_mcmc_chains_pool_their_samples(tmp_path, capsys):
    code, out, err = train(tmp_path, capsys, "mcmc", "regression", "--chains", 2)
    assert code == 0, err
    assert [line.split(":")[0] for line in out[1:7]] == [
        f"chain {chain}/2, sweep {sweep}" for chain in (1, 2) for sweep in (10, 20, 30)
    ]
    model = tf.keras.models.load_model(tmp_path / "model" / "model.keras")
    assert model.get_layer("fm").num_samples == 2 * 20
    settings = json.loads((tmp_path / "model" / "run.json").read_text())["settings"]
    assert settings["chains"] == 2 and settings["seed"] == 0


def test_libfm_option_names_reach_the_learner(tmp_path, capsys, monkeypatch):
    from keras_fm.cli import bayes

    calls = []

    def recording_fit_als(*args, **kwargs):
        calls.append(kwargs)
        return bayes_fit_als(*args, **kwargs)

    bayes_fit_als = bayes.fit_als
    monkeypatch.setattr(bayes, "fit_als", recording_fit_als)
    data = libsvm_file(tmp_path / "train.libsvm", 300)
    code, out, err = run(
        capsys, "train", "--model", "fm", "--format", "libsvm", "--task",
        "regression", "--train", data, "--test", data, "--method", "als",
        "--iterations", 10,
        "--init-stdev", 0.3, "--model-dir", tmp_path / "model",
    )  # fmt: skip
    assert code == 0, err
    assert out[1] == "no --valid: the progress lines score the --test rows"
    assert "validation rmse" in out[2]  # of the --test rows
    assert calls[0]["num_sweeps"] == 10 and calls[0]["init_stdev"] == 0.3
    settings = json.loads((tmp_path / "model" / "run.json").read_text())["settings"]
    assert settings["learner"] == "als" and settings["sweeps"] == 10
    assert settings["init_stdev"] == 0.3 and settings["burn_in"] is None


def csv_files(folder, rows, held_out):
    """user, city (strings) and item columns of a known FM's data: the
    training file, and the last ``held_out`` rows as the test file."""
    data = make_fm_data(rows, vocabulary_sizes=(30, 8, 20), rank=2, seed=1)
    lines = [
        f"{int(y)},u{u},c{c},{i}"
        for y, (u, c, i) in zip(data.labels, data.ids, strict=True)
    ]
    paths = folder / "train.csv", folder / "test.csv"
    for path, part in zip(paths, (lines[:-held_out], lines[-held_out:]), strict=True):
        path.write_text("\n".join(["label,user,city,item", *part]) + "\n")
    return paths


def test_mcmc_reads_csv_fields_and_serves_the_feature_dict(tmp_path, capsys):
    train_file, test_file = csv_files(tmp_path, 2000, held_out=500)
    code, out, err = run(
        capsys, "train", "--model", "fm", "--format", "csv", "--task", "binary",
        "--train", train_file, "--test", test_file, "--label-column", "label",
        "--learner", "mcmc",
        "--sweeps", 30, "--burn-in", 10, "--model-dir", tmp_path / "model",
    )  # fmt: skip
    assert code == 0, err
    assert out[0].startswith("keras-fm train: mcmc on 1500 rows of")
    metrics = json.loads(out[-1])
    assert metrics["test"]["auc"] > 0.65  # a known FM of rank 2
    model = tf.keras.models.load_model(tmp_path / "model" / "model.keras")
    assert sorted(t.name for t in model.inputs) == ["city", "item", "user"]
    code, out, _ = run(capsys, "evaluate", "--model-dir", tmp_path / "model",
                       "--data", test_file, "--format", "csv")  # fmt: skip
    assert code == 0
    assert json.loads(out[-1]) == pytest.approx(metrics["test"], abs=1e-5)
