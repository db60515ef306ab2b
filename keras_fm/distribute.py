"""Training under `tf.distribute`: what changes, and Keras 3's gaps filled.

keras_fm trains with TensorFlow's own engine: a model built inside
``strategy.scope()`` of `tf.distribute.MirroredStrategy` (several GPUs, or
logical CPU devices) or `tf.distribute.MultiWorkerMirroredStrategy` (several
processes or hosts, from ``TF_CONFIG``) is trained by `model.fit` as usual.
Keras splits every batch of the dataset, the *global* batch, across the
replicas and sums their gradients; with the loss and every added loss divided
by the number of replicas, N replicas leave the same weights as one device
on the same global batch (tested for every model and optimizer of the
package). So:

- the batch size is the global batch (a replica sees ``batch / N`` rows),
  and the learning rate needs no change for the same global batch;
- ``embeddings_l2`` (the L2 on the vectors of each batch) is divided by the
  global batch, as on one device;
- batch norm in the deep models uses the global batch's statistics.

`compile_for_task` turns XLA off and runs one step per call under a strategy
of several replicas: with Keras 3 and TensorFlow 2.21 grouped steps fail
under `MirroredStrategy` (a feed error in ``multi_step_on_iterator``), and
XLA fails for variables placed on a second device.
"""

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from typing import Any

import keras
import tensorflow as tf

logger = logging.getLogger("keras_fm")

STRATEGIES = ("mirrored", "multi-worker")


def make_strategy(kind: str | None, devices: int | None = None) -> Any:
    """The strategy of ``keras-fm train --distribute kind [--devices N]``.

    Call it before TensorFlow runs anything (logical devices and a cluster
    can only be set up first).

    Args:
        kind: None (one device), `"mirrored"` or `"multi-worker"`.
        devices: with `"mirrored"`, N logical CPU devices instead of the
            local GPUs.

    Returns:
        The strategy: TensorFlow's default one for ``kind=None``, a
        `tf.distribute.MirroredStrategy`, or a
        `tf.distribute.MultiWorkerMirroredStrategy` of the cluster in
        ``TF_CONFIG``.

    Raises:
        ValueError: for ``devices`` without `"mirrored"`, a mirrored run
            without GPUs or ``devices``, or a multi-worker run without
            ``TF_CONFIG``.
    """
    if kind not in (None, *STRATEGIES):
        raise ValueError(
            f"`kind` must be one of {STRATEGIES} or None. Received: {kind!r}"
        )
    if devices and kind != "mirrored":
        raise ValueError("--devices needs --distribute mirrored")
    if kind is None:
        return tf.distribute.get_strategy()
    if kind == "multi-worker":
        if not os.environ.get("TF_CONFIG"):
            raise ValueError(
                "--distribute multi-worker reads its cluster from the TF_CONFIG "
                "environment variable, which is not set"
            )
        task_name()  # a clear error for a TF_CONFIG that is not JSON
        return tf.distribute.MultiWorkerMirroredStrategy()
    if devices:
        return tf.distribute.MirroredStrategy(logical_cpus(devices))
    if not tf.config.list_logical_devices("GPU"):
        raise ValueError(
            "--distribute mirrored found no GPU; pass --devices N to train on N "
            "logical CPU devices"
        )
    return tf.distribute.MirroredStrategy()


