"""Quiet start of the ``keras-fm`` command.

TensorFlow's C++ runtime writes several lines to stderr while it is imported
(oneDNN, the CUDA probe, CPU features), before any log level applies, and
later logs XLA start-up lines. The command hides them unless it is given
``--verbose``. Since importing ``keras_fm`` imports TensorFlow, this has to
happen in the package's ``__init__``, and only there does the package act on
the process: in the ``keras-fm`` command (or ``python -m keras_fm``) alone,
never when ``keras_fm`` is imported as a library.
"""

import os
import sys


def is_command() -> bool:
    """Whether this process is the ``keras-fm`` command, without --verbose."""
    argv = list(getattr(sys, "orig_argv", sys.argv))
    command = os.path.basename(sys.argv[0]) in ("keras-fm", "keras-fm.exe") or (
        "-m" in argv[:-1] and argv[argv.index("-m") + 1] == "keras_fm"
    )
    return command and "--verbose" not in argv


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow with its start-up lines hidden (stderr is sent to
    /dev/null for the import only) and its C++ log level at errors."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_logical_devices()  # device set-up writes its own lines
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
