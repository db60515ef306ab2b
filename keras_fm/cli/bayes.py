"""``keras-fm train --learner mcmc|als``: a Bayesian FM (`keras_fm.bayes`) on
raw libsvm rows, or on the fields of CSV, TFRecord or libffm files (read
through the feature specs the SGD field models take), written to a model
folder like every other ``keras-fm train`` run, so that ``evaluate``,
``predict`` and ``export`` take it as they are."""

import argparse
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from keras_fm.bayes import SparseRows, field_rows, fit_als, fit_mcmc
from keras_fm.cli.arguments import fill_bayes_defaults
from keras_fm.cli.evaluate import label_classes, task_metrics
from keras_fm.cli.output import to_json
from keras_fm.cli.run_folder import (
    METRICS_FILE,
    MODEL_FILE,
    package_versions,
    prepare,
    write_run,
)
from keras_fm.cli.train import data_format_of
from keras_fm.data.formats import DataFormat
from keras_fm.features import Feature
from keras_fm.models import compile_for_task
from keras_fm.saving import save_model

READ_BATCH = 8192
ALS_L2 = 1.0  # fit_als's default; --l2 sets both of its penalties


def check(args: argparse.Namespace) -> None:
    """Refuses what the Bayesian learners do not do, by flag.

    Raises:
        ValueError: naming the flag.
    """
    if args.model != "fm":
        raise ValueError(f"--learner {args.learner} trains --model fm only")
    if args.task not in ("regression", "binary"):
        raise ValueError(f"--learner {args.learner} takes --task regression or binary")
    if args.distribute:
        raise ValueError(f"--learner {args.learner} runs on one device: leave out "
                         "--distribute")  # fmt: skip
    fill_bayes_defaults(args)
    if isinstance(args.l2, dict):
        raise ValueError("--l2 of --learner als is one number")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Trains, writes ``model.keras``, ``metrics.json`` and ``run.json``.

    Args:
        args: the parsed ``keras-fm train`` arguments.

    Returns:
        ``{"valid": {...}, "test": {...}}``, as `keras_fm.cli.train.train`.
    """
    check(args)
    paths = {name: getattr(args, name) or [] for name in ("train", "valid", "test")}
    data_format = (
        DataFormat("libsvm", num_features=args.num_features)
        if args.format == "libsvm"  # raw rows, fields by position or not
        else data_format_of(args)
    )
    data_format = data_format.infer_sizes(
        [p for group in paths.values() for p in group]
    )
    settings = _settings(args, data_format, paths)
    out = Path(args.model_dir)
    prepare(out, settings, restart=True, overwrite=args.overwrite)
    out.mkdir(parents=True, exist_ok=True)
    write_run(out, {"status": "training", "model": "fm", "task": args.task,
                    "settings": settings})  # fmt: skip
    try:
        metrics = _train(args, data_format, paths, out)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    run_record = {"status": "trained", "model": "fm", "task": args.task,
                  "settings": settings,
                  "data_format": data_format.to_dict()}  # fmt: skip
    write_run(out, run_record)
    return metrics


def _settings(
    args: argparse.Namespace, data_format: DataFormat, paths: dict[str, list[str]]
) -> dict[str, Any]:
    mcmc = args.learner == "mcmc"
    return {
        "model": "fm", "learner": args.learner, "task": args.task,
        "data_format": data_format.to_dict(),
        **{name: [os.path.abspath(p) for p in group] for name, group in paths.items()},
        "embedding_dim": args.embedding_dim or 8, "sweeps": args.sweeps,
        "burn_in": args.burn_in if mcmc else None,
        "thin": args.thin if mcmc else None,
        "chains": args.chains if mcmc else None, "seed": args.seed,
        "init_stdev": args.init_stdev,
        "l2": args.l2 if args.learner == "als" else None,
        "fields_by_position": args.fields_by_position,
        "versions": package_versions(),
    }  # fmt: skip


def _train(
    args: argparse.Namespace,
    data_format: DataFormat,
    paths: dict[str, list[str]],
    out: Path,
) -> dict[str, Any]:
    rows, features = _read(data_format, paths, args.task)
    train = rows["train"]
    assert train is not None
    dim = args.embedding_dim or 8
    print(f"keras-fm train: {args.learner} on {train.num_rows} rows of "
          f"{train.num_features} features, k = {dim}")  # fmt: skip
    monitored = rows["valid"]
    if monitored is None and rows["test"] is not None:  # as libFM shows -test
        monitored = rows["test"]
        print("no --valid: the progress lines score the --test rows")
    common = {"embedding_dim": dim, "num_sweeps": args.sweeps, "features": features,
              "validation": monitored, "seed": args.seed, "verbose": 1,
              "init_stdev": args.init_stdev}  # fmt: skip
    if args.learner == "mcmc":
        by_position = args.fields_by_position and features is None
        groups = _position_groups(train) if by_position else None
        model = fit_mcmc(train, args.task, burn_in=args.burn_in, thin=args.thin,
                         num_chains=args.chains, groups=groups,
                         **common)  # fmt: skip
    else:
        l2 = ALS_L2 if args.l2 is None else float(args.l2)
        model = fit_als(train, args.task, l2=(l2, l2), **common)
    compile_for_task(model, args.task)  # the task's metrics, for evaluate
    save_model(model, out / MODEL_FILE)
    metrics = {
        name: _metrics(model, data_format, paths[name], args.task)
        for name in ("valid", "test")
    }
    (out / METRICS_FILE).write_text(to_json(metrics))
    return metrics


def _read(
    data_format: DataFormat, paths: dict[str, list[str]], task: str
) -> tuple[dict[str, SparseRows | None], list[Feature] | None]:
    """The rows of each group of files, and the feature specs they were read
    through (None for raw libsvm rows): specs adapted on the training data,
    one prior group per field."""
    read = {
        name: data_format.read(group, task, READ_BATCH) if group else None
        for name, group in paths.items()
    }
    if data_format.format == "libsvm":
        assert data_format.num_features is not None
        size = data_format.num_features
        return {
            name: None if data is None else SparseRows.from_dataset(data, size)
            for name, data in read.items()
        }, None
    features = data_format.feature_specs(read["train"])
    return {
        name: None if data is None else field_rows(data, features)
        for name, data in read.items()
    }, features


def _position_groups(data: SparseRows) -> np.ndarray:
    """Each feature's group: the position in its rows where it first shows
    (its field, for rows of one feature per field)."""
    starts = np.searchsorted(data.rows, data.rows)  # each non-zero's row start
    positions = np.arange(data.rows.size) - starts
    groups = np.zeros(data.num_features, np.int64)
    first = np.unique(data.ids, return_index=True)
    groups[first[0]] = positions[first[1]]
    return groups


def _metrics(
    model: Any, data_format: DataFormat, paths: list[str], task: str
) -> dict[str, Any]:
    if not paths:
        return {}
    classes = label_classes(data_format, paths) if task == "binary" else None
    return task_metrics(model, data_format.read(paths, task, READ_BATCH), task, classes)
