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

import hashlib
import logging
import os
import tempfile
from typing import Any

import keras
import tensorflow as tf

logger = logging.getLogger("keras_fm")

STRATEGIES = ("mirrored", "multi-worker")


def replicas(model: keras.Model | None = None) -> int:
    """The replicas that train ``model`` (or the current strategy's).

    Args:
        model: Optional model; its strategy is the one it was built under.

    Returns:
        The number of replicas in sync: 1 without a strategy.
    """
    strategy = _strategy_of(model)
    return int(strategy.num_replicas_in_sync)


def is_distributed(model: keras.Model | None = None) -> bool:
    """Whether ``model`` (or the current scope) trains under a strategy of
    several replicas or several workers.

    Args:
        model: Optional model.

    Returns:
        True under a `MirroredStrategy` of 2+ devices or any
        `MultiWorkerMirroredStrategy` cluster of 2+ workers.
    """
    strategy = _strategy_of(model)
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
    gives it the first replica's batch instead. Nothing changes for a model
    without a strategy of several replicas or workers.

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


def _strategy_of(model: keras.Model | None) -> Any:
    """``model``'s strategy (the one it was built under), or the current one."""
    if model is not None:
        return model.distribute_strategy
    return tf.distribute.get_strategy()
