"""``keras-fm report``, and the report.png that ``keras-fm train`` writes."""

import argparse
from pathlib import Path
from typing import Any

from keras_fm.cli.output import warn
from keras_fm.cli.run_folder import read_run
from keras_fm.plots import run_report
from keras_fm.training import HISTORY_FILE

REPORT_FILE = "report.png"


def write_report(folder: Path, monitor: str) -> str | None:
    """Draws ``folder/report.png`` from its history; without matplotlib, or
    without a history to draw, warns once (training has succeeded) and
    returns None."""
    try:
        return run_report(folder / HISTORY_FILE, folder / REPORT_FILE, _metric(monitor))
    except (ImportError, OSError, ValueError) as error:
        warn(f"{REPORT_FILE} not drawn: {error}")
        return None


def run(args: argparse.Namespace) -> dict[str, Any]:
    """``keras-fm report --model-dir``: report.png again, from history.csv."""
    folder = Path(args.model_dir)
    history = folder / HISTORY_FILE
    if not history.is_file():
        raise FileNotFoundError(
            f"no training history in {args.model_dir!r} (missing {HISTORY_FILE}; "
            "runs of keras-fm train write it)"
        )
    run_file = read_run(folder) or {}
    task = run_file.get("task")
    metric = {"binary": "auc", "regression": "rmse"}.get(task or "")
    return {"report": run_report(history, folder / REPORT_FILE, metric)}


def _metric(monitor: str) -> str:
    return monitor[4:] if monitor.startswith("val_") else monitor
