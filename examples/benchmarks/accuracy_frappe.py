"""Test AUC of ``keras-fm train``, no tuning flags, on frappe; published figures.

Each run is the command a user types, with no tuning flag: ``keras-fm train
--model M --format libsvm --task binary`` on frappe's training, validation and
test files (``--fields-by-position`` for the field models; FM reads the raw
libsvm rows, as libFM does), in a process of its own. The defaults
(`keras_fm.models.MODEL_DEFAULTS`, `TRAINING_DEFAULTS`) decide the rest;
early stopping on validation AUC ends each run.

With ``--libfm PATH`` (a libFM binary), the script also runs libFM's SGD for
20 iterations at k = 64 on the same files and prints its wall time and test
AUC next to ``keras-fm train --model fm --embedding-dim 64 --epochs N`` for a
few N: the time each takes to a given accuracy.

Published figures (test AUC / log loss):
- FM: 0.967108 / 0.206515, BARS FM on Frappe_x1 (as quoted in
  ../shared/data/frappe/SOURCE.md);
- FFM: 0.978620 / 0.186032, BARS FFM_frappe_x1 log of experiment 007;
- DeepFM: 0.983947 / 0.149462, mean of 5 runs, BARS DeepFM_frappe_x1 README;
- xDeepFM: 0.984138 / 0.146125, mean of 5 runs, BARS xDeepFM_frappe_x1 README;
- AFM: 0.969733 / 0.226424, BARS AFM_frappe_x1 log of experiment 011;
- AutoInt+: 0.984812 / 0.149007, BARS AutoInt+_frappe_x1 README.
frappe's training file here is rebuilt (its negatives are re-sampled, see
SOURCE.md), so differences of a few 1e-3 are noise.

Usage: python examples/benchmarks/accuracy_frappe.py [--data DIR]
       [--models fm,fm64,ffm,deepfm] [--seeds 0,1,2] [--libfm PATH]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PUBLISHED = {
    "fm": (0.967108, 0.206515),
    "ffm": (0.978620, 0.186032),
    "deepfm": (0.983947, 0.149462),
    "xdeepfm": (0.984138, 0.146125),
    "afm": (0.969733, 0.226424),
    "autoint+": (0.984812, 0.149007),
}
TARGETS = {
    "fm": 0.967, "fm64": 0.980, "ffm": 0.976, "deepfm": 0.983, "xdeepfm": 0.983,
    "autoint+": 0.982, "nfm": 0.978, "afm": 0.968,
}  # fmt: skip
FILES = ("frappe.train.reconstructed.libfm", "frappe.validation.libfm")
TEST = "frappe.test.libfm"


def keras_fm_train(folder, name, seed, out, *extra):
    """One ``keras-fm train`` run: (wall seconds, epochs, metrics)."""
    model = "fm" if name == "fm64" else name
    command = [
        sys.executable, "-m", "keras_fm", "train", "--model", model,
        "--format", "libsvm", "--task", "binary",
        "--train", str(folder / FILES[0]), "--valid", str(folder / FILES[1]),
        "--test", str(folder / TEST), "--model-dir", str(out), "--seed", str(seed),
        *(["--embedding-dim", "64"] if name == "fm64" else []),
        *([] if model == "fm" else ["--fields-by-position"]), *extra,
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    epochs = sum(line.startswith("epoch ") for line in done.stdout.splitlines())
    metrics = json.loads((out / "metrics.json").read_text())
    return seconds, epochs, metrics


def auc(labels, scores):
    """Rank AUC (ties are not expected in real-valued scores)."""
    ranks = np.argsort(np.argsort(scores)) + 1
    positives = labels.sum()
    negatives = len(labels) - positives
    return (ranks[labels].sum() - positives * (positives + 1) / 2) / (
        positives * negatives
    )


def libfm_sgd(binary, folder, work):
    """libFM's SGD, 20 iterations, k = 64: (wall seconds, test AUC)."""
    test = work / "test.libfm"  # libFM refuses frappe's CRLF line ends
    test.write_bytes((folder / TEST).read_bytes().replace(b"\r", b""))
    command = [
        binary, "-task", "c", "-train", str(folder / FILES[0]), "-test", str(test),
        "-dim", "1,1,64", "-iter", "20", "-method", "sgd", "-learn_rate", "0.01",
        "-regular", "0,0,0.01", "-init_stdev", "0.1", "-out", str(work / "pred"),
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True)
    seconds = time.perf_counter() - start
    labels = np.array([line.split()[0] == "1" for line in test.open()])
    return seconds, auc(labels, np.loadtxt(work / "pred"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[3] / "shared" / "data"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument(
        "--models", default="fm,fm64,ffm,deepfm,xdeepfm,autoint+,nfm,afm"
    )
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--libfm", help="a libFM binary, for the time to accuracy")
    args = parser.parse_args()
    folder = args.data / "frappe"
    if not (folder / TEST).exists():
        raise SystemExit(f"frappe is absent: {folder} (see its SOURCE.md)")
    work = Path(tempfile.mkdtemp(prefix="accuracy_frappe_"))
    print(
        f"{'model':9}{'seed':>5}{'epochs':>7}{'wall s':>8}{'val AUC':>9}"
        f"{'test AUC':>10}{'logloss':>9}{'target':>8}{'published':>11}",
        flush=True,
    )
    for name in args.models.split(","):
        for seed in map(int, args.seeds.split(",")):
            seconds, epochs, metrics = keras_fm_train(
                folder, name, seed, work / f"{name}-{seed}"
            )
            published = PUBLISHED.get(name)
            print(
                f"{name:9}{seed:>5}{epochs:>7}{seconds:>8.0f}"
                f"{metrics['valid']['auc']:>9.4f}{metrics['test']['auc']:>10.4f}"
                f"{metrics['test']['logloss']:>9.4f}{TARGETS.get(name, 0):>8.3f}"
                f"{published[0] if published else 0:>11.4f}",
                flush=True,
            )
    if args.libfm:
        print("\ntime to accuracy, k = 64 (wall seconds of the whole process)")
        baseline, test_auc = libfm_sgd(args.libfm, folder, work)
        print(f"libFM SGD, 20 iterations   {baseline:6.1f} s  test AUC {test_auc:.4f}")
        for epochs in (2, 3, 4):
            seconds, _, metrics = keras_fm_train(
                folder, "fm64", 0, work / f"fm64-e{epochs}", "--epochs", str(epochs)
            )
            print(
                f"keras-fm train --epochs {epochs}   {seconds:6.1f} s  "
                f"test AUC {metrics['test']['auc']:.4f} "
                f"({seconds / baseline:.2f} of libFM's time)",
                flush=True,
            )


if __name__ == "__main__":
    main()
