"""``keras-fm train``: a model of the zoo trained on files, into a folder
that a killed run resumes from."""

import argparse
import contextlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from keras_fm.cli.arguments import (
    EPOCHS,
    MODEL_OPTIONS,
    PATIENCE,
    fill_train_defaults,
    model_default,
)
from keras_fm.cli.calibrate import calibrate_run
from keras_fm.cli.evaluate import label_classes, task_metrics
from keras_fm.cli.output import to_json, warn
from keras_fm.cli.ranking import (
    check_ranking,
    ranking_data,
    ranking_file_metrics,
)
from keras_fm.cli.report import write_report
from keras_fm.cli.run_folder import (
    CATALOG_FILE,
    METRICS_FILE,
    MODEL_FILE,
    finished_epochs,
    package_versions,
    prepare,
    read_run,
    write_run,
)
from keras_fm.console import quiet_stderr
from keras_fm.data.files import resolve_paths
from keras_fm.data.formats import DataFormat
from keras_fm.data.pipeline import Cache
from keras_fm.defaults import table_l2
from keras_fm.distribute import (
    describe,
    for_strategy,
    is_chief,
    is_distributed,
    make_strategy,
    worker_folder,
)
from keras_fm.models import (
    BUILDERS,
    STEPS_PER_EXECUTION,
    build_sparse_fm,
    compile_for_task,
    default_optimizer,
)
from keras_fm.optimizers import LazyAdam
from keras_fm.ranking import bpr_loss, pairwise_accuracy, save_catalog
from keras_fm.saving import save_model
from keras_fm.training import EpochLog, epoch_steps, training_callbacks

# The most bytes of training and validation files that `train` keeps parsed in
# memory by default (about twice as many once parsed, for frappe's rows).
AUTO_CACHE_BYTES = 512 << 20
CACHE_WORDS: dict[str, Cache] = {"memory": True, "none": False}
# Raw libsvm rows (FM without fields) are padded into dense rows, whose steps
# XLA compiles, from this many bytes of training files: the two compilations
# (full batches and the last one, 3.5 s on 2 cores) pay off after about
# 470,000 rows trained (frappe, k = 64: 7.4 us a row per epoch saved).
PAD_FROM_BYTES = 2 << 20
RANKING_ON_ONE_DEVICE = "--task ranking trains on one device: leave out --distribute"


