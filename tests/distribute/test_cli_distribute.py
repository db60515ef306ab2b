"""``keras-fm train --distribute mirrored --devices N`` and the errors of
``--distribute``."""

import json
import os
import subprocess
import sys

import pytest

from keras_fm.cli.main import main
from tests.test_cli_runs import libsvm_file


def test_mirrored_on_two_logical_devices_through_the_command(tmp_path):
    data = libsvm_file(tmp_path / "train.libsvm", 1000)
    args = [sys.executable, "-m", "keras_fm", "train", "--model", "deepfm",
            "--fields-by-position", "--format", "libsvm", "--task", "binary",
            "--train", str(data), "--valid", str(data), "--epochs", "2",
            "--batch-size", "128", "--model-dir", str(tmp_path / "run"),
            "--distribute", "mirrored", "--devices", "2"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "keras-fm train: 2 replicas (MirroredStrategy: CPU:0, CPU:1); XLA off, "
        "one step per call"
    )
    assert lines[1].startswith("epoch 1/2: 8 steps")  # 1000 rows / 128
    assert done.stderr == ""  # no TensorFlow start-up lines
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["status"] == "trained"
    assert run["distribute"].startswith("2 replicas (MirroredStrategy")


@pytest.mark.parametrize(
    ("extra", "environment", "message"),
    [
        (["--devices", "2"], {}, "--devices needs --distribute mirrored"),
        (["--distribute", "multi-worker"], {"TF_CONFIG": ""},
         "reads its cluster from the TF_CONFIG environment variable"),
        (["--distribute", "multi-worker"], {"TF_CONFIG": "{"}, "TF_CONFIG is not JSON"),
        (["--distribute", "mirrored", "--fields-by-position", "--item-field",
          "1"], {}, "ranking trains on one device"),
    ],
)  # fmt: skip
def test_distribute_errors_are_one_line(
    tmp_path, capsys, monkeypatch, extra, environment, message
):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    data = libsvm_file(tmp_path / "train.libsvm", 100)
    task = "ranking" if "--item-field" in extra else "binary"
    code = main(["train", "--model", "fm", "--format", "libsvm", "--task", task,
                 "--train", str(data), "--model-dir", str(tmp_path / "run"),
                 *extra])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "run").exists()
