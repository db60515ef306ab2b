"""What the ``keras-fm`` commands do, as importable functions."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_fm.data.formats import DataFormat
from keras_fm.data.pipeline import Cache
from keras_fm.models import (
    BUILDERS,
    build_sparse_fm,
    compile_for_task,
    default_optimizer,
    default_steps_per_execution,
)
from keras_fm.optimizers import LazyAdam
from keras_fm.ranking import bpr_loss, load_catalog, pairwise_accuracy, save_catalog
from keras_fm.ranking_task import (
    check_ranking,
    ranking_data,
    ranking_file_metrics,
    scorer,
)
from keras_fm.training import training_callbacks

MODEL_FILE = "model.keras"
RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
CATALOG_FILE = "catalog.npz"
DNN_MODELS = ("deepfm", "xdeepfm", "nfm", "autoint")


def _metrics(model: keras.Model, dataset: Any, task: str) -> dict[str, float]:
    scores = model.evaluate(dataset, verbose=0, return_dict=True)
    names = ("auc", "logloss") if task == "binary" else ("rmse",)
    return {name: round(float(scores[name]), 6) for name in names}


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
    kwargs = {
        "embedding_dim": options["embedding_dim"],
        "embeddings_l2": _embeddings_l2(options["l2"], features),
    }
    if name in DNN_MODELS:
        kwargs.update(
            {"dnn_units": tuple(options["dnn_units"]), "dropout": options["dropout"]}
        )
    if name == "afm":
        kwargs["dropout"] = options["dropout"]
    if name == "xdeepfm":
        kwargs["cin_layer_sizes"] = tuple(options["cin_layer_sizes"])
    return kwargs


def train(
    model_name: str,
    data_format: DataFormat,
    train_paths: Sequence[str],
    model_dir: str,
    task: str,
    valid_paths: Sequence[str] = (),
    test_paths: Sequence[str] = (),
    embedding_dim: int = 10,
    dnn_units: Sequence[int] = (400, 400, 400),
    cin_layer_sizes: Sequence[int] = (16, 16),
    dropout: float = 0.0,
    l2: float | dict[str, float] = 0.0,
    epochs: int = 20,
    batch_size: int = 4096,
    learning_rate: float = 1e-3,
    patience: int = 2,
    seed: int = 0,
    verbose: int = 2,
    cache: Cache = False,
    ranking: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Trains a model of the zoo on files; writes the model and its metrics.

    ``cache`` (False, True for memory, or a path prefix) keeps the parsed
    training and validation batches after the first epoch, as in
    `keras_fm.data.read_libsvm`.

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

    ``l2`` is the L2 on the latent vectors of each batch: one float for every
    feature, or a dict from feature name to penalty where the key ``"*"``
    gives the penalty of the features not named (0 without it).

    Returns:
        ``{"valid": {...}, "test": {...}}`` (AUC and log loss for binary
        tasks, RMSE for regression, HR@10 and NDCG@10 for ranking), also
        written to ``metrics.json``.
    """
    if model_name not in BUILDERS:
        raise ValueError(
            f"unknown model {model_name!r}; choose from {sorted(BUILDERS)}"
        )
    keras.utils.set_random_seed(seed)
    out = Path(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    data_format = data_format.infer_sizes([*train_paths, *valid_paths, *test_paths])
    read_task = "binary" if task == "ranking" else task
    if task == "ranking":
        ranking = check_ranking(ranking, data_format)
    train_data = data_format.read(
        train_paths,
        read_task,
        batch_size,
        shuffle_buffer=100_000,
        seed=seed,
        cache=cache,
    )
    valid_data = (
        data_format.read(valid_paths, read_task, batch_size, cache=cache)
        if valid_paths
        else None
    )
    if data_format.has_fields:
        options = {
            "embedding_dim": embedding_dim,
            "l2": l2,
            "dnn_units": dnn_units,
            "dropout": dropout,
            "cin_layer_sizes": cin_layer_sizes,
        }
        builder: Any = BUILDERS[model_name]
        features = data_format.feature_specs(train_data)
        model = builder(
            features, task=read_task, **_model_kwargs(model_name, options, features)
        )
    elif model_name == "fm":
        if isinstance(l2, dict):
            raise ValueError(
                "an L2 per feature needs fields (libffm data, libsvm rows with "
                f"--fields-by-position, CSV or TFRecord); got {l2!r} for libsvm "
                "rows without fields: give one number"
            )
        model = build_sparse_fm(
            data_format.num_features or 1,
            embedding_dim=embedding_dim,
            embeddings_l2=l2,
            task=task,
        )
    else:
        raise ValueError(
            f"{model_name} needs fields: use libffm data, or libsvm rows with one "
            "feature per field and --fields-by-position"
        )
    if task == "ranking":
        assert ranking is not None
        train_data, valid_data, trained, catalog, seen = ranking_data(
            model,
            data_format,
            train_paths,
            train_data,
            valid_data,
            ranking,
            seed,
            verbose,
        )
        trained.compile(
            LazyAdam(learning_rate),
            bpr_loss(),
            metrics=[pairwise_accuracy],
            jit_compile=False,
            steps_per_execution=default_steps_per_execution(model),
        )
        monitor, mode = "val_pairwise_accuracy", "max"
        save_catalog(out / CATALOG_FILE, catalog, seen)
    else:
        optimizer, jit_compile = default_optimizer(model, learning_rate)
        trained = compile_for_task(model, task, optimizer, jit_compile=jit_compile)
        monitor, mode = ("val_auc", "max") if task == "binary" else ("val_rmse", "min")
    if valid_data is None:
        monitor = monitor[4:]
    trained.fit(
        train_data,
        validation_data=valid_data,
        epochs=epochs,
        callbacks=training_callbacks(
            out, monitor=monitor, mode=mode, patience=patience, resume=False
        ),
        verbose=verbose,
    )
    model.save(out / MODEL_FILE)  # the best weights, restored by early stopping
    run: dict[str, Any] = {
        "model": model_name,
        "task": task,
        "data_format": data_format.to_dict(),
    }
    if task == "ranking":
        run["ranking"] = ranking
    (out / RUN_FILE).write_text(json.dumps(run, indent=2))

    def scores(paths: Sequence[str]) -> dict[str, float]:
        if not paths:
            return {}
        data = data_format.read(paths, read_task, batch_size)
        if task == "ranking":
            return ranking_file_metrics(model, data, catalog, seen, ranking or {})
        return _metrics(model, data, task)

    metrics: dict[str, Any] = {"valid": scores(valid_paths), "test": scores(test_paths)}
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
    return metrics


def _load(model_dir: str) -> tuple[keras.Model, DataFormat, str]:
    folder = Path(model_dir)
    if not (folder / MODEL_FILE).is_file():
        raise FileNotFoundError(
            f"no trained model in {model_dir!r} (missing {MODEL_FILE})"
        )
    model = keras.saving.load_model(folder / MODEL_FILE)
    run = _run_info(model_dir)
    return model, DataFormat(**run["data_format"]), run["task"]


def _run_info(model_dir: str) -> dict[str, Any]:
    return json.loads((Path(model_dir) / RUN_FILE).read_text())


def evaluate(
    model_dir: str, paths: Sequence[str], batch_size: int = 4096
) -> dict[str, float]:
    """The trained model's metrics on ``paths`` (for ranking: HR@10, NDCG@10)."""
    model, data_format, task = _load(model_dir)
    if task == "ranking":
        catalog, seen = load_catalog(Path(model_dir) / CATALOG_FILE)
        data = data_format.read(paths, "binary", batch_size)
        return ranking_file_metrics(
            model, data, catalog, seen, _run_info(model_dir)["ranking"]
        )
    return _metrics(model, data_format.read(paths, task, batch_size), task)


def predict(
    model_dir: str, paths: Sequence[str], output: str, batch_size: int = 4096
) -> int:
    """Writes one prediction per input row, in input order; returns the count.

    For a ranking model the prediction is the row's score (its ``logit``).
    """
    model, data_format, task = _load(model_dir)
    if task == "ranking":
        model, task = scorer(model), "binary"
    predictions = model.predict(data_format.read(paths, task, batch_size), verbose=0)
    np.savetxt(output, predictions.reshape(-1), fmt="%.6g")
    return int(predictions.shape[0])


def _rows(features: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """The first ``count`` examples of a batch of model inputs, as dicts."""
    columns = {
        name: value.to_list()
        if isinstance(value, tf.RaggedTensor)
        else value.numpy().tolist()
        for name, value in features.items()
    }
    rows = []
    for index in range(min(count, len(next(iter(columns.values()))))):
        row = {}
        for name, values in columns.items():
            value = values[index]
            if (
                isinstance(value, list)
                and len(value) == 1
                and not _is_list(features[name])
            ):
                value = value[0]
            row[name] = value.decode() if isinstance(value, bytes) else value
            if isinstance(row[name], list):
                row[name] = [v.decode() if isinstance(v, bytes) else v for v in value]
        rows.append(row)
    return rows


def _is_list(tensor: Any) -> bool:
    return isinstance(tensor, tf.RaggedTensor) or (
        len(tensor.shape) == 2 and tensor.shape[1] != 1
    )


def export(
    model_dir: str,
    saved_model: str,
    version: int | None = None,
    overwrite: bool = False,
    tflite: str | None = None,
    quantize: str = "none",
    sample_data: Sequence[str] = (),
) -> dict[str, Any]:
    """Exports a trained model: a TF Serving version and optionally TFLite.

    ``sample_data`` (files in the model's format) gives the warm-up requests
    (its first 16 rows) and, for ``quantize="int8"``, the calibration data
    (its first 1024 rows).
    """
    from keras_fm.export import edge_inputs, export_saved_model, to_tflite

    model, data_format, task = _load(model_dir)
    warmup_rows, calibration = None, None
    if sample_data:
        read_task = "binary" if task == "ranking" else task
        batch, _ = next(iter(data_format.read(sample_data, read_task, 1024)))
        warmup_rows = _rows(batch, 16)
        calibration = [
            {k: v.numpy() for k, v in edge_inputs(model, batch).items()}
        ] if tflite else None  # fmt: skip
    elif quantize == "int8":
        raise ValueError("--quantize int8 needs --sample-data for calibration")
    path = export_saved_model(
        model, saved_model, version, overwrite=overwrite, warmup_rows=warmup_rows
    )
    result: dict[str, Any] = {"saved_model": str(path)}
    if tflite:
        result["tflite"] = to_tflite(
            model, tflite, quantize=quantize, representative_data=calibration
        )
    return result
