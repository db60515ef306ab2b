"""Training and prediction throughput of the model zoo, next to plain Keras.

Each row trains a model with the library's real path: `model.fit` on the
tf.data reader of a libsvm file (`DataFormat` with fields by position and
``cache=True``, so epochs after the first skip text parsing), the models of
`keras_fm.models` compiled by `compile_for_task` with its defaults. The
baseline is the plain Keras 3 model a user would write (one
`keras.layers.Embedding` over the field ids, the FM sum-of-squares in
`keras.ops`, `keras.layers.Dense` for the DNN, stock `keras.optimizers.Adam`,
`model.compile` defaults, which leave XLA off on CPU) on the same batches.
Each configuration runs in its own process, so that its peak resident memory
is its own.

First lines: the machine (CPU, cores this process may use, vector
extensions) and its matrix-multiply ceilings (4096 x 4096 matmuls in
TensorFlow, float32 and bfloat16, GFLOP/s, median of 5).

Columns: train examples/s (median of 3 epochs after a warm-up epoch) and
their spread ((max - min) / median of the 3), predict examples/s, the
process's peak resident memory when training ends ("train MB") and at the
end, after `predict` ("peak MB": Keras builds 32 grouped prediction steps
into one graph, whose steps TensorFlow may run side by side), the bytes of
the model's weights plus optimizer slots ("state MB") and the ratios of the
two peaks to it, the train speed as a ratio to the
baseline on the same data, the fraction of the matmul ceiling the training
reaches (the dense layers' and CIN's multiply-adds, 3x the forward pass's
for forward and backward, against the ceiling of the dtype the DNN computes
in; none for the FMs), the "matmul bound" (the examples/s of a step that
did nothing but its matmuls: each dense layer's and CIN's forward product
and the two of its backward pass, timed alone at the batch's shapes in the
layer's dtype) and the fraction of it the training reaches, and the
optimizer (`compile_for_task`'s default for
the model's table size, "+ XLA" when compiled with XLA, "bfloat16 DNN" when
the deep models' default ``dnn_dtype="auto"`` chose bfloat16).

Data: frappe's training file (202,027 rows, 10 fields, 5,382 ids; from
../shared/data, see its SOURCE.md) and generated rows (10 fields, ids drawn
from a Zipf law over 1e4, 1e6 or 1e7 ids, written once as libsvm). The
"per-feature" rows read the same file into ten `IdFeature`s of their own
vocabulary (one table each, as `adapt` gives CSV columns) instead of one
table shared by position.

Usage: python examples/benchmarks/throughput.py [--only NAME,...] [--rows N]
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FIELDS = 10
FRAPPE_IDS = 5382
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
FRAPPE = DATA / "frappe" / "frappe.train.reconstructed.libfm"

# (name, model, data, settings); data is "frappe" or a vocabulary size.
CONFIGS = [
    ("keras FM k=64", "keras_fm", "frappe", {"k": 64}),
    ("FM k=64", "fm", "frappe", {"embedding_dim": 64}),
    ("FM k=10", "fm", "frappe", {"embedding_dim": 10}),
    ("FFM k=10", "ffm", "frappe", {"embedding_dim": 10}),
    ("keras DeepFM", "keras_deepfm", "frappe", {"k": 10}),
    ("DeepFM", "deepfm", "frappe", {"embedding_dim": 10}),
    ("xDeepFM", "xdeepfm", "frappe", {"embedding_dim": 10}),
]
for _ids in (10_000, 1_000_000, 10_000_000):
    CONFIGS += [
        (f"keras FM 1e{len(str(_ids)) - 1}", "keras_fm", _ids, {"k": 16}),
        (f"FM 1e{len(str(_ids)) - 1}", "fm", _ids, {"embedding_dim": 16}),
        (f"keras DeepFM 1e{len(str(_ids)) - 1}", "keras_deepfm", _ids, {"k": 16}),
        (f"DeepFM 1e{len(str(_ids)) - 1}", "deepfm", _ids, {"embedding_dim": 16}),
    ]
for _ids in (1_000_000, 10_000_000):
    CONFIGS.append(
        (f"FM 1e{len(str(_ids)) - 1} per-feature", "fm", _ids,
         {"embedding_dim": 16, "per_feature": True})
    )  # fmt: skip
MODEL_SETTINGS = {
    "deepfm": {"dnn_units": (400, 400, 400)},
    "xdeepfm": {"dnn_units": (400, 400, 400), "cin_layer_sizes": (16, 16)},
}


def generated_file(folder, num_ids, rows, seed=0):
    """``rows`` libsvm lines of FIELDS one-hot ids (a Zipf law per field)."""
    path = Path(folder) / f"generated_{num_ids}.libsvm"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    per_field = num_ids // FIELDS
    ranks = np.minimum(rng.zipf(1.1, size=(rows, FIELDS)) - 1, per_field - 1)
    # Scatter the popular ranks over the field's ids.
    permutation = rng.permutation(per_field)
    ids = permutation[ranks] + np.arange(FIELDS) * per_field
    weights = rng.normal(size=FIELDS)
    labels = (np.sin(ids * 0.001) @ weights + rng.normal(size=rows)) > 0
    with open(path, "w") as handle:
        for label, row in zip(labels, ids, strict=True):
            handle.write(f"{int(label)} " + " ".join(f"{i}:1" for i in row) + "\n")
    return path


def per_feature(dataset, num_ids):
    """The generated rows as ten `IdFeature`s with a table each: each
    field's ids counted from 0 within the field, no value input."""
    import tensorflow as tf

    from keras_fm.features import IdFeature

    per_field = num_ids // FIELDS
    specs = [IdFeature(f"field_{f}", per_field) for f in range(FIELDS)]

    def local(features, labels):
        ids = {
            f"field_{f}": features[f"field_{f}"] - f * per_field for f in range(FIELDS)
        }
        return ids, labels

    return specs, dataset.map(local, num_parallel_calls=tf.data.AUTOTUNE).cache()


