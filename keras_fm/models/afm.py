"""Attentional factorization machine (Xiao et al., 2017)."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.features import Feature
from keras_fm.layers import AFMInteraction, FieldEmbedding
from keras_fm.models.inputs import feature_inputs, model_inputs
from keras_fm.models.tasks import prediction_head


def build_afm(
    features: Sequence[Feature],
    *,
    embedding_dim: int = 10,
    attention_units: int = 8,
    dropout: float = 0.0,
    attention_l2: float = 0.0,
    embeddings_l2: float | dict[str, float] = 0.0,
    embeddings_regularizer: Any = None,
    embeddings_initializer: Any = None,
    task: str = "binary",
    output_range: Sequence[float] | None = None,
    list_inputs: str = "ragged",
    name: str = "afm",
) -> keras.Model:
    """AFM: ``logit = w0 + sum w_i x_i + p . sum_{i<j} a_ij (v_i x_i * v_j x_j)``.

    Args:
        features: the feature specs, one per field.
        embedding_dim: size of the field vectors. Defaults to `10`.
        attention_units: size of the attention network. Defaults to `8`.
        dropout: dropout on the attention weights. Defaults to `0.0`.
        attention_l2: L2 on the attention network's kernel. Defaults to `0.0`.
        embeddings_l2, embeddings_regularizer, embeddings_initializer, task,
            output_range, list_inputs, name: as `build_fm`.

    Returns:
        A `keras.Model` from raw feature values to ``prediction``.
    """
    inputs = feature_inputs(features, list_inputs)
    vectors, first_order = FieldEmbedding(
        features,
        embedding_dim,
        embeddings_l2=embeddings_l2,
        embeddings_regularizer=embeddings_regularizer,
        weights_regularizer=embeddings_regularizer,
        embeddings_initializer=embeddings_initializer,
        name="embedding",
    )(inputs)
    pooled = AFMInteraction(
        attention_units,
        dropout=dropout,
        kernel_regularizer=keras.regularizers.L2(attention_l2)
        if attention_l2
        else None,
        name="afm",
    )(vectors)
    logit = keras.layers.Add(name="logit")([first_order, pooled])
    return keras.Model(
        model_inputs(inputs), prediction_head(logit, task, output_range), name=name
    )
