"""Neural factorization machine (He and Chua, 2017)."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.features import Feature
from keras_fm.layers import FieldEmbedding, FMInteraction
from keras_fm.models.dnn import batch_normalization, dnn_tower
from keras_fm.models.inputs import feature_inputs, model_inputs
from keras_fm.models.tasks import prediction_head


def build_nfm(
    features: Sequence[Feature],
    *,
    embedding_dim: int = 64,
    dnn_units: Sequence[int] = (64,),
    dnn_activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = True,
    embeddings_l2: float | dict[str, float] = 0.0,
    embeddings_regularizer: Any = None,
    embeddings_initializer: Any = None,
    task: str = "binary",
    output_range: Sequence[float] | None = None,
    list_inputs: str = "ragged",
    name: str = "nfm",
) -> keras.Model:
    """NFM: ``logit = w0 + sum w_i x_i + h . DNN(BiInteraction(v))``.

    The bi-interaction pooling ``sum_{i<j} v_i x_i * v_j x_j`` (a
    `(batch, embedding_dim)` vector) feeds the DNN; with batch norm on it as
    in the paper when ``batch_norm`` is true.

    Args:
        features: the feature specs, one per field.
        embedding_dim: size of the field vectors. Defaults to `64`.
        dnn_units: hidden layers after the pooling. Defaults to `(64,)`.
        dnn_activation, dropout: as `build_deepfm`.
        batch_norm: batch norm on the pooled vector and in the DNN. Defaults
            to `True`.
        embeddings_l2, embeddings_regularizer, embeddings_initializer, task,
            output_range, list_inputs, name: as `build_fm`.

    Returns:
        A `keras.Model` from raw feature values to ``prediction``.

    References:
        - [He and Chua, 2017. Neural Factorization Machines for Sparse
          Predictive Analytics](https://arxiv.org/abs/1708.05027), Eq. (2).
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
    pooled = FMInteraction(reduce_sum=False, name="bi_interaction")(vectors)
    if batch_norm:
        pooled = batch_normalization("bi_interaction_batch_norm")(pooled)
    if dropout:
        pooled = keras.layers.Dropout(dropout, name="bi_interaction_dropout")(pooled)
    hidden = dnn_tower(pooled, dnn_units, dnn_activation, dropout, batch_norm)
    deep = keras.layers.Dense(1, name="dnn_logit")(hidden)
    logit = keras.layers.Add(name="logit")([first_order, deep])
    return keras.Model(
        model_inputs(inputs), prediction_head(logit, task, output_range), name=name
    )
