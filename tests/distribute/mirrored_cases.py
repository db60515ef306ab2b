"""Training under `tf.distribute.MirroredStrategy` on 2 logical CPU devices,
against one device; run in a process of its own (logical devices must be set
before TensorFlow starts): ``python -m tests.distribute.mirrored_cases``.

Prints one JSON line per case.
"""

import json
import sys
import tempfile
from functools import partial
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_fm.defaults import normal
from keras_fm.export import export_saved_model
from keras_fm.layers import GlobalBatchNormalization
from keras_fm.models import MODEL_DEFAULTS, compile_for_task
from keras_fm.optimizers import LazyAdam, SparseAdagrad, SparseFtrl
from tests.models.test_models import SMALL, batch, build

OPTIMIZERS = {
    "adam": lambda: keras.optimizers.Adam(0.01),
    "lazy_adam": lambda: LazyAdam(0.01),
    "sparse_adagrad": lambda: SparseAdagrad(0.1),
    "sparse_ftrl": lambda: SparseFtrl(0.1),
}
ROWS, GLOBAL_BATCH = 64, 16


def dataset(reverse=False):
    """Ragged string lists, ids and numbers in batches of 16 (8 per replica);
    with ``reverse`` the rows of each batch in reverse order."""
    x = batch(ROWS, seed=1)
    y = np.random.default_rng(2).integers(0, 2, size=(ROWS, 1)).astype("float32")
    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
    if not reverse:
        return batches
    flip = lambda t: tf.gather(t, tf.range(tf.shape(t)[0] - 1, -1, -1))  # noqa: E731
    return batches.map(lambda x, y: (tf.nest.map_structure(flip, x), flip(y)))


def exact_options(name):
    """No dropout (its masks differ per replica), and vectors of N(0, 0.05):
    with the deep models' N(0, 1e-4) the pooled vector of NFM varies by
    ~1e-8, far below batch norm's epsilon, and its two batch norms amplify
    float rounding of any summation order to 1e-2 in 4 steps. The DNN in
    float32 ("auto" is bfloat16 on CPUs with its units, whose rounding
    differs between the fused kernel of one device and the replicas'
    all-reduced statistics)."""
    dropouts = ("dropout", "attention_dropout")
    options = {k: 0.0 for k in dropouts if k in MODEL_DEFAULTS[name]}
    if "dnn_dtype" in MODEL_DEFAULTS[name]:
        options["dnn_dtype"] = "float32"
    return {**options, "embeddings_initializer": normal(0.05)}


def compiled(name, optimizer, strategy):
    """A model and its optimizer, built under ``strategy`` from seed 0."""
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = build(name, **exact_options(name))
        compile_for_task(model, "binary", OPTIMIZERS[optimizer]())
        model.optimizer.build(model.trainable_variables)
    return model


def state(model):
    """The model's weights and its optimizer's variables."""
    return model.get_weights(), [v.numpy() for v in model.optimizer.variables]


def restore(model, saved):
    weights, slots = saved
    model.set_weights(weights)
    for variable, value in zip(model.optimizer.variables, slots, strict=True):
        variable.assign(value)


def trained(model, reverse=False):
    """The weights and loss after one epoch (4 steps)."""
    history = model.fit(dataset(reverse), epochs=1, verbose=0, shuffle=False)
    return model.get_weights(), history.history["loss"][0]


def largest(first, second):
    """The largest absolute difference between two lists of weights."""
    return max(float(np.max(np.abs(a - b))) for a, b in zip(first, second, strict=True))


def exactness(name, optimizer, mirrored):
    """One device, then the same start on 2 replicas; the rounding floor is
    one device again with each batch's rows reversed (the same model from
    the same state, so its traced step is reused)."""
    model = compiled(name, optimizer, tf.distribute.OneDeviceStrategy("/cpu:0"))
    start = state(model)
    alone, loss_one = trained(model)
    restore(model, start)
    reordered, _ = trained(model, reverse=True)
    two = compiled(name, optimizer, mirrored)
    restore(two, start)
    together, loss_two = trained(two)
    return {
        "case": "exact", "model": name, "optimizer": optimizer,
        "replicas": two.distribute_strategy.num_replicas_in_sync,
        "moved": largest(start[0], alone),
        "difference": largest(alone, together),
        "rounding": largest(alone, reordered),
        "losses": [loss_one, loss_two],
    }  # fmt: skip


