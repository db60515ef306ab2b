"""Publishing a finished SavedModel as a version of a TF Serving base path:
atomically, exclusively, and readable by a server running as another user."""

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

STAGING_PREFIX = ".staging-"
LOCK_FILE = ".keras_fm_export.lock"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def existing_versions(base_path: str | os.PathLike) -> list[int]:
    """The version numbers under a TF Serving model base path, sorted.

    Args:
        base_path: the model base path.

    Returns:
        The integer names of its subfolders, ascending.
    """
    if not os.path.isdir(base_path):
        return []
    return sorted(int(n) for n in os.listdir(base_path) if re.fullmatch(r"\d+", n))


def new_staging_folder(base: Path) -> Path:
    """An empty folder in ``base`` to write a SavedModel into.

    Its name (``.staging-<pid>-<random>``) is not a number, so TF Serving
    ignores it, and holds the writer's process id, so that a later export
    removes it if the writer was killed. It is created with the umask's
    permissions (0755 under umask 022), unlike `tempfile.mkdtemp`'s 0700,
    so that it is readable once it becomes a version.
    """
    base.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(base)
    folder = base / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    folder.mkdir()
    return folder


def remove_stale_staging(base: Path) -> list[Path]:
    """Removes the staging folders of exports whose process is gone."""
    removed = []
    for folder in base.glob(f"{STAGING_PREFIX}*"):
        found = re.fullmatch(rf"{re.escape(STAGING_PREFIX)}(\d+)-\w+", folder.name)
        if found and not _alive(int(found.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _locked(base: Path) -> Iterator[None]:
    """Holds an exclusive lock on ``base`` (a lock file; POSIX only, elsewhere
    no lock) while versions are chosen and renamed."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(base / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def publish(staging: Path, version: int | None, overwrite: bool) -> Path:
    """Renames the finished ``staging`` folder to ``<base>/<version>``.

    Under the base path's lock, so that concurrent exports never pick the
    same new version (``version=None``: one more than the highest present at
    that moment) nor replace each other's. An existing version is replaced
    only with ``overwrite``, by an atomic exchange of the two folders where
    Linux offers it (``renameat2(RENAME_EXCHANGE)``): a reader sees the old
    or the new version, never none.

    Raises:
        FileExistsError: if the version exists and ``overwrite`` is False.
    """
    base = staging.parent
    with _locked(base):
        if version is None:
            version = (existing_versions(base) or [0])[-1] + 1
        target = base / str(version)
        if not target.exists():
            os.rename(staging, target)
            return target
        if not overwrite:
            raise FileExistsError(
                f"{target} exists; pass overwrite=True (CLI: --overwrite) to "
                "replace it, or choose another version."
            )
        if _exchange(staging, target):
            shutil.rmtree(staging)  # now the old version
        else:  # two renames: the version is missing in between
            old = base / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
            os.rename(target, old)
            os.rename(staging, target)
            shutil.rmtree(old)
        return target


def _exchange(first: Path, second: Path) -> bool:
    """Swaps two folders atomically; False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    result = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
        _RENAME_EXCHANGE,
    )  # fmt: skip
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))