def training_flops(model):
    """Multiply-adds of the model's dense layers and CIN per example, as
    FLOPs of a training step (forward and backward: 3 x 2 x multiply-adds)."""
    import keras

    from keras_fm.layers import CIN

    multiply_adds = 0
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.Dense):
            multiply_adds += int(np.prod(layer.kernel.shape))
        elif isinstance(layer, CIN):
            dim = layer.input.shape[-1] if hasattr(layer, "input") else 1
            kernels = [w for w in layer.weights if "kernel" in w.path]
            multiply_adds += dim * sum(int(np.prod(w.shape)) for w in kernels)
    return 6 * multiply_adds


def matmul_shapes(model, batch):
    """The ``(m, k, n, dtype)`` products of the model's dense layers and CIN
    for a batch (forward, as ``(m, k) x (k, n)``, in the layer's dtype)."""
    import keras

    from keras_fm.layers import CIN

    shapes = []
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.Dense):
            rows, units = layer.kernel.shape
            shapes.append((batch, rows, units, layer.compute_dtype))
        elif isinstance(layer, CIN):
            _, fields, dim = layer.input.shape
            maps = fields
            for size in layer.layer_sizes:
                shapes.append((batch * dim, maps * fields, size, "float32"))
                maps = size // 2 if layer.split_half else size
    return shapes


def matmul_bound(model, batch=4096):
    """The examples/s a training step of the model would reach if it did
    nothing but its matmuls: each dense layer's (and CIN's) forward product
    and the two of its backward pass, timed alone in TensorFlow at the
    batch's shapes and the layer's dtype (median of 5). None without any."""
    import tensorflow as tf

    seconds = 0.0
    for m, k, n, dtype in matmul_shapes(model, batch):
        x = tf.cast(tf.random.normal((m, k)), dtype)
        w = tf.cast(tf.random.normal((k, n)), dtype)
        dy = tf.cast(tf.random.normal((m, n)), dtype)
        products = tf.function(
            lambda x, w, dy: (
                tf.matmul(x, w),
                tf.matmul(dy, w, transpose_b=True),
                tf.matmul(x, dy, transpose_a=True),
            )
        )
        products(x, w, dy)[0].numpy()
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(10):
                outputs = products(x, w, dy)
            _ = [output.numpy() for output in outputs]
            times.append((time.perf_counter() - start) / 10)
        seconds += float(np.median(times))
    return batch / seconds if seconds else None


