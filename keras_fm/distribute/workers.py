"""The processes of a multi-worker cluster: how many, which is the chief,
where each writes."""

import hashlib
import json
import os
import tempfile
from typing import Any

import tensorflow as tf


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
