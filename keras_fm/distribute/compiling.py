"""What compiling a model for a strategy of several replicas changes, and
the gaps of Keras 3 it fills."""

from typing import Any

import keras
import tensorflow as tf

from keras_fm.distribute.strategies import is_distributed
from keras_fm.distribute.workers import worker_count


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


def check_grouped_steps(model: keras.Model, steps_per_execution: Any) -> None:
    """Refuses grouped steps for a model of a strategy of several replicas
    or workers, where Keras 3's `fit` fails on them.

    Keras runs ``steps_per_execution`` steps in a `tf.while_loop` whose body
    calls ``strategy.run`` inside a `tf.cond`; under `MirroredStrategy`
    TensorFlow 2.21 with Keras 3.15 then fails at the first call with "You
    must feed a value for placeholder tensor" (keras-team/keras#19246, open;
    a plain Keras model fails the same way).

    Args:
        model: the model.
        steps_per_execution: the value `compile_for_task` would pass to
            `model.compile`.

    Raises:
        ValueError: if it is not 1 and the model is distributed.
    """
    if not is_distributed(model) or steps_per_execution == 1:
        return
    raise ValueError(
        f"steps_per_execution={steps_per_execution!r} under "
        f"{type(model.distribute_strategy).__name__}: Keras 3's fit fails on "
        "grouped steps under a strategy of several replicas ('You must feed a "
        "value for placeholder tensor', keras-team/keras#19246). Leave it out: "
        "compile_for_task runs one step per call there"
    )


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
    (tensorflow/tensorflow#72388); the epoch's logs, read outside the
    strategy's replicas (where ``fit`` runs, out of any scope, is the default
    strategy's replica), stay scalars."""

    def get_metrics_result() -> dict[str, Any]:
        values = results()
        if not tf.distribute.has_strategy() or tf.distribute.in_cross_replica_context():
            return values
        return {
            name: tf.reshape(value, [1]) if value.shape.rank == 0 else value
            for name, value in values.items()
        }

    return get_metrics_result
