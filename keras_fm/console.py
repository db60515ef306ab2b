"""Quiet start of the ``keras-fm`` command.

TensorFlow's C++ runtime writes several lines to stderr while it is imported
(oneDNN, the CUDA probe, CPU features), before any log level applies, and
later logs XLA start-up lines. The command hides them unless it is given
``--verbose``. In the ``keras-fm`` command (or ``python -m keras_fm``)
alone, the package's ``__init__`` imports nothing that needs TensorFlow: the
command parses its arguments first and then calls `load_package`. Imported
as a library, ``keras_fm`` imports every module, as usual.
"""

import contextlib
import os
import sys
from collections.abc import Iterator


def is_command() -> bool:
    """Whether this process is the ``keras-fm`` command, without --verbose."""
    argv = list(getattr(sys, "orig_argv", sys.argv))
    command = os.path.basename(sys.argv[0]) in ("keras-fm", "keras-fm.exe") or (
        "-m" in argv[:-1] and argv[argv.index("-m") + 1] == "keras_fm"
    )
    return command and "--verbose" not in argv


def load_package() -> None:
    """Imports TensorFlow (quietly unless ``--verbose``) and then every module
    of the package, which registers its layers for loading saved models."""
    if is_command():
        import_tensorflow_quietly()
    import keras_fm.data
    import keras_fm.datasets
    import keras_fm.features
    import keras_fm.layers
    import keras_fm.models
    import keras_fm.optimizers
    import keras_fm.ranking  # noqa: F401


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow with its start-up lines hidden (stderr is sent to
    /dev/null for the import only) and its C++ log level at errors."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_stderr():
        import tensorflow as tf

        if _option("--distribute") == "multi-worker":
            return  # the cluster's collectives are set up before the devices
        devices = _logical_cpus()
        if devices:  # set up before the devices start
            from keras_fm.distribute.strategies import logical_cpus

            logical_cpus(devices)
        tf.config.list_logical_devices()  # device set-up writes its own lines


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Sends the process's stderr (file descriptor 2, where TensorFlow's C++
    runtime writes) to /dev/null inside the block."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _logical_cpus() -> int | None:
    """N of the command's ``--devices N`` (logical CPU devices for ``train
    --distribute mirrored``), which must be set up before TensorFlow starts
    its devices; None without it (or with a value the parser will refuse)."""
    value = _option("--devices")
    return int(value) if value and value.isdigit() and int(value) > 0 else None


def _option(name: str) -> str | None:
    """The value of option ``name`` on the command line, before parsing."""
    argv = sys.argv[1:]
    for index, word in enumerate(argv):
        if word == name and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith(f"{name}="):
            return word.split("=", 1)[1]
    return None
