"""The strategies keras_fm trains under, and how many replicas they have."""

import contextlib
import os
from typing import Any

import keras
import tensorflow as tf

from keras_fm.distribute.workers import task_name, worker_count

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


def replicas(of: Any = None) -> int:
    """The replicas that train a model, or of a strategy.

    Args:
        of: a model (its strategy is the one it was built under), a strategy,
            or None for the current strategy.

    Returns:
        The number of replicas in sync: 1 without a strategy.
    """
    return int(strategy_of(of).num_replicas_in_sync)


def is_distributed(of: Any = None) -> bool:
    """Whether a model, or a strategy, trains on several replicas or workers.

    Args:
        of: a model, a strategy, or None for the current strategy.

    Returns:
        True under a `MirroredStrategy` of 2+ devices or a
        `MultiWorkerMirroredStrategy` cluster of 2+ workers.
    """
    strategy = strategy_of(of)
    return strategy.num_replicas_in_sync > 1 or worker_count(strategy) > 1


def strategy_of(of: Any = None) -> Any:
    """The strategy of a model (the one it was built under), a strategy
    itself, or the current one.

    Args:
        of: a model, a strategy, or None.

    Returns:
        The strategy.
    """
    if isinstance(of, keras.Model):
        return of.distribute_strategy
    return of if of is not None else tf.distribute.get_strategy()
