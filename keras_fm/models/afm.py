"""Attentional factorization machine (Xiao et al., 2017)."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.defaults import MODEL_DEFAULTS
from keras_fm.features import Feature
from keras_fm.layers import AFMInteraction
from keras_fm.models.inputs import feature_inputs
from keras_fm.models.parts import field_embedding, finish

_D = MODEL_DEFAULTS["afm"]


def build_afm(
    features: Sequence[Feature],
    *,
    embedding_dim: int = _D["embedding_dim"],
    attention_units: int = _D["attention_units"],
    attention_dropout: float = _D["attention_dropout"],
    attention_l2: float = _D["attention_l2"],
    embeddings_l2: float | dict[str, float] = _D["embeddings_l2"],
    embeddings_regularizer: Any = _D["embeddings_regularizer"],
    weights_regularizer: Any = _D["weights_regularizer"],
    embeddings_initializer: Any = _D["embeddings_initializer"],
    use_first_order: bool = _D["use_first_order"],
    task: str = "binary",
    output_range: Sequence[float] | None = None,
    list_inputs: str = "ragged",
    name: str = "afm",
) -> keras.Model:
    """AFM: ``logit = w0 + sum w_i x_i + p . sum_{i<j} a_ij (v_i x_i * v_j x_j)``.

    The defaults are `MODEL_DEFAULTS["afm"]`: the BARS AFM_frappe_x1 settings.

    Args:
        features: the feature specs, one per field.
        embedding_dim: size of the field vectors. Defaults to `10`.
        attention_units: size of the attention network. Defaults to `128`.
        attention_dropout: dropout on the attention weights. Defaults to
            `0.1`.
        attention_l2: L2 on the attention network's kernel. Defaults to `0.0`.
        embeddings_l2, embeddings_regularizer, weights_regularizer,
            embeddings_initializer, use_first_order, task, output_range,
            list_inputs, name: as `build_deepfm`; the regularizers default to
            FuxiCTR's whole-table L2 with lambda 1e-5.

    Returns:
        A `keras.Model` from raw feature values to ``prediction``.
    """
    inputs = feature_inputs(features, list_inputs)
    vectors, first_order = field_embedding(
        features,
        inputs,
        embedding_dim=embedding_dim,
        embeddings_l2=embeddings_l2,
        embeddings_regularizer=embeddings_regularizer,
        weights_regularizer=weights_regularizer,
        embeddings_initializer=embeddings_initializer,
        use_first_order=use_first_order,
    )
    pooled = AFMInteraction(
        attention_units,
        dropout=attention_dropout,
        kernel_regularizer=keras.regularizers.L2(attention_l2)
        if attention_l2
        else None,
        name="afm",
    )(vectors)
    return finish(inputs, [first_order, pooled], task, output_range, name)