def logical_cpus(count: int) -> list[str]:
    """The names of ``count`` logical CPU devices, set up if need be.

    Args:
        count: the devices wanted.

    Returns:
        Their names (``/device:CPU:0`` ...).

    Raises:
        ValueError: when TensorFlow has started its devices with another
            number of them (set them up before running anything).
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    with contextlib.suppress(RuntimeError):  # started: fine with as many
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * count
        )
    names = [device.name for device in tf.config.list_logical_devices("CPU")]
    if len(names) != count:
        raise ValueError(
            f"TensorFlow started with {len(names)} CPU device(s), not {count}: "
            "set the devices up before TensorFlow runs anything"
        )
    return names


def for_strategy(
    dataset: tf.data.Dataset, num_files: int, strategy: Any = None
) -> tf.data.Dataset:
    """A reader's dataset made ready for a strategy of several replicas.

    - Its number of batches is counted (one pass, which fills a reader's
      cache) and asserted: with an unknown count, tf.distribute ends every
      epoch with one more step on empty batches, which counts as a step of
      the optimizer (Adam's bias correction moves on) where one device has
      none.
    - In a multi-worker cluster it is split between the workers by file when
      there are at least as many files as workers (each worker then reads
      and parses only its files, and the count is left unknown: it is each
      worker's own), by rows otherwise (every worker reads every file and
      keeps its share of each batch). tf.data's ``AUTO`` policy tries files
      first and fails at run time with fewer files than workers.

    Args:
        dataset: a reader's dataset.
        num_files: the files it reads.
        strategy: Optional strategy. Defaults to the current one.

    Returns:
        The dataset, unchanged without several replicas or workers.
    """
    strategy = _strategy_of(strategy)
    if not is_distributed(strategy):
        return dataset
    ready = dataset
    by_file = num_files >= worker_count(strategy) > 1
    if not by_file:
        count = int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))
        ready = ready.apply(tf.data.experimental.assert_cardinality(count))
    if worker_count(strategy) > 1:
        policy = tf.data.experimental.AutoShardPolicy
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            policy.FILE if by_file else policy.DATA
        )
        ready = ready.with_options(options)
    if hasattr(dataset, "skipped_lines"):  # what the readers attach
        ready.skipped_lines = dataset.skipped_lines
    return ready


def describe(strategy: Any) -> str:
    """One line on how a strategy trains, for people.

    Args:
        strategy: a strategy.

    Returns:
        E.g. ``"2 replicas (MirroredStrategy: CPU:0, CPU:1)"``, or
        ``"1 device"`` for TensorFlow's default strategy.
    """
    try:
        names = strategy.extended.worker_devices
    except RuntimeError:  # TensorFlow's default strategy has none
        return "1 device"
    devices = ", ".join(name.split("/device:")[-1] for name in names)
    resolver = getattr(strategy, "cluster_resolver", None)
    task = ""
    if resolver is not None and resolver.task_type:
        task = f", {resolver.task_type} {resolver.task_id} of {worker_count(strategy)}"
    kind = type(strategy).__name__
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        kind = "MultiWorkerMirroredStrategy"  # not its CollectiveAllReduce base
    count = strategy.num_replicas_in_sync
    replicas_ = f"{count} replica{'s' if count != 1 else ''}"
    return f"{replicas_} ({kind}: {devices}){task}"


def task_name() -> str | None:
    """This process's task in ``TF_CONFIG`` (e.g. ``"worker-1"``), or None.

    Returns:
        ``"<type>-<index>"`` of the ``task`` entry of ``TF_CONFIG``, or None
        when it is not set.
    """
    try:
        task = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task") or {}
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not JSON: {error}") from None
    if not task.get("type"):
        return None
    return f"{task['type']}-{task.get('index', 0)}"


def replicas(of: Any = None) -> int:
    """The replicas that train a model, or of a strategy.

    Args:
        of: a model (its strategy is the one it was built under), a strategy,
            or None for the current strategy.

    Returns:
        The number of replicas in sync: 1 without a strategy.
    """
    return int(_strategy_of(of).num_replicas_in_sync)


def is_distributed(of: Any = None) -> bool:
    """Whether a model, or a strategy, trains on several replicas or workers.

    Args:
        of: a model, a strategy, or None for the current strategy.

    Returns:
        True under a `MirroredStrategy` of 2+ devices or a
        `MultiWorkerMirroredStrategy` cluster of 2+ workers.
    """
    strategy = _strategy_of(of)
    return strategy.num_replicas_in_sync > 1 or worker_count(strategy) > 1


def worker_count(strategy: Any = None) -> int:
    """The workers of a multi-worker strategy (1 for any other).

    Args:
        strategy: Optional strategy. Defaults to the current one.

    Returns:
        The number of worker processes in the cluster.
    """
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return 1
    spec = resolver.cluster_spec().as_dict()
    return max(1, len(spec.get("chief", [])) + len(spec.get("worker", [])))


def is_chief(strategy: Any = None) -> bool:
    """Whether this process writes the run's outputs.

    With a multi-worker strategy, the chief is task 0 of ``"chief"``, or
    worker 0 of a cluster without one (Keras's and TensorFlow's rule); every
    other strategy has one process, its chief.

    Args:
        strategy: Optional strategy. Defaults to the current one.

    Returns:
        True for the chief.
    """
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def worker_folder(folder: str | os.PathLike, strategy: Any = None) -> str:
    """Where this process writes what would go to ``folder``.

    The chief writes into ``folder``; any other worker into a folder of its
    own under the system's temporary folder, the same on every start of the
    same run (``keras_fm-workers/<digest of folder>/<task>-<id>``), as the
    Keras multi-worker guide has non-chief workers write their checkpoints.

    Args:
        folder: the run's folder.
        strategy: Optional strategy. Defaults to the current one.

    Returns:
        The folder path, as a string.
    """
    strategy = strategy or tf.distribute.get_strategy()
    if is_chief(strategy):
        return os.fspath(folder)
    resolver = strategy.cluster_resolver
    digest = hashlib.sha256(os.path.abspath(folder).encode()).hexdigest()[:12]
    task = f"{resolver.task_type}-{resolver.task_id}"
    return os.path.join(tempfile.gettempdir(), "keras_fm-workers", digest, task)


def compile_settings(model: keras.Model) -> dict[str, Any] | None:
    """What `compile_for_task` must change for ``model``'s strategy, or None.

    Args:
        model: the model.

    Returns:
        ``{"jit_compile": False, "steps_per_execution": 1}`` when ``model``
        was built under a strategy of several replicas or workers, else None.
    """
    if not is_distributed(model):
        return None
    return {"jit_compile": False, "steps_per_execution": 1}


def prepare_for_strategy(model: keras.Model) -> None:
    """Lets Keras 3's `fit` and `evaluate` take ragged and string inputs
    under a strategy.

    Under a strategy, Keras builds a model's training state from the first
    batch averaged over the replicas (``_maybe_symbolic_build``), which fails
    for `tf.RaggedTensor` inputs (libsvm rows, multivalent features) and
    strings (lookup features) — only the shapes and dtypes are read. This
    gives it the first replica's batch instead. Under a multi-worker strategy
    each step's logs are also returned as vectors of one value
    (`_step_logs_as_vectors`): Keras averages them along an axis that scalar
    metrics lack, and fails. Nothing changes for a model without a strategy
    of several replicas or workers.

    Args:
        model: a model built inside ``strategy.scope()``.
    """
    if not is_distributed(model) or not hasattr(model, "_symbolic_build"):
        return
    strategy = model.distribute_strategy

    def first_replica(value: Any) -> Any:
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def build(iterator: Any = None, data_batch: Any = None) -> None:
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = next(batches)
                break
        data_batch = keras.tree.map_structure(first_replica, data_batch)
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = build
    if worker_count(strategy) > 1:
        model.get_metrics_result = _step_logs_as_vectors(model.get_metrics_result)


def _step_logs_as_vectors(results: Any) -> Any:
    """``model.get_metrics_result`` whose scalars are vectors of one value
    inside a replica (a training or evaluation step). Keras averages a
    multi-worker step's logs along axis 0, which a scalar lacks
    (tensorflow/tensorflow#72388); the epoch's logs, read across replicas,
    stay scalars."""

    def get_metrics_result() -> dict[str, Any]:
        values = results()
        if tf.distribute.in_cross_replica_context():
            return values
        return {
            name: tf.reshape(value, [1]) if value.shape.rank == 0 else value
            for name, value in values.items()
        }

    return get_metrics_result


def _strategy_of(of: Any) -> Any:
    """The strategy of a model (the one it was built under), a strategy
    itself, or the current one for None."""
    if isinstance(of, keras.Model):
        return of.distribute_strategy
    return of if of is not None else tf.distribute.get_strategy()
