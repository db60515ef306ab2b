"""Compiling the package's C++ ops against the installed TensorFlow, once.

TensorFlow loads ops built against its own headers (`tf.load_op_library`,
the route of TensorFlow's guide to custom ops). The library is built with
the C++ compiler named by ``CXX`` (else ``g++``, else ``c++``) and the flags
`tf.sysconfig` gives, into a cache directory (``KERAS_FM_CACHE``, else
``$XDG_CACHE_HOME/keras_fm``, else ``~/.cache/keras_fm``), under a name
that hashes the source, TensorFlow's version and flags and the compiler, so
that a changed source or an upgraded TensorFlow builds anew. Processes that
build at once (test workers, several trainings) wait on a file lock, and a
library appears under its name only when complete.
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import tensorflow as tf

SOURCE = Path(__file__).with_name("row_updates.cc")
# No fused multiply-add contraction: the ops compute what TensorFlow's
# float32 ops compute, to the bit.
OPTIONS = ["-shared", "-fPIC", "-O3", "-ffp-contract=off", "-w"]
TIMEOUT_SECONDS = 600


class BuildError(RuntimeError):
    """The ops could not be built here (no compiler, or it failed)."""


def compiler() -> str:
    """The C++ compiler's path.

    Raises:
        BuildError: when none is found.
    """
    names = [os.environ["CXX"]] if os.environ.get("CXX") else ["g++", "c++"]
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise BuildError(f"no C++ compiler found (looked for {', '.join(names)})")


def command(source: Path, output: Path) -> list[str]:
    """The compiler's command line building ``source`` into ``output``."""
    flags = tf.sysconfig.get_compile_flags() + tf.sysconfig.get_link_flags()
    return [compiler(), *OPTIONS, str(source), "-o", str(output), *flags]


def cache_dir() -> Path:
    """Where built libraries are kept."""
    if os.environ.get("KERAS_FM_CACHE"):
        return Path(os.environ["KERAS_FM_CACHE"])
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "keras_fm"


def library_path(source: Path = SOURCE) -> Path:
    """The cached library's path for this source, TensorFlow and compiler."""
    key = hashlib.sha256(source.read_bytes())
    key.update(" ".join(command(source, Path("out"))).encode())
    key.update(tf.__version__.encode())
    return cache_dir() / f"{source.stem}-{key.hexdigest()[:16]}.so"


def built_library(source: Path = SOURCE) -> Path:
    """The library of ``source``, built first if it is not in the cache.

    Args:
        source: a C++ source of TensorFlow ops.

    Returns:
        The library's path.

    Raises:
        BuildError: naming the compiler's last lines when it fails.
    """
    path = library_path(source)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f"{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            _compile(source, path)
    return path


def _compile(source: Path, path: Path) -> None:
    with tempfile.TemporaryDirectory(dir=path.parent) as folder:
        partial = Path(folder) / path.name
        try:
            result = subprocess.run(
                command(source, partial),
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise BuildError(
                f"compiling {source.name} took over {error.timeout} s"
            ) from None
        if result.returncode != 0:
            last = " ".join(result.stderr.strip().splitlines()[-3:])
            raise BuildError(f"compiling {source.name} failed: {last}")
        os.replace(partial, path)
