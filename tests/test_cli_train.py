"""keras-fm train / evaluate / predict on small generated files."""

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_fm.cli import main
from keras_fm.cli import train as cli_train
from keras_fm.cli.arguments import DNN_MODELS
from keras_fm.cli.train import _model_kwargs
from keras_fm.data import convert_to_tfrecord
from keras_fm.data.fields import position_features
from keras_fm.datasets import make_fm_data
from keras_fm.models import BUILDERS
from tests.data.text_files import write_lines


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A generated data set as libFM (one-hot, by position), libffm and CSV files."""
    folder = tmp_path_factory.mktemp("data")
    data = make_fm_data(6000, vocabulary_sizes=(8, 6, 10), rank=2, seed=11)
    offsets = np.cumsum([0, *data.vocabulary_sizes[:-1]])
    parts = dict(zip(["train", "valid", "test"], data.split(0.7, 0.15), strict=True))
    for name, part in parts.items():
        ids = part.ids + offsets
        labels = part.labels.astype(int)
        write_lines(
            folder / f"{name}.libfm",
            [
                f"{y} " + " ".join(f"{i}:1" for i in row)
                for y, row in zip(labels, ids, strict=True)
            ],
        )
        write_lines(
            folder / f"{name}.ffm",
            [
                f"{y} " + " ".join(f"{f}:{i}:1" for f, i in enumerate(row))
                for y, row in zip(labels, ids, strict=True)
            ],
        )
        rows = [
            f"{y},u{a},i{b},{c * 1.5}"
            for y, (a, b, c) in zip(labels, part.ids, strict=True)
        ]
        write_lines(folder / f"{name}.csv", ["clicked,user,item,price", *rows])
        convert_to_tfrecord(
            folder / f"{name}.ffm", folder / f"{name}.tfrecord", "libffm"
        )
    return folder


SUFFIXES = {"libsvm": "libfm", "libffm": "ffm", "csv": "csv", "tfrecord": "tfrecord"}


def run(capsys, *args):
    code = main(list(map(str, args)))
    captured = capsys.readouterr()
    return code, captured.out.strip().splitlines(), captured.err.strip()


def train_args(files, fmt, model, tmp_path, *extra):
    suffix = SUFFIXES[fmt]
    return [
        "train", "--model", model, "--format", fmt, "--task", "binary",
        "--train", files / f"train.{suffix}", "--valid", files / f"valid.{suffix}",
        "--test", files / f"test.{suffix}", "--model-dir", tmp_path / "model",
        "--epochs", "3", "--batch-size", "512", "--learning-rate", "0.02",
        "--embedding-dim", "4",
        *(["--dnn-units", "16"] if model in DNN_MODELS else []), *extra,
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fmt", "model", "extra"),
    [
        ("libsvm", "fm", []),
        pytest.param(
            "libsvm", "deepfm", ["--fields-by-position"], marks=pytest.mark.long
        ),
        pytest.param("libffm", "ffm", [], marks=pytest.mark.long),
        ("csv", "xdeepfm", ["--label-column", "clicked", "--numeric-columns", "price"]),
        ("tfrecord", "fm", ["--min-count", "1"]),
    ],
)
def test_train_evaluate_predict(
    files, tmp_path, capsys, monkeypatch, fmt, model, extra
):
    # Raw libsvm rows: padded for XLA here, as for files of 2 MiB and more.
    monkeypatch.setattr(cli_train, "PAD_FROM_BYTES", 0)
    code, out, err = run(capsys, *train_args(files, fmt, model, tmp_path, *extra))
    assert code == 0, err
    # 4,200 training rows in full batches of 512 (the last one ends with the
    # next pass's first rows): 9 steps an epoch.
    epochs = [line for line in out if line.startswith("epoch ")]
    assert len(epochs) == 3 and all(": 9 steps, " in line for line in epochs), out
    run_file = json.loads((tmp_path / "model" / "run.json").read_text())
    padded = fmt in ("libsvm", "tfrecord") and model == "fm"  # (tfrecord: fields)
    assert run_file["data_format"]["padded"] == padded
    metrics = json.loads(out[-1])
    assert set(metrics) == {"valid", "test"} and set(metrics["test"]) == {
        "auc",
        "logloss",
        "ece",
    }
    assert metrics["test"]["auc"] > 0.6
    assert json.loads((tmp_path / "model" / "metrics.json").read_text()) == metrics
    test_file = files / f"test.{SUFFIXES[fmt]}"
    code, out, _ = run(
        capsys,
        "evaluate",
        "--model-dir",
        tmp_path / "model",
        "--data",
        test_file,
        "--format",
        fmt,
    )
    # The same metrics as at the end of training, to the bucketing of Keras's
    # AUC (200 thresholds): other batch sizes round a score differently in
    # the last bits (oneDNN's kernels), which can move it across a threshold
    # (seen: 1.0e-5 of AUC on one machine).
    assert code == 0 and json.loads(out[-1]) == pytest.approx(metrics["test"], abs=1e-4)
    output = tmp_path / "predictions.txt"
    code, out, _ = run(
        capsys,
        "predict",
        "--model-dir",
        tmp_path / "model",
        "--data",
        test_file,
        "--format",
        fmt,
        "--output",
        output,
    )
    predictions = np.loadtxt(output)
    assert (
        code == 0
        and len(predictions) == 900
        and ((predictions > 0) & (predictions < 1)).all()
    )

    # export: a TF Serving version with warm-up rows from the test file, and
    # TFLite, serving the predictions of `predict`.
    extra = ["--tflite", tmp_path / "m.tflite"]
    code, out, err = run(
        capsys, "export", "--model-dir", tmp_path / "model",
        "--saved-model", tmp_path / "serving", "--sample-data", test_file, *extra,
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out[-1])
    assert result["saved_model"] == str(tmp_path / "serving" / "1")
    from tensorflow_serving.apis import prediction_log_pb2

    warmup = tmp_path / "serving" / "1" / "assets.extra" / "tf_serving_warmup_requests"
    serve = tf.saved_model.load(result["saved_model"]).signatures["serving_default"]
    records = list(tf.data.TFRecordDataset(str(warmup)))
    request = prediction_log_pb2.PredictionLog.FromString(
        records[-1].numpy()
    ).predict_log.request
    served = serve(
        **{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
    )
    np.testing.assert_allclose(served["prediction"], predictions[:16], atol=1e-5)
    assert result["tflite"]["bytes"] > 0
    code, _, err = run(
        capsys, "export", "--model-dir", tmp_path / "model",
        "--saved-model", tmp_path / "serving", "--version", "1",
    )  # fmt: skip
    assert code == 1 and "exists" in err and "\n" not in err


def test_missing_file_is_a_one_line_error(files, tmp_path, capsys):
    args = train_args(files, "libsvm", "fm", tmp_path)
    args[args.index("--train") + 1] = tmp_path / "nope.libfm"
    code, _, err = run(capsys, *args)
    assert code == 1 and "No such file" in err and "\n" not in err


def test_field_model_without_fields_is_an_error(files, tmp_path, capsys):
    code, _, err = run(capsys, *train_args(files, "libsvm", "deepfm", tmp_path))
    assert code == 1 and "--fields-by-position" in err


def test_malformed_line_is_reported_with_its_location(files, tmp_path, capsys):
    bad = tmp_path / "bad.libfm"
    write_lines(bad, ["1 0:1 9:1 15:1", "0 3:1 x:1 20:1"])
    args = train_args(files, "libsvm", "fm", tmp_path)
    args[args.index("--train") + 1] = bad
    code, _, err = run(capsys, *args)
    assert code == 1
    expected = f"{bad}:2: non-numeric feature index: `x:1`"
    assert err == f"keras-fm train: error: keras_fm: malformed input: {expected}"


def test_evaluate_without_a_model_and_with_the_wrong_format(files, tmp_path, capsys):
    code, _, err = run(
        capsys,
        "evaluate",
        "--model-dir",
        tmp_path,
        "--data",
        files / "test.ffm",
        "--format",
        "libffm",
    )
    assert code == 1 and "no trained model" in err
    (tmp_path / "run.json").write_text(
        json.dumps({"data_format": {"format": "libsvm"}})
    )
    code, _, err = run(
        capsys,
        "evaluate",
        "--model-dir",
        tmp_path,
        "--data",
        files / "test.ffm",
        "--format",
        "libffm",
    )
    assert code == 1 and "trained on libsvm data" in err


@pytest.fixture(scope="module")
def implicit(tmp_path_factory):
    """Implicit feedback by position: user, item, item genre; 4 taste groups."""
    folder = tmp_path_factory.mktemp("implicit")
    rng = np.random.default_rng(0)
    parts = {"train": [], "valid": [], "test": []}
    for user in range(40):
        group = user // 10
        liked = rng.permutation(np.arange(group * 15, group * 15 + 15))[:12]
        for k, item in enumerate(liked):
            part = "train" if k < 8 else ("valid" if k < 10 else "test")
            parts[part].append(f"1 {user}:1 {40 + item}:1 {100 + item // 15}:1")
    parts["train"].append("0 0:1 99:1 103:1")  # a negative row: not a positive
    for name, lines in parts.items():
        write_lines(folder / f"{name}.libfm", lines)
    return folder


@pytest.mark.slow
def test_ranking_train_evaluate_predict(implicit, tmp_path, capsys):
    model_dir = tmp_path / "model"
    code, out, err = run(
        capsys, "train", "--model", "fm", "--format", "libsvm", "--fields-by-position",
        "--task", "ranking", "--item-field", "field_1", "--item-features", "field_2",
        "--user-field", "field_0", "--train", implicit / "train.libfm",
        "--valid", implicit / "valid.libfm", "--test", implicit / "test.libfm",
        "--model-dir", model_dir, "--epochs", "30", "--batch-size", "64",
        "--learning-rate", "0.05", "--embedding-dim", "4", "--patience", "5",
    )  # fmt: skip
    assert code == 0, err
    assert "320 of 321 training rows are positives (label > 0); 60 items" in out[0]
    metrics = json.loads(out[-1])
    assert set(metrics["test"]) == {"hr@10", "ndcg@10"}
    # A user's unseen items: ~51, so chance is HR@10 ~ 0.2; the groups are learnable.
    assert metrics["test"]["hr@10"] > 0.5 and metrics["valid"]["hr@10"] > 0.5
    assert 0 < metrics["test"]["ndcg@10"] < metrics["test"]["hr@10"]
    evaluate = ["--model-dir", model_dir, "--format", "libsvm"]
    code, out, _ = run(capsys, "evaluate", *evaluate, "--data", implicit / "test.libfm")
    assert code == 0 and json.loads(out[-1]) == pytest.approx(metrics["test"])
    output = tmp_path / "scores.txt"
    code, out, _ = run(
        capsys, "predict", *evaluate, "--data", implicit / "test.libfm",
        "--output", output,
    )  # fmt: skip
    scores = np.loadtxt(output)
    assert code == 0 and scores.shape == (80,)
    assert not ((scores > 0) & (scores < 1)).all()  # scores, not probabilities


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--item-field", "field_1"], "needs fields"),
        (["--fields-by-position"], "needs the item field (--item-field)"),
        (["--fields-by-position", "--item-field", "item"], "no input 'item'"),
    ],
)
def test_ranking_errors(implicit, tmp_path, capsys, extra, message):
    code, _, err = run(
        capsys, "train", "--model", "fm", "--format", "libsvm", "--task", "ranking",
        "--train", implicit / "train.libfm", "--model-dir", tmp_path, *extra,
    )  # fmt: skip
    assert code == 1 and message in err and "\n" not in err


def _layer_config(model_dir, layer):
    import keras

    model = keras.saving.load_model(model_dir / "model.keras")
    return model.get_layer(layer).get_config()


@pytest.mark.parametrize(
    ("fmt", "l2", "extra", "layer", "expected"),
    [
        ("libsvm", "0.05", [], "fm", 0.05),  # libFM rows, no fields: SparseFM
        (
            "csv",
            "0.01,user=0.2",
            ["--label-column", "clicked", "--numeric-columns", "price"],
            "embedding",
            {"user": 0.2, "item": 0.01, "price": 0.01},
        ),
        (
            "libffm",
            "field_1=0.3",
            [],
            "field_aware_embedding",
            {"field_1": 0.3},
        ),
    ],
)
def test_l2_reaches_the_model(files, tmp_path, capsys, fmt, l2, extra, layer, expected):
    model = "fm" if fmt != "libffm" else "ffm"
    args = train_args(files, fmt, model, tmp_path, "--l2", l2, *extra)
    args[args.index("--epochs") + 1] = "1"
    code, _, err = run(capsys, *args)
    assert code == 0, err
    assert _layer_config(tmp_path / "model", layer)["embeddings_l2"] == expected


def test_l2_errors(files, tmp_path, capsys):
    csv = ["--label-column", "clicked", "--numeric-columns", "price"]
    code, _, err = run(
        capsys, *train_args(files, "csv", "fm", tmp_path, "--l2", "usr=0.1", *csv)
    )
    assert code == 1 and "usr" in err and "'user'" in err and "\n" not in err
    code, _, err = run(
        capsys, *train_args(files, "libsvm", "fm", tmp_path, "--l2", "field_0=0.1")
    )
    assert code == 1 and "an L2 per feature needs fields" in err


@pytest.mark.parametrize(
    ("model", "extra", "message"),
    [
        ("fm", ["--dnn-units", "8"], "--dnn-units: not an option of --model fm"),
        (
            "deepfm",
            ["--cin-layer-sizes", "4", "--fields-by-position"],
            "--cin-layer-sizes: not an option of --model deepfm",
        ),
        ("ffm", ["--dropout", "0.1"], "--dropout: not an option of --model ffm"),
        ("fm", ["--item-field", "field_1"], "--item-field: options of --task ranking"),
    ],
)
def test_options_the_run_would_not_use_are_errors(
    files, tmp_path, capsys, model, extra, message
):
    fmt = "libffm" if model == "ffm" else "libsvm"
    code, _, err = run(capsys, *train_args(files, fmt, model, tmp_path, *extra))
    assert code == 1 and message in err and "\n" not in err
    assert not (tmp_path / "model").exists()


def test_afm_takes_dropout_as_its_attention_dropout():
    features = position_features(3, 12)
    options = {"embedding_dim": 4, "l2": 0.0, "table_l2": 0.0, "dropout": 0.3}
    kwargs = _model_kwargs("afm", options, features)
    assert kwargs["attention_dropout"] == 0.3 and "dropout" not in kwargs
    model = BUILDERS["afm"](features, **kwargs)
    assert model.get_layer("afm").get_config()["dropout"] == 0.3
