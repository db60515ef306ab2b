"""The dtype policy the deep models' DNN computes in.

On CPUs with bfloat16 matrix units (Intel AMX, AVX512_BF16), TensorFlow's
oneDNN kernels multiply bfloat16 matrices at 2.4x their float32 speed
(4096 x 400 by 400 x 400: 805 against 329 GFLOP/s on a 2-core Xeon with AMX),
and XLA's CPU matmul, in either dtype, reaches 242 at best. The DNN dominates
a deep model's step, so there ``"auto"`` trains it in ``"mixed_bfloat16"``
(float32 weights, bfloat16 products) without XLA; everywhere else in float32.
The embeddings, FM terms, CIN and the output stay float32 either way.
"""

import os
from functools import cache
from pathlib import Path

import keras
import tensorflow as tf

BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where absent)."""
    path = Path("/proc/cpuinfo")
    if not path.exists():
        return frozenset()
    for line in path.read_text().splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def no_gpu() -> bool:
    """Whether TensorFlow sees no GPU, so that the CPU runs the matmuls."""
    return not tf.config.list_logical_devices("GPU")


def native_bfloat16() -> bool:
    """Whether bfloat16 matmuls run fast here: a CPU with bfloat16 matrix
    instructions, TensorFlow's oneDNN kernels on (``TF_ENABLE_ONEDNN_OPTS``
    not ``0``) and no GPU (where XLA and float32 already run fast)."""
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") == "0":
        return False
    return no_gpu() and any(flag in cpu_flags() for flag in BFLOAT16_FLAGS)


def dnn_dtype_policy(dnn_dtype: str | None) -> str | None:
    """The dtype policy of the DNN's layers for a builder's ``dnn_dtype``.

    Args:
        dnn_dtype: ``"auto"`` (``"mixed_bfloat16"`` where `native_bfloat16`
            and Keras's global policy is ``"float32"``, else the global
            policy), None (the global policy), or a Keras dtype policy name
            such as ``"float32"`` or ``"mixed_bfloat16"``.

    Returns:
        The policy name, or None for Keras's global policy.
    """
    if dnn_dtype != "auto":
        return dnn_dtype
    if keras.config.dtype_policy().name != "float32" or not native_bfloat16():
        return None
    return "mixed_bfloat16"
