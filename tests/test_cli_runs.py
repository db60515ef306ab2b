"""keras-fm train as a run in a folder: resume after kill -9, refusals, and
the failures that must not pass silently (NaN loss, one class, no data)."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from keras_fm.cli import main
from keras_fm.datasets import make_fm_data
from tests.data.text_files import write_lines


def libsvm_file(path, rows, seed=0):
    data = make_fm_data(rows, vocabulary_sizes=(50, 40, 30), rank=2, seed=seed)
    offsets = np.cumsum([0, 50, 40])
    lines = [
        f"{int(y)} " + " ".join(f"{i}:1" for i in row + offsets)
        for y, row in zip(data.labels, data.ids, strict=True)
    ]
    write_lines(path, lines)
    return path


def train(tmp_path, capsys, *extra, data=None, model_dir="run"):
    data = data or libsvm_file(tmp_path / "train.libsvm", 600)
    args = ["train", "--model", "fm", "--format", "libsvm", "--task", "binary",
            "--train", str(data), "--valid", str(data), "--epochs", "2",
            "--batch-size", "128", "--model-dir", str(tmp_path / model_dir),
            *map(str, extra)]  # fmt: skip
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_finished_model_is_not_overwritten_without_asking(tmp_path, capsys):
    code, _, _ = train(tmp_path, capsys)
    assert code == 0
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["status"] == "trained" and run["settings"]["epochs"] == 2
    assert set(run["settings"]["versions"]) >= {"keras_fm", "tensorflow", "keras"}
    code, _, err = train(tmp_path, capsys, "--learning-rate", "0.01")
    assert code == 1 and "holds a trained fm model; pass --overwrite" in err
    code, _, _ = train(tmp_path, capsys, "--learning-rate", "0.01", "--overwrite")
    assert code == 0
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["settings"]["learning_rate"] == 0.01


def test_a_folder_of_other_files_is_refused(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    code, _, err = train(tmp_path, capsys)
    assert code == 1 and "holds files but no run.json" in err
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"


def test_a_failed_start_leaves_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.libsvm"
    bad.write_text("1 3:1\n1e39 4:1\n")
    code, _, err = train(tmp_path, capsys, data=bad)
    assert code == 1 and f"{bad}:2: label beyond the float32 range" in err
    assert not (tmp_path / "run").exists()


def test_an_empty_training_file_is_named(tmp_path, capsys):
    empty = tmp_path / "empty.libsvm"
    empty.write_text("\n\n")
    code, _, err = train(tmp_path, capsys, data=empty)
    assert code == 1 and f"no examples in ['{empty}']" in err
    assert len(err.strip().splitlines()) == 1


def test_a_nan_loss_is_an_error_not_a_model(tmp_path, capsys):
    code, _, err = train(tmp_path, capsys, "--learning-rate", "1e30")
    assert code == 1 and "the training loss became nan" in err
    assert not (tmp_path / "run" / "model.keras").exists()


def test_one_class_gives_null_auc_and_strict_json(tmp_path, capsys):
    ones = tmp_path / "ones.libsvm"
    write_lines(ones, ["1 3:1 60:1", "1 4:1 61:1", "1 5:1 70:1"])
    code, out, err = train(tmp_path, capsys, data=ones)
    assert code == 0
    assert "AUC is undefined, so early stopping watches val_loss" in err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["valid"]["auc"] is None and result["valid"]["logloss"] > 0
    json.loads((tmp_path / "run" / "metrics.json").read_text(), parse_constant=_no)


def _no(token):
    raise AssertionError(f"not strict JSON: {token}")


def test_epoch_lines_count_true_steps(tmp_path, capsys):
    code, out, _ = train(tmp_path, capsys)  # 600 rows / 128: 5 steps
    assert code == 0
    assert "epoch 1/2: 5 steps" in out and "epoch 2/2: 5 steps" in out


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_last_finished_epoch(tmp_path):
    data = libsvm_file(tmp_path / "big.libsvm", 150_000, seed=1)
    args = [sys.executable, "-m", "keras_fm", "train", "--model", "fm",
            "--format", "libsvm", "--task", "binary", "--train", str(data),
            "--epochs", "3", "--batch-size", "64", "--patience", "5",
            "--model-dir", str(tmp_path / "run")]  # fmt: skip
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    metadata = tmp_path / "run" / "backup" / "training_metadata.json"
    try:
        deadline = time.monotonic() + 300
        while not metadata.exists() and process.poll() is None:
            assert time.monotonic() < deadline, "no epoch finished in 300 s"
            time.sleep(0.05)
        time.sleep(0.5)  # into epoch 2
        assert process.poll() is None, process.communicate()[1][-3000:]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
        process.communicate(timeout=30)
    assert not (tmp_path / "run" / "metrics.json").exists()
    rerun = subprocess.run(args, env=env, capture_output=True, text=True,
                           timeout=600)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resuming from epoch 2" in rerun.stdout
    assert "epoch 1/3" not in rerun.stdout and "epoch 3/3" in rerun.stdout
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == (
        "trained"
    )
    assert rerun.stderr == ""  # no TensorFlow start-up lines


def test_an_error_is_one_line_without_tensorflow_logs(tmp_path):
    """The command's process hides TensorFlow's start-up lines (the banner,
    the CUDA probe): stderr holds the one error line and nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    result = subprocess.run(
        [sys.executable, "-m", "keras_fm", "evaluate", "--model-dir",
         str(tmp_path / "none"), "--data", "x.libsvm", "--format", "libsvm"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"keras-fm evaluate: error: no trained model in '{tmp_path / 'none'}' "
        "(missing model.keras)"
    ]
    assert result.stdout == ""
