"""The model folder of a ``keras-fm train`` run: what it holds, whether a run
may write into it, resume it, or must start over."""

import json
import platform
import shutil
from pathlib import Path
from typing import Any

RUN_FILE = "run.json"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
CATALOG_FILE = "catalog.npz"
BACKUP_DIR = "backup"
# Keras's BackupAndRestore writes this after every finished epoch.
BACKUP_METADATA = "training_metadata.json"


def package_versions() -> dict[str, str]:
    """The versions that a resumed run must share with the interrupted one."""
    import keras
    import numpy
    import tensorflow

    from keras_fm.version import __version__

    return {
        "keras_fm": __version__,
        "keras": keras.__version__,
        "tensorflow": tensorflow.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


def read_run(folder: Path) -> dict[str, Any] | None:
    path = folder / RUN_FILE
    if not path.is_file():
        return None
    return dict(json.loads(path.read_text()))


def write_run(folder: Path, run: dict[str, Any]) -> None:
    """Writes ``run.json`` whole (a new file renamed over the old one)."""
    staging = folder / f".{RUN_FILE}.tmp"
    staging.write_text(json.dumps(run, indent=2, allow_nan=False))
    staging.replace(folder / RUN_FILE)


def finished_epochs(folder: Path) -> int:
    """Epochs an interrupted run finished (0 when there is nothing to resume)."""
    path = folder / BACKUP_DIR / BACKUP_METADATA
    if not path.is_file():
        return 0
    return int(json.loads(path.read_text())["epoch"])


def prepare(
    folder: Path, settings: dict[str, Any], restart: bool, overwrite: bool
) -> int:
    """Makes ``folder`` ready for a run of ``settings``; returns the epochs to
    resume from (0: a fresh start).

    - an interrupted run of the same settings is resumed (unless ``restart``);
    - one of other settings, a finished model, or files that are not a model
      folder are refused, unless ``overwrite`` (which clears the folder);
    - ``restart`` starts the same run over.

    Raises:
        FileExistsError: naming the folder and what it holds.
    """
    if not folder.exists() or not any(folder.iterdir()):
        return 0
    run = read_run(folder)
    if overwrite:
        shutil.rmtree(folder)
        return 0
    if run is None:
        raise FileExistsError(
            f"{folder} holds files but no {RUN_FILE}; choose an empty or new "
            "--model-dir, or pass --overwrite to delete them"
        )
    if run.get("status") == "trained":
        raise FileExistsError(
            f"{folder} holds a trained {run.get('model')} model; pass --overwrite "
            "to replace it, or choose another --model-dir"
        )
    changed = _differences(run.get("settings", {}), settings)
    if changed and not restart:
        raise FileExistsError(
            f"{folder} holds an unfinished run with other settings ({changed}); "
            "rerun it with the same settings to resume it, or pass --restart "
            "(same folder, new settings) or --overwrite"
        )
    if restart:
        shutil.rmtree(folder)
        return 0
    return finished_epochs(folder)


def _differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    names = sorted(k for k in {*old, *new} if old.get(k) != new.get(k))
    return ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in names[:4])


def load_trained(model_dir: str) -> tuple[Any, Any, str]:
    """The trained model of a folder, its `DataFormat` and its task.

    Raises:
        FileNotFoundError: if the folder holds no model, or a run that has
            not finished training.
    """
    import keras

    from keras_fm.data.formats import DataFormat

    folder = Path(model_dir)
    if not (folder / MODEL_FILE).is_file():
        raise FileNotFoundError(
            f"no trained model in {model_dir!r} (missing {MODEL_FILE})"
        )
    run = read_run(folder)
    if run is None:
        raise FileNotFoundError(
            f"{model_dir!r} holds {MODEL_FILE} but no {RUN_FILE}: it was not "
            "written by keras-fm train"
        )
    if run.get("status", "trained") != "trained":
        raise FileNotFoundError(
            f"the run in {model_dir!r} has not finished training; run the same "
            "keras-fm train command again to resume it"
        )
    model = keras.saving.load_model(folder / MODEL_FILE)
    return model, DataFormat(**run["data_format"]), run["task"]


def check_format(model_dir: str, data_format: str) -> None:
    """Refuses data of another format than the model was trained on."""
    run = read_run(Path(model_dir)) or {}
    trained = run.get("data_format", {}).get("format", data_format)
    if trained != data_format:
        raise ValueError(
            f"the model in {model_dir} was trained on {trained} data, not {data_format}"
        )
