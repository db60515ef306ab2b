"""Publishing versions: exclusive, atomic, readable, and no staging left."""

import os
import stat
import subprocess
import sys
import textwrap
import threading

import pytest

from keras_fm.export import existing_versions
from keras_fm.export.versions import (
    STAGING_PREFIX,
    new_staging_folder,
    publish,
    remove_stale_staging,
)


def staged(base, text):
    folder = new_staging_folder(base)
    (folder / "saved_model.pb").write_text(text)
    return folder


def test_concurrent_publishes_get_distinct_versions(tmp_path):
    base = tmp_path / "model"
    folders = [staged(base, str(i)) for i in range(16)]
    results = []
    threads = [
        threading.Thread(target=lambda f=f: results.append(publish(f, None, False)))
        for f in folders
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(int(p.name) for p in results) == list(range(1, 17))
    kept = {(p / "saved_model.pb").read_text() for p in results}
    assert kept == {str(i) for i in range(16)}  # no export replaced another


def test_existing_version_needs_overwrite_and_is_swapped_whole(tmp_path):
    base = tmp_path / "model"
    publish(staged(base, "old"), 3, False)
    with pytest.raises(FileExistsError, match="overwrite"):
        publish(staged(base, "new"), 3, False)
    target = publish(staged(base, "newer"), 3, True)
    assert (target / "saved_model.pb").read_text() == "newer"
    assert existing_versions(base) == [3]
    left = [n for n in os.listdir(base) if n.startswith(STAGING_PREFIX)]
    assert len(left) == 1  # the refused export's folder; its caller removes it


def test_folders_and_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        target = publish(staged(tmp_path / "model", "x"), None, False)
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert stat.S_IMODE((target / "saved_model.pb").stat().st_mode) == 0o644


def test_staging_of_a_dead_process_is_removed(tmp_path):
    base = tmp_path / "model"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = base / f"{STAGING_PREFIX}{dead.stdout.strip()}-abcd1234"
    stale.mkdir(parents=True)
    mine = new_staging_folder(base)  # removes the dead process's folder
    assert not stale.exists() and mine.exists()
    assert remove_stale_staging(base) == []  # a live process's folder stays
    assert not mine.name.isdigit()  # never named like a version


@pytest.mark.slow
def test_two_export_processes_keep_both_versions(tmp_path):
    """Two `keras-fm export`-like processes into one base path at once."""
    from tests.models.test_models import build

    build("fm").save(tmp_path / "model.keras")
    script = textwrap.dedent(f"""
        import keras, keras_fm
        from keras_fm.export import export_saved_model
        model = keras.saving.load_model({str(tmp_path / "model.keras")!r})
        print(export_saved_model(model, {str(tmp_path / "serving")!r}))
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    old_umask = os.umask(0o022)  # inherited by the processes
    processes = [
        subprocess.Popen([sys.executable, "-c", script], cwd=os.getcwd(), env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    os.umask(old_umask)
    outputs = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=300)
            assert process.returncode == 0, err[-3000:]
            outputs.append(out.strip().splitlines()[-1])
    finally:
        for process in processes:
            process.kill()
    assert sorted(os.path.basename(o) for o in outputs) == ["1", "2"]
    assert existing_versions(tmp_path / "serving") == [1, 2]
    for version in ("1", "2"):
        folder = tmp_path / "serving" / version
        for path in [folder, *folder.rglob("*")]:  # readable by another user
            assert path.stat().st_mode & 0o044 == 0o044, path