def train(
    model_name: str,
    data_format: DataFormat,
    train_paths: Sequence[str],
    model_dir: str,
    task: str,
    valid_paths: Sequence[str] = (),
    test_paths: Sequence[str] = (),
    options: dict[str, Any] | None = None,
    *,
    seed: int = 0,
    verbose: int = 2,
    cache: Cache | str = "auto",
    ranking: dict[str, Any] | None = None,
    restart: bool = False,
    overwrite: bool = False,
    strategy: Any = None,
    calibrate: str | None = None,
) -> dict[str, Any]:
    """Trains a model of the zoo on files; writes the model and its metrics.

    ``model_dir`` gets ``run.json`` first (every setting, the package
    versions, ``"status": "training"``), a backup after every epoch
    (`keras.callbacks.BackupAndRestore`), and at the end ``model.keras``,
    ``metrics.json`` and ``"status": "trained"``. Started again with the same
    settings, an interrupted run resumes from its last finished epoch (early
    stopping and the learning-rate schedule then count from there);
    ``restart`` starts it over. A folder holding a trained model, a run of
    other settings or other files is refused unless ``overwrite`` (which
    clears it). A run that fails before finishing an epoch leaves no folder
    it created behind.

    ``cache`` (False, True for memory, or a path prefix) keeps the parsed
    training and validation batches after the first epoch, as in
    `keras_fm.data.read_libsvm`; `"auto"` (the default) keeps them in memory
    when the training and validation files hold at most `AUTO_CACHE_BYTES`
    on disk, and parses every epoch otherwise.

    ``task="ranking"`` trains the model's ``logit`` as a score with the BPR
    loss (`keras_fm.ranking.PairwiseRanker`) on implicit feedback: the rows
    with label > 0 are the positives, each paired with ``num_negatives`` items
    drawn from the items of the training positives (the catalog, written to
    ``catalog.npz``; a negative carries its own ``item_features``). Early
    stopping watches the validation pairs' `pairwise_accuracy`; the reported
    metrics are HR@10 and NDCG@10 of the positives of the validation and test
    files against ``num_candidates`` sampled items (None: all items), leaving
    out, with a ``user_field``, the items the user has in the training data
    and in the evaluated file. ``ranking`` holds ``item_field`` (required),
    ``item_features``, ``user_field``, ``num_negatives`` and
    ``num_candidates``.

    ``options`` holds the model and training settings, each defaulting to the
    model's (`keras_fm.cli.arguments.model_default`): ``embedding_dim``,
    ``dnn_units``, ``cin_layer_sizes``, ``dropout``, ``l2`` (the L2 on the
    latent vectors of each batch: one float for every feature, or a dict from
    feature name to penalty where the key ``"*"`` gives the penalty of the
    features not named, 0 without it), ``table_l2`` (FuxiCTR's whole-table
    lambda), ``learning_rate``, ``batch_size``, and ``epochs`` (at most;
    default 100) and ``patience`` (default 2).

    ``calibrate`` (`"platt"` or `"temperature"`, binary tasks) fits that
    calibration of the logit on the validation files once training ends
    (`keras_fm.calibration.calibrate`): the saved model is calibrated, and
    ``metrics.json`` also holds the fitted numbers and the uncalibrated ECE
    and log loss.
    Every run also writes ``history.csv`` and TensorBoard logs (``logs/``)
    per epoch, and ``report.png`` at the end (with matplotlib).

    ``strategy`` (a `tf.distribute` strategy, e.g. from
    `keras_fm.distribute.make_strategy`) trains on its replicas, with
    ``batch_size`` the global batch. In a multi-worker cluster every worker
    runs `train` with the same arguments; the chief writes ``model_dir``, the
    others a folder of their own (`keras_fm.distribute.worker_folder`,
    deleted when they finish) and resume from the chief's backup.

    Returns:
        ``{"valid": {...}, "test": {...}}`` (AUC and log loss for binary
        tasks, RMSE for regression, HR@10 and NDCG@10 for ranking), also
        written to ``metrics.json``.
    """
    if model_name not in BUILDERS:
        raise ValueError(
            f"unknown model {model_name!r}; choose from {sorted(BUILDERS)}"
        )
    if calibrate and (task != "binary" or not valid_paths):
        raise ValueError("--calibrate needs --task binary and --valid files")
    settings = {
        "model": model_name, "task": task, "data_format": data_format.to_dict(),
        "train": [os.path.abspath(p) for p in train_paths],
        "valid": [os.path.abspath(p) for p in valid_paths],
        "test": [os.path.abspath(p) for p in test_paths],
        **train_options(model_name, options or {}),
        "seed": seed, "cache": str(_auto_cache(cache, [*train_paths, *valid_paths])),
        "ranking": ranking, "calibrate": calibrate,
        "versions": package_versions(),
    }  # fmt: skip
    strategy = strategy or tf.distribute.get_strategy()
    if task == "ranking" and is_distributed(strategy):
        raise ValueError(RANKING_ON_ONE_DEVICE)
    out = Path(worker_folder(model_dir, strategy))
    resume_from = prepare(out, settings, restart, overwrite)  # may clear it
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    if resume_from:
        print(f"keras-fm train: resuming from epoch {resume_from + 1} ({out})")
    else:
        write_run(out, {"status": "training", "model": model_name, "task": task,
                        "settings": settings,
                        "distribute": describe(strategy)})  # fmt: skip
    try:
        with strategy.scope():
            metrics = _train(settings, data_format, out, verbose, Path(model_dir))
    except BaseException:
        if created and not finished_epochs(out):
            shutil.rmtree(out, ignore_errors=True)
        raise
    if not is_chief(strategy):
        shutil.rmtree(out, ignore_errors=True)  # the chief wrote the run
    return metrics


