"""``keras-fm train --distribute multi-worker``: a cluster of two worker
processes on 127.0.0.1 (free ports, bounded run time, every process ended)."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.models.test_models import SMALL
from tests.test_cli_runs import libsvm_file

pytestmark = pytest.mark.slow

DEADLINE = 300  # seconds for a cluster run
ROOT = Path(__file__).resolve().parents[2]


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def command(data, model_dir, model="deepfm"):
    return [
        sys.executable, "-m", "keras_fm", "train", "--model", model,
        "--format", "libsvm", "--task", "binary", "--train", str(data),
        "--valid", str(data), "--test", str(data), "--epochs", "3",
        "--patience", "5", "--batch-size", "256", "--model-dir", str(model_dir),
        "--distribute", "multi-worker",
        *(["--fields-by-position"] if model != "fm" else []),
    ]  # fmt: skip


@contextmanager
def cluster(args):
    """Two workers running ``args`` from the repository's root, each with its
    TF_CONFIG; killed on exit."""
    addresses = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": addresses},
                  "task": {"type": "worker", "index": index}}  # fmt: skip
        env = dict(os.environ, TF_CONFIG=json.dumps(config))
        processes.append(subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=ROOT,
        ))  # fmt: skip
    try:
        yield processes
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.communicate(timeout=30)


def finish(processes):
    outputs = [process.communicate(timeout=DEADLINE) for process in processes]
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err[-3000:]
    return [out for out, _ in outputs]


def only_the_chief_wrote(folder, chief, worker):
    """The chief's folder holds the outputs and no backup; the workers'
    epoch lines and final metrics agree (one synchronous model)."""
    assert "worker 0 of 2" in chief and "worker 1 of 2" in worker

    def results(output):  # the epoch lines (but their seconds) and metrics
        lines = [x for x in output.splitlines() if not x.startswith("keras-fm")]
        return [re.sub(r", [0-9.]+ s, ", ", ", x) for x in lines]

    assert results(chief) == results(worker)
    assert any(line.startswith("epoch 3/3") for line in results(chief))
    assert sorted(p.name for p in folder.iterdir()) == [
        "history.csv", "logs", "metrics.json", "model.keras", "report.png",
        "run.json",
    ]  # fmt: skip
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics == json.loads(chief.splitlines()[-1])
    assert 0.5 < metrics["test"]["auc"] <= 1.0
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "trained" and "worker 0 of 2" in run["distribute"]


@pytest.mark.long  # the killed cluster's test covers the same in CI, with an FM
def test_two_workers_train_a_field_model_and_only_the_chief_writes(tmp_path):
    data = libsvm_file(tmp_path / "train.libsvm", 3000)
    with cluster(command(data, tmp_path / "run")) as processes:
        chief, worker = finish(processes)
    only_the_chief_wrote(tmp_path / "run", chief, worker)


def test_a_killed_cluster_resumes_from_the_last_finished_epoch(tmp_path):
    data = libsvm_file(tmp_path / "train.libsvm", 6_000, seed=1)
    args = command(data, tmp_path / "run", model="fm")
    metadata = tmp_path / "run" / "backup" / "training_metadata.json"
    with cluster(args) as processes:
        deadline = time.monotonic() + DEADLINE
        while not metadata.exists():
            assert time.monotonic() < deadline, "no epoch finished in time"
            assert all(p.poll() is None for p in processes), processes[0].stderr
            time.sleep(0.05)
        time.sleep(0.2)  # into epoch 2
        for process in processes:
            os.kill(process.pid, signal.SIGKILL)
    assert not (tmp_path / "run" / "metrics.json").exists()
    with cluster(args) as processes:
        chief, worker = finish(processes)
    for output in (chief, worker):
        assert "resuming from epoch 2" in output
        assert "epoch 1/3" not in output and "epoch 3/3" in output
    only_the_chief_wrote(tmp_path / "run", chief, worker)


# All long: CI's 2-worker cluster is the killed-and-resumed run above (the
# CLI on both workers), and its exactness and defaults cost another minute.
ROW_SPARSE = ["deepfm:lazy_adam"]  # ragged rows, fields, row-sparse updates
EVERY_OPTIMIZER = ["fm:adam", "fm:lazy_adam", "fm:sparse_adagrad", "fm:sparse_ftrl",
                   "deepfm:adam", "deepfm:sparse_adagrad",
                   "deepfm:sparse_ftrl"]  # fmt: skip
EVERY_MODEL = [f"{name}:adam" for name in sorted(SMALL) if name not in ("fm", "deepfm")]


@pytest.mark.parametrize(
    "cases",
    [pytest.param(ROW_SPARSE, marks=pytest.mark.long),
     pytest.param(EVERY_OPTIMIZER, marks=pytest.mark.long),
     pytest.param(EVERY_MODEL, marks=pytest.mark.long)],
    ids=["row_sparse", "every_optimizer", "every_model"],
)  # fmt: skip
def test_two_workers_train_as_one_device(tmp_path, cases):
    """MultiWorkerMirroredStrategy, 2 workers of one replica: 4 steps at a
    global batch of 16 leave one device's weights (tolerance as in
    test_mirrored) with dense Adam and each row-sparse optimizer (and, in the
    long set, every zoo model), and the defaults train, evaluate, predict,
    save and export on every worker."""
    args = [
        sys.executable, "-m", "tests.distribute.multi_worker_cases", *cases,
        "defaults",
    ]  # fmt: skip
    with cluster(args) as processes:
        outputs = finish(processes)
    chief, worker = (
        [json.loads(line) for line in out.splitlines() if line[:1] == "{"]
        for out in outputs
    )
    assert chief == worker  # one synchronous model
    for result in chief[:-1]:
        assert result["replicas"] == 2 and result["moved"] > 1e-3
        tolerance = 1e-6 + 1e-5 * result["moved"] + 3 * result["rounding"]
        assert result["difference"] <= tolerance, result
        one, two = result["losses"]
        assert two == pytest.approx(one, rel=1e-5)
    defaults = chief[-1]
    assert (defaults["jit_compile"], defaults["steps_per_execution"]) == (False, 1)
    assert defaults["finite"] and defaults["reloaded_difference"] == 0.0
    assert defaults["signature_inputs"] == ["age", "genre", "user"]
