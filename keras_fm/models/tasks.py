"""What a model predicts and how it is trained, per task."""

import logging
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_fm.distribute import (
    check_grouped_steps,
    compile_settings,
    prepare_for_strategy,
    replicas,
    worker_count,
)
from keras_fm.models.dnn_precision import no_gpu
from keras_fm.models.output_range import OutputRange
from keras_fm.models.table_penalties import place_table_penalties
from keras_fm.optimizers.sparse_rows import RowSparseMixin
from keras_fm.registration import register

TASKS = ("binary", "regression")
# Models with a table of this many entries or more train outside XLA where
# the native ops serve them (`_native_tables`): 2**26, between the 1e6-id
# tables of k=16 (1.6e7 entries), faster under XLA, and the 1e7-id ones
# (1.6e8), faster without it.
NATIVE_STEP_ENTRIES = 1 << 26
logger = logging.getLogger("keras_fm")


def check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"`task` must be one of {TASKS}. Received: task={task!r}")


def prediction_head(
    logit: Any, task: str, output_range: Sequence[float] | None = None
) -> Any:
    """The model's output ``prediction`` from its ``logit`` (a `(batch, 1)` score).

    Binary: the sigmoid of the logit (the click probability). Regression: the
    score itself, clipped to ``output_range`` when given.
    """
    check_task(task)
    if task == "binary":
        if output_range is not None:
            raise ValueError("`output_range` applies to regression only.")
        return keras.layers.Activation("sigmoid", name="prediction")(logit)
    if output_range is None:
        return keras.layers.Identity(name="prediction")(logit)
    low, high = output_range
    return OutputRange(low, high, name="prediction")(logit)


@register
def log_loss(y_true: Any, y_pred: Any) -> Any:
    """Binary log loss per example; labels `(batch,)` or `(batch, 1)` alike."""
    y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), ops.shape(y_pred))
    return keras.losses.binary_crossentropy(y_true, y_pred)


def task_loss(task: str) -> Any:
    """The loss a task trains with: log loss (binary) or mean squared error.

    Args:
        task: `"binary"` or `"regression"`.

    Returns:
        A `keras.losses.Loss` named ``logloss`` or ``mse``.
    """
    check_task(task)
    if task == "binary":
        return keras.losses.BinaryCrossentropy(name="logloss")
    return keras.losses.MeanSquaredError(name="mse")


def task_metrics(task: str) -> list[Any]:
    """Binary: AUC and log loss. Regression: RMSE.

    Args:
        task: `"binary"` or `"regression"`.

    Returns:
        A list of fresh `keras.metrics` objects.
    """
    check_task(task)
    if task == "binary":
        return [
            keras.metrics.AUC(num_thresholds=2000, name="auc"),
            keras.metrics.MeanMetricWrapper(log_loss, name="logloss"),
        ]
    return [keras.metrics.RootMeanSquaredError(name="rmse")]


# Tables up to this many entries train with dense Adam (a dense update of a
# small table is cheaper than deduplicating the rows of a batch); larger ones
# with LazyAdam, which moves only the rows a batch uses; both under XLA when
# the model can be compiled. Measured on 2 cores (FM k=16, batch 4096, 32
# steps per call, under XLA, one run each): 1e4 ids (1.7e5 entries) dense
# 1.67M ex/s vs lazy 1.45M; 3e4 ids 1.37M vs 1.39M; 1e5 ids (1.7e6 entries)
# 0.85M vs 1.23M. The bound stays where it was set before LazyAdam ran under
# XLA, so that tables of up to 2e6 entries keep the optimizer (and accuracy)
# they had; between 5e5 and 2e6 entries, LazyAdam is up to 1.45x faster.
DENSE_UPDATE_ENTRIES = 2_000_000

# Training, evaluation and prediction steps run per call into TensorFlow
# (`model.compile`'s ``steps_per_execution``): Keras's Python work between
# two steps costs as much as a whole step of a small model. Measured on 2
# cores (FM k=16, 1e4 ids, batch 4096, Adam under XLA, two runs each): 1
# step 0.67-0.95M ex/s; 8: 1.83-1.98M; 32: 1.60-1.86M; 128: 2.06-2.10M.
# Large tables train in groups too, with or without XLA (FM, 1e7 ids under
# XLA: 0.53M ex/s against 0.41M one step per call; DeepFM, 1e7 ids, without
# XLA: 121k against 113k, in one process, alternating epochs). Grouped
# steps without XLA once held a second copy of a large table (FM, 1e7 ids:
# peak 3.33 GB against 2.71 GB); since the layers read tables by sparse
# reads (`keras_fm.sparse_read`) they do not (FM at 1e7 ids without XLA:
# peak 2,792 MB grouped against 2,785 one step per call). Batch callbacks run
# after each group of steps; epoch-level ones (early stopping,
# learning-rate decay, checkpoints) are unaffected.
STEPS_PER_EXECUTION = 32