def train_options(model_name: str, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` with every option it lacks set to the model's default."""
    options: dict[str, Any] = {"epochs": EPOCHS, "patience": PATIENCE}
    for option in (*MODEL_OPTIONS, "learning_rate", "batch_size"):
        try:
            options[option] = model_default(model_name, option)
        except KeyError:
            continue
    unknown = sorted(set(given) - set(options))
    if unknown:
        raise ValueError(f"not options of model {model_name}: {unknown}")
    options.update(given)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}


def _train(
    settings: dict[str, Any],
    data_format: DataFormat,
    out: Path,
    verbose: int,
    chief_dir: Path,
) -> dict[str, Any]:
    """The body of `train` (in its strategy's scope): data, model, fit, and
    what it writes at the end."""
    model_name, task, seed = settings["model"], settings["task"], settings["seed"]
    train_paths, valid_paths = settings["train"], settings["valid"]
    batch_size, cache, ranking = (
        settings["batch_size"], _cache(settings["cache"]), settings["ranking"],
    )  # fmt: skip
    keras.utils.set_random_seed(seed)
    data_format.check_not_empty(train_paths)
    read_task = "binary" if task == "ranking" else task
    data_format, train_data, valid_data, test_data, rows = _read_data(
        data_format, settings, read_task, cache
    )
    if task == "ranking":
        ranking = check_ranking(ranking, data_format)
    model = _build(model_name, task, data_format, train_data, settings)
    if task == "ranking":
        train_data, valid_data, trained, catalog, seen = ranking_data(
            model, data_format, train_paths, train_data, valid_data, ranking,
            seed, verbose,
        )  # fmt: skip
        _compile_ranker(trained, settings["learning_rate"])
        save_catalog(out / CATALOG_FILE, catalog, seen)
        for pairs, _ in train_data.take(1):  # BackupAndRestore needs it built
            trained(pairs)
        steps_per_epoch, monitor, mode = None, "val_pairwise_accuracy", "max"
    else:
        trained, steps_per_epoch = _compile(model, task, settings, rows)
        monitor, mode = ("val_auc", "max") if task == "binary" else ("val_rmse", "min")
    classes = {
        name: label_classes(data_format, paths) if task == "binary" and paths else None
        for name, paths in (("valid", valid_paths), ("test", settings["test"]))
    }
    if valid_paths and monitor == "val_auc" and len(classes["valid"] or ()) < 2:
        warn(
            f"every validation label is {sorted(classes['valid'] or [])}: AUC is "
            "undefined, so early stopping watches val_loss"
        )
        monitor, mode = "val_loss", "min"
    if valid_data is None:
        monitor = monitor[4:]
    _fit(trained, train_data, valid_data, settings, (monitor, mode), out,
         chief_dir, verbose, steps_per_epoch)  # fmt: skip
    save_model(model, out / MODEL_FILE)  # the best weights (`BestCheckpoint`)
    calibration = None
    if settings["calibrate"]:
        model, calibration = calibrate_run(
            model, settings["calibrate"], valid_data, test_data, out / MODEL_FILE
        )

    def scores(name: str) -> dict[str, Any]:
        paths = settings[name]
        if not paths:
            return {}
        if name == "test":
            data = test_data
        elif task != "ranking":
            data = valid_data  # parsed (and cached) for validation already
        else:  # the validation rows, not the pairs validation ran on
            data = for_strategy(
                data_format.read(paths, read_task, batch_size),
                len(resolve_paths(paths)),
            )
        if task == "ranking":
            return ranking_file_metrics(model, data, catalog, seen, ranking or {})
        return task_metrics(model, data, task, classes[name])

    metrics: dict[str, Any] = {"valid": scores("valid"), "test": scores("test")}
    if calibration is not None:
        metrics["calibration"] = calibration
    (out / METRICS_FILE).write_text(to_json(metrics))
    write_report(out, monitor)
    run = {**(read_run(out) or {}), "status": "trained",
           "data_format": data_format.to_dict()}  # fmt: skip
    if task == "ranking":
        run["ranking"] = ranking
    write_run(out, run)
    return metrics


def _fit(
    trained: keras.Model,
    train_data: Any,
    valid_data: Any,
    settings: dict[str, Any],
    watch: tuple[str, str],
    out: Path,
    chief_dir: Path,
    verbose: int,
    steps_per_epoch: int | None = None,
) -> None:
    """`fit` with the run's callbacks; ``watch`` is the metric and its mode;
    ``steps_per_epoch`` cuts a stream of training batches into epochs."""
    monitor, mode = watch
    if verbose and is_distributed(trained):
        print(f"keras-fm train: {describe(trained.distribute_strategy)}; XLA off, "
              "one step per call")  # fmt: skip
    callbacks = training_callbacks(
        out, monitor=monitor, mode=mode, patience=settings["patience"],
        restore_from=chief_dir,
    )  # fmt: skip
    if verbose:
        callbacks.append(EpochLog(settings["epochs"]))
    trained.fit(
        train_data,
        validation_data=valid_data,
        epochs=settings["epochs"],
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        verbose=0,
    )


def _compile(
    model: keras.Model, task: str, settings: dict[str, Any], rows: int | None
) -> tuple[keras.Model, int | None]:
    """`compile_for_task` with the model's default optimizer, and the steps
    per epoch: with ``rows`` (a stream of full batches), `epoch_steps`' (in
    whole calls), else None (each pass of the data is an epoch)."""
    optimizer, jit_compile = default_optimizer(model, settings["learning_rate"])
    if rows is None:
        return compile_for_task(model, task, optimizer, jit_compile=jit_compile), None
    steps, group = epoch_steps(rows, settings["batch_size"], STEPS_PER_EXECUTION)
    compiled = compile_for_task(
        model, task, optimizer, jit_compile=jit_compile, steps_per_execution=group
    )
    return compiled, steps


def _read_data(
    data_format: DataFormat, settings: dict[str, Any], task: str, cache: Cache
) -> tuple[DataFormat, Any, Any, Any, Any]:
    """The format with its sizes; the training, validation and test data; and
    the training data's rows when they stream, else None.

    On one device, but for ranking, the training data is
    `DataFormat.read_stream`'s endless stream of full batches, which `_fit`
    cuts into epochs by the counted rows (`keras_fm.training.epoch_steps`),
    with its one-pass dataset for sizing and vocabularies as its attribute
    ``one_pass``. The sizes (`DataFormat.infer_sizes`) take a pass over every
    file before the data is read. Raw libsvm rows cached in memory are read
    first and sized from the batches instead (`DataFormat.with_sizes_of`):
    that pass fills the caches, so each file is parsed once. Without test
    files the test data is None.
    """
    paths = [settings[name] for name in ("train", "valid", "test")]
    sized_later = cache is True and data_format.sized_by_reading
    if not sized_later:
        data_format = data_format.infer_sizes([p for group in paths for p in group])
    batch_size, seed = settings["batch_size"], settings["seed"]

    def read(group: list[str], cached: Cache = cache, **shuffle: Any) -> Any:
        if not group:
            return None
        data = data_format.read(group, task, batch_size, cache=cached, **shuffle)
        return for_strategy(data, len(resolve_paths(group)))

    shuffle = {"shuffle_buffer": 250_000, "seed": seed}
    distributed = is_distributed(tf.distribute.get_strategy())
    stream = settings["task"] != "ranking" and not distributed
    rows = data_format.count_rows(paths[0]) if stream else None
    if stream:
        train, one_pass = data_format.read_stream(
            paths[0], task, batch_size, cache=cache, **shuffle
        )
        train.one_pass = one_pass
    else:
        train = read(paths[0], **shuffle)
    valid = read(paths[1])
    test = read(paths[2], cached=cache if sized_later else False)  # read once
    if sized_later:
        present = [d for d in (_one_pass(train), valid, test) if d is not None]
        data_format = data_format.with_sizes_of(present)
    return data_format, train, valid, test, rows


def _one_pass(train: Any) -> Any:
    """One pass over the training data (of a stream, its ``one_pass``)."""
    return getattr(train, "one_pass", train)


def _compile_ranker(trained: keras.Model, rate: float) -> None:
    """BPR on pairs, with LazyAdam (the pair model's tables are large)."""
    trained.compile(
        LazyAdam(rate),
        bpr_loss(),
        metrics=[pairwise_accuracy],
        jit_compile=False,
        steps_per_execution=STEPS_PER_EXECUTION,
    )


def _auto_cache(cache: Cache | str, paths: Sequence[str]) -> Cache:
    """``cache``, with `"auto"` resolved by the size of the files."""
    if cache != "auto":
        return cache
    size = sum(os.path.getsize(path) for path in resolve_paths(list(paths)))
    return size <= AUTO_CACHE_BYTES


def _cache(text: str) -> Cache:
    return {"True": True, "False": False}.get(text, text)


def _build(
    model_name: str,
    task: str,
    data_format: DataFormat,
    train_data: Any,
    settings: dict[str, Any],
) -> keras.Model:
    read_task = "binary" if task == "ranking" else task
    l2 = settings["l2"]
    if data_format.has_fields:
        builder: Any = BUILDERS[model_name]
        features = data_format.feature_specs(_one_pass(train_data))
        return builder(
            features, task=read_task, **_model_kwargs(model_name, settings, features)
        )
    if model_name == "fm":
        if isinstance(l2, dict):
            raise ValueError(
                "an L2 per feature needs fields (libffm data, libsvm rows with "
                f"--fields-by-position, CSV or TFRecord); got {l2!r} for libsvm "
                "rows without fields: give one number"
            )
        return build_sparse_fm(
            data_format.num_features or 1,
            embedding_dim=settings["embedding_dim"],
            embeddings_l2=l2,
            embeddings_regularizer=table_l2(settings["table_l2"]),
            weights_regularizer=table_l2(settings["table_l2"]),
            task=task,
            padded=data_format.padded,
        )
    raise ValueError(
        f"{model_name} needs fields: use libffm data, or libsvm rows with one "
        "feature per field and --fields-by-position"
    )


def _embeddings_l2(
    l2: float | dict[str, float], features: Sequence[Any]
) -> float | dict[str, float]:
    """``l2`` with its ``"*"`` entry (the default) given to every feature not named."""
    if not isinstance(l2, dict):
        return l2
    named = {name: value for name, value in l2.items() if name != "*"}
    if "*" not in l2:
        return named
    return {**{feature.name: l2["*"] for feature in features}, **named}


def _model_kwargs(
    name: str, options: dict[str, Any], features: Sequence[Any]
) -> dict[str, Any]:
    """The builder arguments of the command's model options."""
    kwargs = {
        "embedding_dim": options["embedding_dim"],
        "embeddings_l2": _embeddings_l2(options["l2"], features),
        "embeddings_regularizer": table_l2(options["table_l2"]),
        "weights_regularizer": table_l2(options["table_l2"]),
    }
    for option in ("dnn_units", "cin_layer_sizes"):
        if option in options:
            kwargs[option] = tuple(options[option])
    if "dropout" in options:
        kwargs["attention_dropout" if name == "afm" else "dropout"] = options["dropout"]
    return kwargs


def data_format_of(args: argparse.Namespace) -> DataFormat:
    """The `DataFormat` of ``keras-fm train``'s arguments (before sizing).

    Args:
        args: the parsed ``keras-fm train`` arguments.

    Returns:
        The format, its sizes not yet inferred.
    """
    return DataFormat(
        args.format,
        num_features=args.num_features,
        num_fields=args.num_fields,
        fields_by_position=args.fields_by_position,
        label_column=args.label_column,
        numeric_columns=[c for c in args.numeric_columns.split(",") if c],
        field_delim=args.field_delim,
        min_count=args.min_count,
        padded=_pads(args),
    )


def _pads(args: argparse.Namespace) -> bool:
    """Whether rows that may be raw libsvm rows (libsvm, or TFRecords of them)
    train padded (`PAD_FROM_BYTES`); missing files are reported later, by the
    reader."""
    if args.format not in ("libsvm", "tfrecord") or args.fields_by_position:
        return False
    try:
        files = resolve_paths(args.train)
    except (OSError, ValueError):
        return False
    return sum(os.path.getsize(path) for path in files) >= PAD_FROM_BYTES


def run(args: argparse.Namespace) -> dict[str, Any]:
    """`train` with the command's arguments."""
    if args.learner != "sgd":
        from keras_fm.cli import bayes

        if args.calibrate:
            raise ValueError("--calibrate applies to --learner sgd")
        return bayes.run(args)
    if args.distribute and args.task == "ranking":
        raise ValueError(RANKING_ON_ONE_DEVICE)
    with contextlib.nullcontext() if args.verbose else quiet_stderr():
        strategy = make_strategy(args.distribute, args.devices)  # before TF runs
    fill_train_defaults(args)
    data_format = data_format_of(args)
    ranking = None
    if args.task == "ranking":
        ranking = {
            "item_field": args.item_field,
            "item_features": [f for f in args.item_features.split(",") if f],
            "user_field": args.user_field,
            "num_negatives": args.num_negatives,
            "num_candidates": args.num_candidates or None,
        }
    names = (*MODEL_OPTIONS, "learning_rate", "batch_size", "epochs", "patience")
    options = {
        name: getattr(args, name)
        for name in names
        if getattr(args, name, None) is not None
    }
    return train(
        args.model, data_format, args.train, args.model_dir, args.task,
        valid_paths=args.valid, test_paths=args.test, options=options,
        seed=args.seed, cache=CACHE_WORDS.get(args.cache, args.cache),
        restart=args.restart, overwrite=args.overwrite, ranking=ranking,
        strategy=strategy, calibrate=args.calibrate,
    )  # fmt: skip
