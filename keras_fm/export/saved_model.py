"""Versioned SavedModels for TF Serving, written atomically."""

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from keras_fm.export.serving_model import ServingFunctions, serving_signature
from keras_fm.export.versions import new_staging_folder, publish
from keras_fm.serving import Signature, predict_request
from keras_fm.serving.signature import SIGNATURE_FILE

WARMUP_FILE = "tf_serving_warmup_requests"


def sample_rows(signature: Signature, count: int = 2) -> list[dict[str, Any]]:
    """Rows of placeholder values (0, "", 0.0; lists of one such value):
    warm-up requests when no real rows are given."""
    zero = {"string": "", "float32": 0.0, "int32": 0, "int64": 0}
    return [
        {
            spec.name: [zero[spec.dtype]] if spec.is_list else zero[spec.dtype]
            for spec in signature.inputs
        }
        for _ in range(count)
    ]


def write_warmup_requests(
    path: str | os.PathLike,
    rows: Sequence[Mapping[str, Any]],
    signature: Signature,
    model_name: str = "model",
) -> int:
    """Writes TF Serving warm-up records (PredictionLog protos) for ``rows``.

    One request of the first row alone and one of all rows, so that the
    server traces both a batch of one and a larger batch before it serves.

    Args:
        path: the records file to write
            (``assets.extra/tf_serving_warmup_requests``).
        rows: the example rows, ``{input name: value}`` each.
        signature: the model's `Signature`.
        model_name: the model name in the requests. Defaults to `"model"`.

    Returns:
        The number of records written.
    """
    batches = [rows[:1], rows] if len(rows) > 1 else [rows]
    with tf.io.TFRecordWriter(str(path)) as writer:
        for batch in batches:
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(
                    request=predict_request(batch, signature, model_name)
                )
            )
            writer.write(log.SerializeToString())
    return len(batches)


def export_saved_model(
    model: keras.Model,
    base_path: str | os.PathLike,
    version: int | None = None,
    *,
    overwrite: bool = False,
    warmup_rows: Sequence[Mapping[str, Any]] | None = None,
    explain: bool = False,
) -> Path:
    """Exports ``model`` as version ``version`` of a TF Serving model.

    The SavedModel is written into a staging folder inside ``base_path`` (a
    name TF Serving ignores) and renamed to ``base_path/<version>`` once
    complete, so a server watching ``base_path`` never loads a half-written
    version. Versions are chosen and renamed under a lock on the base path:
    concurrent exports with ``version=None`` get distinct versions, and none
    replaces another's. ``overwrite`` swaps the old and new folders in one
    atomic step on Linux, so a server never finds the version missing.
    Folders and files get the umask's permissions (0755 / 0644 under umask
    022). Staging folders of killed exports are removed by the next export.

    Signatures:

    - ``serving_default``: one input per model input, named as the features:
      `(batch,)` for one value per example, `(batch, length)` for lists
      padded with the feature's ``pad_value`` (strings or integers for lookup
      and hashed features, floats for numeric ones — raw values: lookups,
      hashing and normalization run in the graph). Outputs ``prediction``
      `(batch,)` and, for binary models, ``logit`` `(batch,)`.
    - ``examples``: input ``examples``, a `(batch,)` string tensor of
      serialized `tf.Example` protos holding the same features by name; same
      outputs. A feature missing from an example reads as missing: -1
      (integers), ``""`` (strings), NaN (numbers), or an empty list.
    - ``explain`` (with ``explain=True``): the inputs of ``serving_default``;
      outputs ``fields`` `(batch, F)` (each field's part of the logit, as
      `keras_fm.explain.attributions` computes it: exact Shapley values for
      FM, FFM and HOFM), ``bias``, ``rest`` and ``logit`` `(batch,)`, with
      ``bias + sum(fields) + rest == logit``.

    Values out of a vocabulary or range (unknown strings, ids beyond the
    vocabulary, negative ids) go to the out-of-vocabulary rows: no request
    fails because of a value.

    ``assets.extra/`` holds ``tf_serving_warmup_requests`` (PredictionLog
    records of ``warmup_rows``, or of placeholder rows) and
    ``keras_fm_signature.json`` (the `keras_fm.serving.Signature` that
    request helpers use).

    Args:
        model: a model of `keras_fm.models`, or any functional model whose
            inputs are named (and, for both outputs, whose logit layer is
            named ``"logit"`` and output layer ``"prediction"``).
        base_path: the TF Serving model base path.
        version: Optional int. Defaults to `None`: one more than the highest
            version present (1 for a new base path).
        overwrite: bool. Replace an existing version. Defaults to `False`.
        warmup_rows: Optional list of feature dicts for the warm-up records.
        explain: bool. Add the ``explain`` signature. Defaults to `False`.

    Returns:
        The version directory, ``base_path/<version>`` (with ``version=None``,
        the version is chosen when the export is complete).

    Raises:
        FileExistsError: if the version exists and ``overwrite`` is False.
        ValueError: for a version that is not a non-negative int.
    """
    base = Path(base_path)
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 0
    ):
        raise ValueError(f"`version` must be a non-negative int. Received: {version!r}")
    if version is not None and (base / str(version)).exists() and not overwrite:
        raise FileExistsError(
            f"{base / str(version)} exists; pass overwrite=True (CLI: --overwrite) "
            "to replace it, or choose another version."
        )
    signature = serving_signature(model)
    functions = ServingFunctions(model, signature, explain=explain)
    archive = keras.export.ExportArchive()
    archive.track(functions.model)
    archive.add_endpoint(
        "serving_default",
        functions.serve,
        input_signature=[functions.input_signature()],
    )
    archive.add_endpoint(
        "examples",
        lambda examples: functions.examples(examples),
        input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
    )
    if explain:
        archive.add_endpoint(
            "explain", functions.explain, input_signature=[functions.input_signature()]
        )
    staging = new_staging_folder(base)
    try:
        archive.write_out(str(staging), verbose=False)
        extra = staging / "assets.extra"
        extra.mkdir()
        (extra / SIGNATURE_FILE).write_text(signature.to_json(), encoding="utf-8")
        rows = list(warmup_rows) if warmup_rows else sample_rows(signature)
        write_warmup_requests(extra / WARMUP_FILE, rows, signature)
        target = publish(staging, version, overwrite)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target