def table_entries(model: keras.Model) -> int:
    """Entries of the model's embedding and first-order tables (rows x width).

    Args:
        model: the model.

    Returns:
        The entries of its `FieldEmbedding`, `FieldAwareEmbedding` and
        `SparseFM` tables, each table counted once.
    """
    return sum(_table_sizes(model))


def _table_sizes(model: keras.Model) -> list[int]:
    """The entries of each of `table_entries`'s tables."""
    from keras_fm.layers import SparseFM
    from keras_fm.layers.field_input_layer import FieldInputLayer

    tables = {
        id(weight): int(np.prod(weight.shape))
        for layer in model._flatten_layers()
        if isinstance(layer, (FieldInputLayer, SparseFM))
        for weight in layer.trainable_weights
        if len(weight.shape) > 0
    }
    return list(tables.values())


def _compilable(model: keras.Model) -> bool:
    """Whether XLA can compile the model: dense inputs, compilable layers."""
    if any(
        getattr(tensor, "ragged", False) or getattr(tensor, "sparse", False)
        for tensor in model.inputs or ()
    ):
        return False
    return all(layer.supports_jit for layer in model._flatten_layers())


def _bfloat16_products_on_cpu(model: keras.Model) -> bool:
    """Whether ``model`` has `Dense` layers computing in bfloat16 and no GPU
    runs them: TensorFlow's oneDNN kernels multiply them on the CPU's
    bfloat16 units, XLA's CPU matmul does not (about 4.5x slower, see
    `keras_fm.models.dnn_precision`)."""
    return no_gpu() and any(
        isinstance(layer, keras.layers.Dense) and layer.compute_dtype == "bfloat16"
        for layer in model._flatten_layers()
    )


def model_task(model: keras.Model) -> str | None:
    """The task a model was built for, read from its ``prediction`` layer.

    A builder's model ends in a layer named ``prediction``: a sigmoid for
    `"binary"`, the identity or an `OutputRange` for `"regression"`.

    Args:
        model: the model.

    Returns:
        `"binary"`, `"regression"`, or None for a model without such a layer.
    """
    try:
        head = model.get_layer("prediction")
    except ValueError:
        return None
    if isinstance(head, keras.layers.Activation):
        activation = keras.activations.serialize(head.activation)
        name = activation if isinstance(activation, str) else activation.get("config")
        return "binary" if name == "sigmoid" else None
    if isinstance(head, (keras.layers.Identity, OutputRange)):
        return "regression"
    return None


def default_optimizer(
    model: keras.Model, learning_rate: float | None = None
) -> tuple[keras.optimizers.Optimizer, Any]:
    """The optimizer and ``jit_compile`` that train ``model`` fastest.

    Small tables (at most `DENSE_UPDATE_ENTRIES` entries in all): stock
    `keras.optimizers.Adam`. Larger tables: `keras_fm.optimizers.LazyAdam`,
    whose steps cost the batch's rows rather than the tables'. Both under
    XLA (``jit_compile=True``; Keras's ``"auto"`` leaves XLA off on CPU)
    unless `xla_by_default` says no: a layer cannot be compiled (e.g. a
    string lookup), an input is ragged or sparse (XLA takes dense tensors
    only), the model was built under a strategy of several replicas, or a
    table has `NATIVE_STEP_ENTRIES` entries or more (2**26), which
    `keras_fm.native`'s ops serve outside XLA.

    Args:
        model: the model.
        learning_rate: Adam's learning rate. Defaults to the model's in
            `TRAINING_DEFAULTS` (found by the model's name, as the builders
            give it: 1e-2 for FM, FFM and HOFM, 1e-3 for the deep models and
            for models of other names).

    Returns:
        ``(optimizer, jit_compile)``.
    """
    from keras_fm.defaults import training_defaults
    from keras_fm.optimizers import LazyAdam

    if learning_rate is None:
        learning_rate = training_defaults(model.name)["learning_rate"]
    jit_compile = xla_by_default(model)
    if table_entries(model) <= DENSE_UPDATE_ENTRIES:
        return keras.optimizers.Adam(learning_rate), jit_compile
    return LazyAdam(learning_rate), jit_compile


