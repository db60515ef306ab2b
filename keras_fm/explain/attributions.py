"""Per-field attributions of the scores of the FM family's models."""

import dataclasses
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_fm.explain import decompose
from keras_fm.layers import (
    AFMInteraction,
    ANOVAInteraction,
    FieldAwareFM,
    FMInteraction,
    SparseFM,
)
from keras_fm.layers.field_input_layer import FieldInputLayer
from keras_fm.layers.sparse_fm import clean_nonzeros


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
    """

    field_names: np.ndarray
    bias: np.ndarray
    fields: np.ndarray
    pairs: np.ndarray | None
    rest: np.ndarray
    logit: np.ndarray

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
    model: keras.Model, inputs: Any, batch_size: int = 4096
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
    plan = _Plan(model)
    parts = [plan.run(batch) for batch in _batches(inputs, batch_size)]
    if not parts:
        raise ValueError("`inputs` holds no row")
    width = max(part["fields"].shape[1] for part in parts)
    pairs = None
    if parts[0]["pairs"] is not None:
        pairs = np.concatenate([_pad(part["pairs"], width, 2) for part in parts])
    names = plan.field_names or [f"position {i + 1}" for i in range(width)]
    return Attributions(
        field_names=np.array(names),
        bias=np.concatenate([part["bias"] for part in parts]),
        fields=np.concatenate([_pad(part["fields"], width, 1) for part in parts]),
        pairs=pairs,
        rest=np.concatenate([part["rest"] for part in parts]),
        logit=np.concatenate([part["logit"] for part in parts]),
    )


class _Plan:
    """Which of the logit's terms are split how, and one model that computes
    the logit, every term and the inputs of the split interaction layers."""

    def __init__(self, model: keras.Model) -> None:
        try:
            logit = model.get_layer("logit")
        except ValueError:
            raise ValueError(
                f"model {model.name!r} has no layer named 'logit': attributions "
                "take the models of keras_fm.models"
            ) from None
        producers = _producers(model)
        terms = logit.input if isinstance(logit.input, list) else [logit.input]
        self.terms = [producers[id(term)] for term in terms]
        embeddings = [
            layer for layer in model.layers if isinstance(layer, FieldInputLayer)
        ]
        sparse = any(isinstance(layer, SparseFM) for layer, _ in self.terms)
        if not embeddings and not sparse:
            raise ValueError(
                f"model {model.name!r} has no field embedding (FieldEmbedding) "
                "nor SparseFM: attributions need a model of keras_fm.models"
            )
        self.field_names = (
            [feature.name for feature in embeddings[0].features] if embeddings else []
        )
        outputs = [logit.output, *terms]
        outputs += [layer.input for layer, _ in self.terms if _split(layer)]
        self.model = keras.Model(model.input, outputs)

    def run(self, batch: Any) -> dict[str, Any]:
        values = [
            np.asarray(value, np.float64) for value in self.model(batch, training=False)
        ]
        logit, terms = values[0][:, 0], values[1 : 1 + len(self.terms)]
        sources = iter(values[1 + len(self.terms) :])
        size, count = self._width(batch), len(logit)
        fields, bias, rest = np.zeros((count, size)), np.zeros(count), np.zeros(count)
        pairs: np.ndarray | None = None
        for (layer, index), value in zip(self.terms, terms, strict=True):
            if isinstance(layer, FieldInputLayer) and index == 1:
                fields += np.asarray(layer.first_order_by_field(batch), np.float64)
                bias += float(layer.bias.numpy()) if layer.use_first_order else 0.0
            elif isinstance(layer, SparseFM):
                sparse, shares, w0 = _sparse_fm(layer, batch, size)
                fields, bias = fields + shares, bias + w0
                pairs = sparse if pairs is None else pairs + sparse
            elif _split(layer):
                found, shares = _interaction(layer, next(sources), size)
                fields += shares
                if found is not None:
                    pairs = found if pairs is None else pairs + found
            else:
                rest += value[:, 0]
        return {"logit": logit, "bias": bias, "fields": fields, "pairs": pairs,
                "rest": rest}  # fmt: skip

    def _width(self, batch: Any) -> int:
        """The fields of a batch: the specs', or the most non-zeros of a row
        (up to its last id; padding ids are below 0)."""
        if self.field_names:
            return len(self.field_names)
        ids = batch["ids"]
        if isinstance(ids, tf.RaggedTensor):
            return int(ids.bounding_shape()[1])
        used = np.flatnonzero(np.any(np.asarray(ids) >= 0, axis=0))
        return int(used[-1]) + 1 if len(used) else 0


def _sparse_fm(
    layer: SparseFM, batch: Any, width: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(pairs, shares, bias)`` of a `SparseFM` term, one player per position
    of the rows' first ``width`` entries (padding and zeros take no part)."""
    ids, values = batch["ids"], batch["values"]
    if isinstance(ids, tf.RaggedTensor):
        ids, values = ids.to_tensor(-1), values.to_tensor(0.0)
    ids, values = clean_nonzeros(ids, values, layer.num_features)  # as the layer
    safe = np.asarray(ids)[:, :width]  # the columns after hold padding only
    x = np.asarray(values, np.float64)[:, :width]
    table = np.asarray(layer.embeddings, np.float64)
    first = np.asarray(layer.linear_weights, np.float64)[safe] * x  # (B, L)
    pairs = decompose.fm_pairs(table[safe] * x[:, :, None])  # (B, L, L)
    return pairs, first + pairs.sum(axis=2) / 2, float(layer.bias.numpy())


def _split(layer: keras.layers.Layer) -> bool:
    """Whether the decomposition splits this interaction layer's term."""
    if isinstance(layer, FieldAwareFM):
        return True
    kinds = (FMInteraction, ANOVAInteraction, AFMInteraction)
    return isinstance(layer, kinds) and layer.reduce_sum


def _interaction(
    layer: keras.layers.Layer, source: np.ndarray, num_fields: int
) -> tuple[np.ndarray | None, np.ndarray]:
    """``(pairs or None, per-field shares)`` of one interaction term."""
    if isinstance(layer, ANOVAInteraction):
        return None, decompose.anova_shares(source, layer.degree)
    if isinstance(layer, FieldAwareFM):
        pairs = decompose.ffm_pairs(source)
    elif isinstance(layer, AFMInteraction):
        terms = np.asarray(layer.pair_terms(source.astype("float32")), np.float64)
        pairs = decompose.afm_pairs(terms, num_fields)
    else:
        pairs = decompose.fm_pairs(source)
    return pairs, pairs.sum(axis=2) / 2


def _pad(array: np.ndarray, width: int, axes: int) -> np.ndarray:
    """Zeros up to ``width`` on the last ``axes`` axes (rows of fewer non-zeros)."""
    missing = width - array.shape[-1]
    return np.pad(array, [(0, 0)] * (array.ndim - axes) + [(0, missing)] * axes)


def _producers(model: keras.Model) -> dict[int, tuple[keras.layers.Layer, int]]:
    """The layer and output index of each of the model's symbolic tensors."""
    found = {}
    for layer in model.layers:
        outputs = (
            layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
        )
        for index, tensor in enumerate(outputs):
            found[id(tensor)] = (layer, index)
    return found


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