def matmul_ceiling(dtype="float32"):
    """TensorFlow's matmul speed here: GFLOP/s of 4096 x 4096, median of 5."""
    import tensorflow as tf

    a = tf.cast(tf.random.normal((4096, 4096)), dtype)
    product = tf.function(lambda x: tf.matmul(x, x))
    product(a).numpy()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        product(a).numpy()
        times.append(time.perf_counter() - start)
    return 2 * 4096**3 / float(np.median(times)) / 1e9


def machine():
    """The CPU's name, the cores this process may use, its vector extensions."""
    import os

    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    name = next(
        (line.split(":", 1)[1].strip() for line in info.splitlines()
         if line.startswith("model name")),
        "unknown CPU",
    )  # fmt: skip
    flags = next(
        (line.split(":", 1)[1].split() for line in info.splitlines()
         if line.startswith("flags")),
        [],
    )  # fmt: skip
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile")
    extensions = [flag for flag in wanted if flag in flags]
    return f"{name}, {len(os.sched_getaffinity(0))} cores, {' '.join(extensions)}"


def keras_baseline(kind, num_ids, k):
    """The plain Keras 3 model: one Embedding table, stock Adam, defaults."""
    import keras
    from keras import ops

    inputs = {}
    for field in range(FIELDS):
        inputs[f"field_{field}"] = keras.Input((), dtype="int64", name=f"field_{field}")
        inputs[f"field_{field}_value"] = keras.Input((), name=f"field_{field}_value")
    ids = ops.stack([inputs[f"field_{f}"] for f in range(FIELDS)], axis=1)
    vectors = keras.layers.Embedding(num_ids, k)(ids)  # (B, F, k)
    linear = ops.sum(keras.layers.Embedding(num_ids, 1)(ids), axis=1)
    square_of_sum = ops.square(ops.sum(vectors, axis=1))
    sum_of_squares = ops.sum(ops.square(vectors), axis=1)
    pairs = 0.5 * ops.sum(square_of_sum - sum_of_squares, axis=1, keepdims=True)
    logit = linear + pairs
    if kind == "keras_deepfm":
        hidden = keras.layers.Flatten()(vectors)
        for _ in range(3):
            hidden = keras.layers.Dense(400, activation="relu")(hidden)
        logit = logit + keras.layers.Dense(1)(hidden)
    outputs = keras.layers.Activation("sigmoid")(keras.layers.Dense(1)(logit))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
    return model