def xla_by_default(model: keras.Model) -> bool:
    """Whether ``model`` trains under XLA by default: it can be compiled
    (dense inputs, compilable layers), was not built under a strategy of
    several replicas, has no bfloat16 `Dense` layers on a CPU (a deep
    model's DNN on CPUs with bfloat16 units, `keras_fm.models.dnn_precision`)
    and no table that `keras_fm.native`'s gather and row updates serve
    (`_native_tables`), which XLA cannot run.

    Args:
        model: the model.

    Returns:
        The default ``jit_compile`` of `compile_for_task` for the model with
        its default optimizer or one of `keras_fm.optimizers`.
    """
    return (
        _compilable(model)
        and compile_settings(model) is None
        and not _bfloat16_products_on_cpu(model)
        and not _native_tables(model)
    )


def _native_tables(model: keras.Model) -> bool:
    """Whether a table of ``model`` has `NATIVE_STEP_ENTRIES` entries or
    more, with no GPU, where `keras_fm.native`'s gather and row updates build.

    Such tables train faster outside XLA, by the native gather and one-pass
    row updates, and XLA's compilation leaves memory behind in the process's
    allocator (about 70 MB each, one more for a file's last, shorter batch)
    on top of tables that already fill it. Measured on 2 AMD EPYC cores (FM
    k=16, `examples/benchmarks/throughput.py`'s measurement, one process
    each, alternating, two sessions of 5 runs each): at 1e7 ids (1.6e8
    entries) without XLA medians of 565k and 573k examples/s (450k-709k)
    against 527k and 469k (376k-696k) under it, peak memory 2,790-2,794 MB
    (1.44x the weights and slots) against 2,982-3,019 (1.53-1.55x); at 1e6
    ids (1.6e7 entries) XLA was the faster, 586k-1,057k (median 813k of 5)
    against 544k-747k (593k) without it.
    """
    from keras_fm import native
    from keras_fm.native import row_reads

    if not no_gpu() or max(_table_sizes(model), default=0) < NATIVE_STEP_ENTRIES:
        return False
    return native.row_ops() is not None and row_reads.read_ops() is not None


def check_optimizer_strategy(optimizer: Any, model: keras.Model) -> None:
    """Fails clearly when ``optimizer`` belongs to another strategy than ``model``.

    A TensorFlow optimizer keeps the strategy current when it was created;
    one created outside the scope a model was built in fails in ``fit`` with
    TensorFlow's "Mixing different tf.distribute.Strategy objects", for
    Keras's optimizers and this package's alike.

    Args:
        optimizer: a `keras.optimizers.Optimizer`.
        model: the model it is to train.

    Raises:
        ValueError: naming both strategies.
    """
    own = getattr(optimizer, "_distribution_strategy", None)
    if own is None or own is model.distribute_strategy:
        return
    raise ValueError(
        f"the optimizer {type(optimizer).__name__} was created under "
        f"{type(own).__name__} but model {model.name!r} was built under "
        f"{type(model.distribute_strategy).__name__}: create the optimizer "
        "inside the same `strategy.scope()`, or pass none (compile_for_task "
        "then creates the default one there)"
    )


