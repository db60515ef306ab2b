"""Per-field attributions of the scores of the FM family's models."""

import dataclasses
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_fm.explain.explainer import Explainer


@dataclasses.dataclass(frozen=True)
class Attributions:
    """A batch of scores split by field: ``bias + fields.sum(1) + rest == logit``.

    Attributes:
        field_names: `(F,)` the fields' names, in the model's field order.
        bias: `(B,)` the global bias ``w0`` (0 without a first-order term).
        fields: `(B, F)` each field's part of the score: its first-order
            term, half of each of its second-order pairs and ``1 / t`` of each
            of its order-``t`` terms. For FM, FFM and HOFM this is the field's
            exact Shapley value, "absent" meaning the field deleted; for AFM
            the pairs are the attention-weighted terms as computed, which is
            not a Shapley value since attention couples the pairs (deleting a
            field re-weights the others' pairs).
        pairs: `(B, F, F)` the second-order term of each pair of fields
            (symmetric, zero diagonal; the pairs above the diagonal sum to
            the model's second-order term), or None for a model without one.
        rest: `(B,)` the terms no field owns exactly: the DNN of DeepFM,
            xDeepFM, NFM and AutoInt+, CIN, AutoInt's attention.
        logit: `(B,)` the model's ``logit`` (the score before the sigmoid or
            the output range).
        deep_error: `(B,)` with ``deep="integrated_gradients"``, the part of
            the deep terms the path integral missed (kept in ``rest``, so the
            sum stays exact), else None.
    """

    field_names: np.ndarray
    bias: np.ndarray
    fields: np.ndarray
    pairs: np.ndarray | None
    rest: np.ndarray
    logit: np.ndarray
    deep_error: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.logit)

    def field_importance(self) -> np.ndarray:
        """`(F,)` the mean absolute part of each field over the rows."""
        return np.mean(np.abs(self.fields), axis=0)

    def interaction_matrix(self) -> np.ndarray | None:
        """`(F, F)` the mean absolute term of each pair of fields over the
        rows (the field-interaction matrix), or None without pairs."""
        return None if self.pairs is None else np.mean(np.abs(self.pairs), axis=0)

    def completeness_error(self) -> float:
        """The largest ``|bias + sum(fields) + rest - logit|`` of the rows."""
        total = self.bias + self.fields.sum(axis=1) + self.rest
        return float(np.max(np.abs(total - self.logit), initial=0.0))


def attributions(
    model: keras.Model,
    inputs: Any,
    batch_size: int = 4096,
    deep: str = "rest",
    steps: int = 32,
) -> Attributions:
    """Splits every score of a model of the FM family by field.

    The ``logit`` of the models built by `keras_fm.models` is a sum of terms;
    those the decomposition knows are split exactly: the first-order term by
    field (`FieldEmbedding.first_order_by_field`), FM's, FFM's and AFM's
    pairwise terms by pair, HOFM's order-``t`` terms into ``1 / t`` per
    field of each. Any other term (a DNN, CIN, AutoInt's attention) goes to
    ``rest`` whole. A model over raw libsvm rows (`build_sparse_fm`) has no
    fields: its "fields" are the positions of the rows' non-zeros
    (``"position 1"``, ...; frappe's rows hold one per field, in order),
    each a player of its own, with exact Shapley values.

    Args:
        model: a model whose output is computed from a layer named
            ``"logit"`` fed by the field layers (every `keras_fm.models`
            builder).
        inputs: a dict from feature name to values (NumPy, tensors or ragged
            tensors), or a `tf.data.Dataset` of such dicts or of
            ``(features, label)`` batches.
        batch_size: rows per forward pass, for a dict.
        deep: `"rest"` (the default) leaves the deep terms (DeepFM's DNN,
            xDeepFM's CIN and DNN, NFM's and AutoInt's networks) whole in
            ``rest``; `"integrated_gradients"` splits them by field with
            integrated gradients on the field vectors from the point where
            every field is deleted (Sundararajan et al., 2017), which is an
            approximation: ``deep_error`` holds what it missed.
        steps: integrated gradients' points on the path. Defaults to `32`.

    Returns:
        An `Attributions` of every row, in input order.

    Example:

    >>> import numpy as np
    >>> from keras_fm.features import IdFeature
    >>> from keras_fm.models import build_fm
    >>> model = build_fm([IdFeature("user", 5), IdFeature("item", 7)])
    >>> inputs = {"user": np.array([1, 2]), "item": np.array([3, 4])}
    >>> result = attributions(model, inputs)
    >>> result.fields.shape, result.completeness_error() < 1e-5
    ((2, 2), True)
    """
    explainer = Explainer(model, deep, steps)
    parts = [_run(explainer, batch) for batch in _batches(inputs, batch_size)]
    if not parts:
        raise ValueError("`inputs` holds no row")
    width = max(part["fields"].shape[1] for part in parts)
    pairs = None
    if parts[0]["pairs"] is not None:
        pairs = np.concatenate([_pad(part["pairs"], width, 2) for part in parts])
    names = explainer.field_names or [f"position {i + 1}" for i in range(width)]
    return Attributions(
        field_names=np.array(names),
        bias=np.concatenate([part["bias"] for part in parts]),
        fields=np.concatenate([_pad(part["fields"], width, 1) for part in parts]),
        pairs=pairs,
        rest=np.concatenate([part["rest"] for part in parts]),
        logit=np.concatenate([part["logit"] for part in parts]),
        deep_error=None
        if "deep_error" not in parts[0]
        else np.concatenate([part["deep_error"] for part in parts]),
    )


def _run(explainer: Explainer, batch: Any) -> dict[str, Any]:
    """One batch's split as NumPy; a `SparseFM` model's positions cut after
    the batch's last used column (padding ids are below 0)."""
    result = {name: value.numpy() for name, value in explainer(batch).items()}
    result.setdefault("pairs", None)
    if explainer.sparse and not explainer.field_names:
        ids = batch["ids"]
        width = _used_width(ids)
        result["fields"] = result["fields"][:, :width]
        if result["pairs"] is not None:
            result["pairs"] = result["pairs"][:, :width, :width]
    return result


def _used_width(ids: Any) -> int:
    if isinstance(ids, tf.RaggedTensor):
        return int(ids.bounding_shape()[1])
    used = np.flatnonzero(np.any(np.asarray(ids) >= 0, axis=0))
    return int(used[-1]) + 1 if len(used) else 0


def _pad(array: np.ndarray, width: int, axes: int) -> np.ndarray:
    """Zeros up to ``width`` on the last ``axes`` axes (rows of fewer non-zeros)."""
    missing = width - array.shape[-1]
    return np.pad(array, [(0, 0)] * (array.ndim - axes) + [(0, missing)] * axes)


def _batches(inputs: Any, batch_size: int) -> Iterator[Any]:
    if isinstance(inputs, tf.data.Dataset):
        for element in inputs:
            yield element[0] if isinstance(element, tuple) else element
        return
    if not isinstance(inputs, dict) or not inputs:
        raise ValueError(
            "`inputs` must be a dict from feature name to values or a "
            f"tf.data.Dataset. Received: {type(inputs).__name__}"
        )
    rows = int(tf.shape(next(iter(inputs.values())))[0])
    for start in range(0, rows, batch_size):
        yield {
            name: value[start : start + batch_size] for name, value in inputs.items()
        }
