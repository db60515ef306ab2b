"""Test log loss of ``keras-fm train``'s defaults on data drawn from a known FM and FFM.

A check that the defaults are not tuned to frappe alone: binary examples are
drawn from a random FM and from a random FFM (`keras_fm.datasets`, 8 one-hot
fields of 8 to 60 ids), split 80/10/10 into libffm training, validation and
test files, and ``keras-fm train --model M`` runs on them with no tuning
flag. The floor is the log loss of the true model's probabilities on the test
labels (`SyntheticData.noise_floor`): no model can expect less.

Usage: python examples/benchmarks/accuracy_synthetic.py [--examples N]
       [--models fm,ffm,deepfm]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from keras_fm.datasets import make_ffm_data, make_fm_data


def write_libffm(data, path):
    """One line per example: ``label field:global id:1`` for each field."""
    offsets = np.cumsum([0, *data.vocabulary_sizes[:-1]])
    with open(path, "w") as handle:
        for ids, label in zip(data.ids + offsets, data.labels, strict=True):
            pairs = " ".join(f"{field}:{i}:1" for field, i in enumerate(ids))
            handle.write(f"{int(label)} {pairs}\n")


def keras_fm_train(model, folder, out):
    command = [
        sys.executable, "-m", "keras_fm", "train", "--model", model,
        "--format", "libffm", "--task", "binary",
        "--train", str(folder / "train.ffm"), "--valid", str(folder / "valid.ffm"),
        "--test", str(folder / "test.ffm"), "--model-dir", str(out),
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    epochs = sum(line.startswith("epoch ") for line in done.stdout.splitlines())
    metrics = json.loads((out / "metrics.json").read_text())["test"]
    return time.perf_counter() - start, epochs, metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200_000)
    parser.add_argument("--models", default="fm,ffm,deepfm")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="accuracy_synthetic_"))
    print(
        f"{'data':9}{'model':8}{'epochs':>7}{'wall s':>8}{'test AUC':>10}"
        f"{'logloss':>9}{'floor':>8}{'gap':>8}",
        flush=True,
    )
    for name, make in (("true FM", make_fm_data), ("true FFM", make_ffm_data)):
        data = make(args.examples, task="binary", seed=0)
        folder = work / name.replace(" ", "_")
        folder.mkdir()
        for part, split in zip(
            ("train", "valid", "test"), data.split(0.8, 0.1), strict=True
        ):
            write_libffm(split, folder / f"{part}.ffm")
        floor = data.split(0.9)[1].noise_floor()["logloss"]
        for model in args.models.split(","):
            seconds, epochs, test = keras_fm_train(model, folder, folder / model)
            print(
                f"{name:9}{model:8}{epochs:>7}{seconds:>8.0f}{test['auc']:>10.4f}"
                f"{test['logloss']:>9.4f}{floor:>8.4f}{test['logloss'] - floor:>8.4f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