def measure(config, folder, rows):
    """Runs one configuration; returns its figures (in the child process)."""
    import keras

    from keras_fm.data.formats import DataFormat
    from keras_fm.models import BUILDERS, compile_for_task

    _, model_name, data, settings = config
    if data == "frappe":
        path, num_ids = FRAPPE, FRAPPE_IDS
    else:
        path, num_ids = generated_file(folder, data, rows), data
    data_format = DataFormat(
        "libsvm", num_features=num_ids, num_fields=FIELDS, fields_by_position=True
    )
    dataset = data_format.read(path, "binary", 4096, cache=True)
    settings = dict(settings)
    specs = data_format.feature_specs(dataset)
    if settings.pop("per_feature", False):
        specs, dataset = per_feature(dataset, num_ids)
    examples = sum(int(labels.shape[0]) for _, labels in dataset)  # fills the cache
    keras.utils.set_random_seed(0)
    if model_name.startswith("keras_"):
        model = keras_baseline(model_name, num_ids + 1, settings["k"])
    else:
        kwargs = {**MODEL_SETTINGS.get(model_name, {}), **settings}
        model = BUILDERS[model_name](specs, task="binary", **kwargs)
        compile_for_task(model, "binary")
    model.fit(dataset, epochs=1, verbose=0)  # warm-up: tracing, slots
    times = []
    for _ in range(3):
        start = time.perf_counter()
        model.fit(dataset, epochs=1, verbose=0)
        times.append(time.perf_counter() - start)
    train_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model.predict(dataset, verbose=0)  # warm-up: tracing of each group of steps
    start = time.perf_counter()
    model.predict(dataset, verbose=0)
    predict_seconds = time.perf_counter() - start
    state = sum(int(np.prod(v.shape)) * 4 for v in model.optimizer.variables)
    state += sum(int(np.prod(v.shape)) * 4 for v in model.weights)
    dnn_dtype = {
        layer.compute_dtype
        for layer in model._flatten_layers()
        if isinstance(layer, keras.layers.Dense) and layer.name.startswith("dnn_dense")
    }
    return {
        "dnn_dtype": "bfloat16" if "bfloat16" in dnn_dtype else "float32",
        "train": examples / float(np.median(times)),
        "spread": (max(times) - min(times)) / float(np.median(times)),
        "flops": training_flops(model),
        "bound": matmul_bound(model),
        "predict": examples / predict_seconds,
        "train_peak_mb": train_peak,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "state_mb": state / 2**20,
        "optimizer": type(model.optimizer).__name__
        + (" + XLA" if model.jit_compile else "")
        + (", bfloat16 DNN" if "bfloat16" in dnn_dtype else ""),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated row names")
    parser.add_argument("--rows", type=int, default=400_000, help="generated rows")
    parser.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--ceiling", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(CONFIGS[args.one], args.folder, args.rows)))
        return
    if args.ceiling:
        print(json.dumps({d: matmul_ceiling(d) for d in ("float32", "bfloat16")}))
        return
    wanted = {name for name in args.only.split(",") if name}
    print(f"machine: {machine()}", flush=True)
    ceiling = json.loads(
        subprocess.run(
            [sys.executable, __file__, "--ceiling"], capture_output=True, text=True,
            check=True,
        ).stdout.strip().splitlines()[-1]
    )  # fmt: skip
    print(
        f"matmul ceiling (4096 x 4096): {ceiling['float32']:.0f} GFLOP/s in float32, "
        f"{ceiling['bfloat16']:.0f} in bfloat16",
        flush=True,
    )
    header = (
        f"{'model':26}{'ids':>10}{'train ex/s':>12}{'spread':>8}{'predict ex/s':>14}"
        f"{'train MB':>9}{'peak MB':>9}{'state MB':>10}{'train/state':>12}"
        f"{'peak/state':>11}{'vs keras':>10}"
        f"{'of ceiling':>12}{'matmul bound':>14}{'of bound':>10}  optimizer"
    )
    print(header, flush=True)
    baseline = {}
    with tempfile.TemporaryDirectory() as folder:
        for index, config in enumerate(CONFIGS):
            name, model_name, data, _ = config
            if wanted and name not in wanted:
                continue
            if data == "frappe" and not FRAPPE.exists():
                print(f"{name:20} skipped: frappe is absent ({FRAPPE})", flush=True)
                continue
            result = subprocess.run(
                [sys.executable, __file__, "--one", str(index), "--folder", folder,
                 "--rows", str(args.rows)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if result.returncode:
                print(f"{name:20} failed: {result.stderr.strip()[-300:]}", flush=True)
                continue
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            family = "deepfm" if "deepfm" in model_name else "fm"
            key = (data, family)
            if model_name.startswith("keras_"):
                baseline[key] = figures["train"]
            ratio = figures["train"] / baseline[key] if key in baseline else None
            ids = FRAPPE_IDS if data == "frappe" else data
            print(row(name, ids, figures, ratio, ceiling), flush=True)


def row(name, ids, figures, ratio, ceiling):
    """One line of the table."""
    state = figures["state_mb"]
    flops = figures["flops"] * figures["train"]
    fraction = flops / (ceiling[figures.get("dnn_dtype", "float32")] * 1e9)
    # The bound of a model whose matmuls are a rounding error (an FM's
    # output layer) would only say so.
    bound = figures.get("bound") if fraction >= 0.005 else None
    share = figures["train"] / bound if bound else None
    return (
        f"{name:26}{ids:>10}{figures['train']:>12,.0f}{figures['spread']:>8.1%}"
        f"{figures['predict']:>14,.0f}{figures['train_peak_mb']:>9,.0f}"
        f"{figures['peak_mb']:>9,.0f}{state:>10,.0f}"
        f"{figures['train_peak_mb'] / max(state, 1):>12.2f}"
        f"{figures['peak_mb'] / max(state, 1):>11.2f}"
        f"{(f'{ratio:.2f}x' if ratio else '-'):>10}"
        f"{(f'{fraction:.0%}' if fraction >= 0.005 else '-'):>12}"
        f"{(f'{bound:,.0f}' if bound else '-'):>14}"
        f"{(f'{share:.0%}' if bound else '-'):>10}"
        f"  {figures['optimizer']}"
    )


if __name__ == "__main__":
    main()
