"""``keras-fm train`` on frappe in one process and in a cluster of 2 local
workers: test AUC and training speed.

Each model trains twice with the same command, global batch and number of
epochs (no early stopping: ``--epochs N --patience N``): once as one process,
once as two worker processes of a `tf.distribute.MultiWorkerMirroredStrategy`
cluster on 127.0.0.1 (free ports, one ``TF_CONFIG`` each, every process
ended). The workers split each global batch by rows (one training file is
fewer files than workers) and run on the same 2 cores as each other, so the
speed column measures the strategy's machinery and the workers' exchange
over loopback, not a speed-up: on hosts of their own each worker has its own
cores.

Columns: the run, test AUC and log loss (the chief's ``metrics.json``), train
examples/s (training rows over the median epoch time of the epoch lines
after the first, validation included) and the process's wall seconds.

Usage: python examples/benchmarks/multi_worker_frappe.py [--data DIR]
       [--models fm,deepfm] [--epochs 3]
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FILES = (
    "frappe.train.reconstructed.libfm",
    "frappe.validation.libfm",
    "frappe.test.libfm",
)
DEADLINE = 3600  # seconds for one run
EPOCH_LINE = re.compile(r"^epoch \d+/\d+: \d+ steps, ([\d.]+) s")


def command(folder, model, epochs, out):
    train, valid, test = (str(folder / name) for name in FILES)
    return [
        sys.executable, "-m", "keras_fm", "train", "--model", model,
        "--format", "libsvm", "--task", "binary", "--train", train,
        "--valid", valid, "--test", test, "--model-dir", str(out),
        "--epochs", str(epochs), "--patience", str(epochs),
        *([] if model == "fm" else ["--fields-by-position"]),
    ]  # fmt: skip


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def run(args, workers):
    """The chief's output and the wall seconds of ``workers`` processes."""
    if workers == 1:
        configs = [None]
    else:
        addresses = [f"127.0.0.1:{port}" for port in free_ports(workers)]
        configs = [
            json.dumps({"cluster": {"worker": addresses},
                        "task": {"type": "worker", "index": index}})
            for index in range(workers)
        ]  # fmt: skip
    start = time.perf_counter()
    processes = [
        subprocess.Popen(
            [*args, *(["--distribute", "multi-worker"] if config else [])],
            env={**os.environ, **({"TF_CONFIG": config} if config else {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for config in configs
    ]
    try:
        outputs = [process.communicate(timeout=DEADLINE) for process in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait()
    seconds = time.perf_counter() - start
    for process, (_, err) in zip(processes, outputs, strict=True):
        if process.returncode:
            raise SystemExit(f"{' '.join(args)} failed:\n{err[-3000:]}")
    return outputs[0][0], seconds


def train_rows(folder):
    with open(folder / FILES[0], "rb") as lines:
        return sum(1 for line in lines if line.strip())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[3] / "shared" / "data"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--models", default="fm,deepfm")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    folder = args.data / "frappe"
    if not (folder / FILES[2]).exists():
        raise SystemExit(f"frappe is absent: {folder} (see its SOURCE.md)")
    rows = train_rows(folder)
    work = Path(tempfile.mkdtemp(prefix="multi_worker_frappe_"))
    print(f"{'model':8}{'workers':>8}{'test AUC':>10}{'logloss':>9}"
          f"{'examples/s':>12}{'wall s':>8}", flush=True)  # fmt: skip
    for model in args.models.split(","):
        for workers in (1, 2):
            out = work / f"{model}-{workers}"
            output, seconds = run(command(folder, model, args.epochs, out), workers)
            epochs = [
                float(match.group(1))
                for match in map(EPOCH_LINE.match, output.splitlines())
                if match
            ]
            speed = rows / np.median(epochs[1:] or epochs)
            test = json.loads((out / "metrics.json").read_text())["test"]
            print(
                f"{model:8}{workers:>8}{test['auc']:>10.4f}{test['logloss']:>9.4f}"
                f"{speed:>12,.0f}{seconds:>8.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
