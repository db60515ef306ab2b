"""The split of a model's logit by field, as one TensorFlow computation."""

from typing import Any

import keras
import tensorflow as tf

from keras_fm.explain import decompose
from keras_fm.explain.integrated_gradients import IntegratedGradients
from keras_fm.layers import (
    AFMInteraction,
    ANOVAInteraction,
    FieldAwareFM,
    FMInteraction,
    SparseFM,
)
from keras_fm.layers.field_input_layer import FieldInputLayer
from keras_fm.layers.sparse_fm import clean_nonzeros
from keras_fm.sparse_read import gather_rows

DEEP = ("rest", "integrated_gradients")


class Explainer:
    """Which of a model's logit terms are split how, and the split itself.

    The ``logit`` of the models of `keras_fm.models` is a sum of terms. The
    first-order term is split by field (`FieldEmbedding.first_order_by_field`),
    FM's, FFM's and AFM's pairwise terms by pair, HOFM's order-``t`` terms
    ``1 / t`` per field of each, `SparseFM`'s terms by position of the rows'
    non-zeros; any other term (a DNN, CIN, AutoInt's attention) goes to
    ``rest`` whole. Calling it runs the model once (one Keras model computes
    the logit, every term and the inputs of the split layers) and returns
    float64 tensors, so it also runs inside an exported graph.

    With ``deep="integrated_gradients"``, the terms sent to ``rest`` that
    are computed from the field vectors alone (DeepFM's, xDeepFM's, NFM's
    and AutoInt's) are split by field with integrated gradients from the
    all-fields-deleted point (`IntegratedGradients`): ``rest`` keeps their
    value there plus the path integral's error (``"deep_error"``, `(B,)`),
    so the sum stays exact.

    Args:
        model: a model of `keras_fm.models` (a layer named ``"logit"``).
        deep: `"rest"` or `"integrated_gradients"`. Defaults to `"rest"`.
        steps: integrated gradients' points on the path. Defaults to `32`.
    """

    def __init__(self, model: keras.Model, deep: str = "rest", steps: int = 32) -> None:
        if deep not in DEEP:
            raise ValueError(f"`deep` must be one of {DEEP}. Received: {deep!r}")
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
        self.sparse = any(isinstance(layer, SparseFM) for layer, _ in self.terms)
        if not embeddings and not self.sparse:
            raise ValueError(
                f"model {model.name!r} has no field embedding (FieldEmbedding) "
                "nor SparseFM: attributions need a model of keras_fm.models"
            )
        self.field_names = (
            [feature.name for feature in embeddings[0].features] if embeddings else []
        )
        outputs = [logit.output, *terms]
        outputs += [layer.input for layer, _ in self.terms if _split(layer)]
        self.gradients = None
        deep_terms = [term for term, kind in zip(terms, self.terms, strict=True)
                      if _is_rest(*kind)]  # fmt: skip
        if deep == "integrated_gradients" and deep_terms and embeddings:
            vectors = embeddings[0].output[0]
            self.gradients = IntegratedGradients(vectors, deep_terms, steps)
            outputs.append(vectors)
        self.model = keras.Model(model.input, outputs)

    def __call__(self, inputs: Any) -> dict[str, Any]:
        """``{"logit", "bias", "rest"}`` `(B,)`, ``"fields"`` `(B, F)` and,
        with pairwise terms, ``"pairs"`` `(B, F, F)`; F is the number of
        fields, or of the widest row's entries for `SparseFM`."""
        values = [_f64(value) for value in self.model(inputs, training=False)]
        logit, terms = values[0][:, 0], values[1 : 1 + len(self.terms)]
        sources = iter(values[1 + len(self.terms) :])
        zero = tf.zeros_like(logit)
        bias, rest, fields, pairs = zero, zero, 0.0, None
        for (layer, index), value in zip(self.terms, terms, strict=True):
            found = None
            if isinstance(layer, FieldInputLayer) and index == 1:
                fields += _f64(layer.first_order_by_field(inputs))
                bias += _f64(layer.bias) if layer.use_first_order else 0.0
            elif isinstance(layer, SparseFM):
                found, shares, w0 = _sparse_fm(layer, inputs)
                fields, bias = fields + shares, bias + w0
            elif _split(layer):
                found, shares = _interaction(layer, next(sources))
                fields += shares
            else:
                rest += value[:, 0]
            if found is not None:
                pairs = found if pairs is None else pairs + found
        extra = {}
        if self.gradients is not None:
            shares, baseline, deep = self.gradients(values[-1])
            error = deep - baseline - tf.reduce_sum(shares, axis=1)
            fields, rest = fields + shares, rest - deep + baseline + error
            extra["deep_error"] = error
        if isinstance(fields, float):  # no term owned by a field (AutoInt)
            fields = tf.zeros_like(logit)[:, None] * tf.zeros(
                len(self.field_names), tf.float64
            )
        result = {"logit": logit, "bias": bias, "fields": fields, "rest": rest}
        return (
            {**result, **extra}
            if pairs is None
            else {**result, **extra, "pairs": pairs}
        )


def _f64(value: Any) -> Any:
    return tf.cast(value, tf.float64)


def _is_rest(layer: keras.layers.Layer, index: int) -> bool:
    """Whether a logit term goes to ``rest`` (no exact split)."""
    first_order = isinstance(layer, FieldInputLayer) and index == 1
    return not (first_order or isinstance(layer, SparseFM) or _split(layer))


def _split(layer: keras.layers.Layer) -> bool:
    """Whether the decomposition splits this interaction layer's term."""
    if isinstance(layer, FieldAwareFM):
        return True
    kinds = (FMInteraction, ANOVAInteraction, AFMInteraction)
    return isinstance(layer, kinds) and layer.reduce_sum


def _interaction(layer: keras.layers.Layer, source: Any) -> tuple[Any, Any]:
    """``(pairs or None, per-field shares)`` of one interaction term."""
    if isinstance(layer, ANOVAInteraction):
        return None, decompose.anova_shares(source, layer.degree)
    if isinstance(layer, FieldAwareFM):
        pairs = decompose.ffm_pairs(source)
    elif isinstance(layer, AFMInteraction):
        terms = _f64(layer.pair_terms(tf.cast(source, layer.compute_dtype)))
        pairs = decompose.afm_pairs(terms, source.shape[1])
    else:
        pairs = decompose.fm_pairs(source)
    return pairs, decompose.half_rows(pairs)


def _sparse_fm(layer: SparseFM, inputs: Any) -> tuple[Any, Any, Any]:
    """``(pairs, shares, bias)`` of a `SparseFM` term, one player per
    position of the rows' entries (padding and zeros take no part)."""
    ids, values = inputs["ids"], inputs["values"]
    if isinstance(ids, tf.RaggedTensor):
        ids, values = ids.to_tensor(-1), values.to_tensor(0.0)
    ids, values = clean_nonzeros(ids, values, layer.num_features)  # as the layer
    x = _f64(values)
    first = gather_rows(layer.linear_weights, ids, tf.float64) * x  # (B, L)
    vectors = gather_rows(layer.embeddings, ids, tf.float64) * x[:, :, None]
    pairs = decompose.fm_pairs(vectors)  # (B, L, L)
    return pairs, first + decompose.half_rows(pairs), _f64(layer.bias)


def _producers(model: keras.Model) -> dict[int, tuple[keras.layers.Layer, int]]:
    """The layer and output index of each of the model's symbolic tensors."""
    found = {}
    for layer in model.layers:
        outputs = layer.output
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        for index, tensor in enumerate(outputs):
            found[id(tensor)] = (layer, index)
    return found