def every_model(mirrored):
    """Every zoo model built in the scope with compile_for_task's defaults
    (its optimizer made there): one epoch of 4 steps on 2 replicas."""
    moved = {}
    for name in sorted(SMALL):
        with mirrored.scope():
            model = build(name)
            compile_for_task(model)
        start = model.get_weights()
        loss = model.fit(dataset(), epochs=1, verbose=0).history["loss"][0]
        moved[name] = largest(start, model.get_weights()) if np.isfinite(loss) else 0.0
    return {"case": "every_model", "moved": moved}


def defaults(mirrored, folder):
    """compile_for_task's defaults: fit, evaluate, predict, save, reload, export."""
    with mirrored.scope():
        model = build("deepfm")
        compile_for_task(model)
    model.fit(dataset(), epochs=2, verbose=0)
    scores = model.evaluate(dataset(), verbose=0, return_dict=True)
    predicted = model.predict(dataset(), verbose=0)
    model.save(folder / "model.keras")
    reloaded = keras.saving.load_model(folder / "model.keras")
    again = reloaded.predict(dataset(), verbose=0)
    version = export_saved_model(model, folder / "serving", 1)
    served = tf.saved_model.load(str(version)).signatures["serving_default"]
    return {
        "case": "defaults",
        "jit_compile": bool(model.jit_compile),
        "steps_per_execution": int(model.steps_per_execution),
        "auc": scores["auc"],
        "finite": bool(np.isfinite(predicted).all()),
        "reloaded_difference": float(np.max(np.abs(predicted - again))),
        "signature_inputs": sorted(served.structured_input_signature[1]),
    }


def outside_scope(mirrored):
    """Optimizers made outside the scope the model was built in: refused by
    name for every optimizer; with none given, compile_for_task makes the
    default one in the model's scope even when called outside it. Grouped
    steps, on which Keras 3's fit fails under the strategy, are refused; one
    step per call given explicitly is taken."""
    refused = {}
    for name, make in OPTIMIZERS.items():
        optimizer = make()
        with mirrored.scope():
            model = build("fm")
        try:
            compile_for_task(model, "binary", optimizer)
        except ValueError as error:
            refused[name] = "strategy.scope()" in str(error)
    with mirrored.scope():
        model = build("fm")
    try:
        compile_for_task(model, steps_per_execution=32)
        grouped = "accepted"
    except ValueError as error:
        grouped = str(error)
    compile_for_task(model, steps_per_execution=1)  # outside the scope
    history = model.fit(dataset(), epochs=2, verbose=0)
    return {
        "case": "outside_scope",
        "refused": refused,
        "grouped_steps": grouped,
        "losses": history.history["loss"],
        "replicas": model.distribute_strategy.num_replicas_in_sync,
    }


def global_batch_norm(mirrored):
    """Training outputs of batch norm on 2 replicas of 8 rows each against one
    device on the 16 rows, for a feature of mean 1e4 and spread 1."""
    rng = np.random.default_rng(3)
    x = (1e4 + rng.normal(size=(16, 3))).astype("float32")
    alone = keras.layers.BatchNormalization(epsilon=1e-5)(x, training=True)
    halves = mirrored.experimental_distribute_values_from_function(
        lambda context: x[8 * context.replica_id_in_sync_group :][:8]
    )
    outputs = {}
    for name, make in (
        ("global", lambda: GlobalBatchNormalization(epsilon=1e-5)),
        ("keras_synchronized", lambda: keras.layers.BatchNormalization(
            epsilon=1e-5, synchronized=True)),
    ):  # fmt: skip
        with mirrored.scope():
            layer = make()
            layer.build((None, 3))
        per_replica = mirrored.run(partial(layer, training=True), (halves,))
        together = np.concatenate(mirrored.experimental_local_results(per_replica))
        outputs[name] = float(np.max(np.abs(together - np.asarray(alone))))
    return {"case": "global_batch_norm", **outputs}


def main(cases):
    # Graph optimizations cost a fifth of each case's time (they are
    # instantiated for every traced step) and change no result here.
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    cpu = tf.config.list_physical_devices("CPU")[0]  # before TensorFlow starts
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    for case in cases:
        if case == "defaults":
            with tempfile.TemporaryDirectory() as folder:
                result = defaults(mirrored, Path(folder))
        elif case == "global_batch_norm":
            result = global_batch_norm(mirrored)
        elif case == "outside_scope":
            result = outside_scope(mirrored)
        elif case == "every_model":
            result = every_model(mirrored)
        else:
            name, optimizer = case.split(":")
            result = exactness(name, optimizer, mirrored)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or [f"{name}:adam" for name in sorted(SMALL)])