def compile_for_task(
    model: keras.Model,
    task: str | None = None,
    optimizer: Any = None,
    **kwargs: Any,
) -> keras.Model:
    """Compiles ``model`` with the task's loss and metrics; returns it.

    Args:
        model: the model.
        task: `"binary"` or `"regression"`. Defaults to the task the model
            was built for (`model_task`); given, it must agree with it.
        optimizer: Defaults to `default_optimizer(model)`: Adam at the
            model's default learning rate (`TRAINING_DEFAULTS`), dense for
            small tables, row-sparse (`keras_fm.optimizers.LazyAdam`) for
            large ones. An optimizer instance must come from the scope the
            model was built in (as Keras requires under `tf.distribute`); a
            name such as `"adam"` is created there. The optimizer's slots
            are made here when the model is built. A row-sparse optimizer
            (`keras_fm.optimizers`) takes over the tables' whole-table L1/L2
            penalties (the deep models' defaults) and applies them to the
            rows each step updates, so that a step costs the batch's rows
            rather than the tables' (`place_table_penalties`); another
            optimizer gets them back on the tables.
        **kwargs: other `model.compile` arguments. ``jit_compile`` defaults
            to `xla_by_default(model)` without an ``optimizer`` or with one
            of `keras_fm.optimizers`, and to `False` with another (XLA
            makes Keras's row-sparse updates dense); with XLA, `evaluate`
            and `predict` still run without it (each new batch shape would
            cost a compilation). ``steps_per_execution`` defaults to
            `STEPS_PER_EXECUTION`: 32 steps in one call into TensorFlow (a
            smaller last group when the data runs out). For a model built inside the
            scope of a `tf.distribute` strategy of several replicas or
            workers, both default to what works there (no XLA, one step per
            call; see `keras_fm.distribute`; other ``steps_per_execution``
            are refused, as Keras 3's `fit` fails on them there,
            `keras_fm.distribute.check_grouped_steps`), the model takes ragged and
            string inputs there too (`keras_fm.distribute.prepare_for_strategy`),
            and the choice is logged (logger ``"keras_fm"``, INFO).

    Returns:
        The model, compiled.

    Raises:
        ValueError: if ``task`` is not the model's, or neither is known, or
            the optimizer was created under another strategy than the model,
            or ``steps_per_execution`` is not 1 under a strategy of several
            replicas or workers.
    """
    built_for = model_task(model)
    if task is None:
        if built_for is None:
            raise ValueError(
                f"the task of model {model.name!r} is unknown (it has no "
                "`prediction` layer of a builder): pass `task`"
            )
        task = built_for
    check_task(task)
    if built_for is not None and task != built_for:
        raise ValueError(
            f"model {model.name!r} was built for task {built_for!r}; "
            f"received task={task!r}"
        )
    distributed = compile_settings(model)
    for name, value in (distributed or {}).items():
        kwargs.setdefault(name, value)
    with model.distribute_strategy.scope():  # the optimizer's variables
        if optimizer is None:
            optimizer, jit_compile = default_optimizer(model)
            kwargs.setdefault("jit_compile", jit_compile)
        optimizer = keras.optimizers.get(optimizer)
    check_optimizer_strategy(optimizer, model)
    if isinstance(optimizer, RowSparseMixin):
        kwargs.setdefault("jit_compile", xla_by_default(model))
    kwargs.setdefault("jit_compile", False)
    kwargs.setdefault("steps_per_execution", STEPS_PER_EXECUTION)
    check_grouped_steps(model, kwargs["steps_per_execution"])
    if distributed is not None:
        prepare_for_strategy(model)
        logger.info(
            "keras_fm: %s trains on %d replicas of %d worker(s) with %s, "
            "jit_compile=%s, steps_per_execution=%s",
            model.name, replicas(model), worker_count(model.distribute_strategy),
            type(optimizer).__name__, kwargs["jit_compile"],
            kwargs["steps_per_execution"],
        )  # fmt: skip
    model.compile(
        optimizer=optimizer,
        loss=task_loss(task),
        metrics=task_metrics(task),
        **kwargs,
    )
    if model.jit_compile:
        _evaluate_without_xla(model)
    if model.built:
        place_table_penalties(model, model.optimizer)
    if model.built and not model.optimizer.built:
        # Now rather than in `fit`, whose first step leaves a table-sized
        # temporary in the process's memory when the slots are made there
        # (FM, 1e7 ids: peak 3.65 GB against 3.04 GB).
        with model.distribute_strategy.scope():
            model.optimizer.build(model.trainable_variables)
    return model


def _evaluate_without_xla(model: keras.Model) -> None:
    """Makes the model's evaluation and prediction functions without XLA;
    training keeps it.

    XLA compiles a step anew for each batch shape it meets, 1-2 s each on 2
    CPU cores for an FM, and a file's last, smaller batch is a new shape:
    validation and test files added three compilations to the first epoch.
    A forward pass gains little from XLA: on frappe's raw rows (FM, k = 64)
    the first epoch took 7.1 s instead of 10.0 s and later epochs, each with
    its validation pass, the same 1.3-1.5 s.
    """
    model.jit_compile = False
    model.make_test_function()
    model.make_predict_function()
    model.jit_compile = True
