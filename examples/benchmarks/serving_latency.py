"""Serving latency and size of exported models at frappe's sizes.

For FM, DeepFM and xDeepFM (10 fields by position over frappe's 5,382 ids,
embedding 10, DNN 400x3, CIN 16,16; untrained weights, which do not change
the cost), exports a SavedModel with `keras_fm.export.export_saved_model` and
a float TFLite file with `keras_fm.export.to_tflite`, then prints one table:
SavedModel ``serving_default`` latency in process (batch 1 and 256, p50 and
p99 over repeated calls), TFLite batch-1 latency in ai_edge_litert (p50,
p99), and the sizes on disk.

Usage: python examples/benchmarks/serving_latency.py [--calls N]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_fm.data import position_features
from keras_fm.export import edge_inputs, export_saved_model, to_tflite
from keras_fm.models import BUILDERS

FIELDS, FEATURES = 10, 5382
SETTINGS = {
    "fm": {},
    "deepfm": {"dnn_units": (400, 400, 400)},
    "xdeepfm": {"dnn_units": (400, 400, 400), "cin_layer_sizes": (16, 16)},
}


def percentiles(call, calls):
    for _ in range(20):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return np.percentile(times, 50) * 1e3, np.percentile(times, 99) * 1e3


def folder_bytes(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    features = position_features(FIELDS, FEATURES)
    rng = np.random.default_rng(0)
    print(
        f"{'model':9}{'SM b1 p50':>11}{'p99':>8}{'SM b256 p50':>13}{'p99':>8}"
        f"{'TFLite b1 p50':>15}{'p99':>8}{'SM MB':>8}{'TFLite MB':>11}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, settings in SETTINGS.items():
            model = BUILDERS[name](features, embedding_dim=10, **settings)
            path = export_saved_model(model, Path(tmp) / name)
            serve = tf.saved_model.load(str(path)).signatures["serving_default"]
            info = to_tflite(model, Path(tmp) / f"{name}.tflite")
            runner = Interpreter(model_path=info["path"]).get_signature_runner(
                "serving_default"
            )
            row = [name]
            for size in (1, 256):
                ids = rng.integers(0, FEATURES, size=(size, FIELDS))
                inputs = {}
                for f in range(FIELDS):  # frappe: one feature of value 1 per field
                    inputs[f"field_{f}"] = tf.constant(ids[:, f], tf.int64)
                    inputs[f"field_{f}_value"] = tf.ones([size])
                row += percentiles(lambda s=serve, x=inputs: s(**x), args.calls)
            one = {k: v[:1, None] for k, v in inputs.items()}
            edge = {k: v.numpy() for k, v in edge_inputs(model, one).items()}
            row += percentiles(lambda r=runner, x=edge: r(**x), args.calls)
            row += [folder_bytes(path) / 1e6, info["bytes"] / 1e6]
            print(
                f"{row[0]:9}{row[1]:>10.3f}m{row[2]:>7.3f}m{row[3]:>12.3f}m"
                f"{row[4]:>7.3f}m{row[5]:>14.3f}m{row[6]:>7.3f}m"
                f"{row[7]:>8.2f}{row[8]:>11.2f}"
            )
    print("(m = milliseconds; SM = SavedModel; sizes in MB)")


if __name__ == "__main__":
    main()
