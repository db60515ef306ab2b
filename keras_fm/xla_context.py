"""Whether the function being traced is compiled by XLA."""

import tensorflow as tf
from tensorflow.python.ops import control_flow_util


def in_xla() -> bool:
    """True while tracing a function compiled by XLA (``jit_compile=True``).

    TensorFlow's own ops ask the same question (`control_flow_util`) to pick
    an XLA-friendly form.
    """
    graph = tf.compat.v1.get_default_graph()
    return control_flow_util.GraphOrParentsInXlaContext(graph)
