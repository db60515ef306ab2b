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

from keras_fm.distribute.compiling import (
    check_grouped_steps,
    compile_settings,
    prepare_for_strategy,
)
from keras_fm.distribute.inputs import for_strategy
from keras_fm.distribute.strategies import (
    STRATEGIES,
    describe,
    is_distributed,
    logical_cpus,
    make_strategy,
    replicas,
)
from keras_fm.distribute.workers import (
    is_chief,
    task_name,
    worker_count,
    worker_folder,
)

__all__ = [
    "STRATEGIES",
    "check_grouped_steps",
    "compile_settings",
    "describe",
    "for_strategy",
    "is_chief",
    "is_distributed",
    "logical_cpus",
    "make_strategy",
    "prepare_for_strategy",
    "replicas",
    "task_name",
    "worker_count",
    "worker_folder",
]
