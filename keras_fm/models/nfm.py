"""Neural factorization machine (He and Chua, 2017)."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.defaults import MODEL_DEFAULTS
from keras_fm.features import Feature
from keras_fm.layers import Dropout, FMInteraction
from keras_fm.models.dnn import batch_normalization
from keras_fm.models.inputs import feature_inputs
from keras_fm.models.parts import dnn_logit, field_embedding, finish

_D = MODEL_DEFAULTS["nfm"]


def build_nfm(
    features: Sequence[Feature],
    *,
    embedding_dim: int = _D["embedding_dim"],
    dnn_units: Sequence[int] = _D["dnn_units"],
    dnn_activation: str = _D["dnn_activation"],
    dropout: float = _D["dropout"],
    batch_norm: bool = _D["batch_norm"],
    dnn_dtype: str | None = _D["dnn_dtype"],
    embeddings_l2: float | dict[str, float] = _D["embeddings_l2"],
    embeddings_regularizer: Any = _D["embeddings_regularizer"],
    weights_regularizer: Any = _D["weights_regularizer"],
    embeddings_initializer: Any = _D["embeddings_initializer"],
    use_first_order: bool = _D["use_first_order"],
    task: str = "binary",
    output_range: Sequence[float] | None = None,
    list_inputs: str = "ragged",
    name: str = "nfm",
) -> keras.Model:
    """NFM: ``logit = w0 + sum w_i x_i + h . DNN(BiInteraction(v))``.

    The bi-interaction pooling ``sum_{i<j} v_i x_i * v_j x_j`` (a
    `(batch, embedding_dim)` vector) feeds the DNN; with batch norm on it as
    in the paper when ``batch_norm`` is true. The defaults are
    `MODEL_DEFAULTS["nfm"]`: DeepFM's BARS settings.

    Args:
        features: the feature specs, one per field.
        embedding_dim: size of the field vectors. Defaults to `10`.
        dnn_units: hidden layers after the pooling. Defaults to
            `(400, 400, 400)`.
        dnn_activation, dropout: as `build_deepfm`; the dropout also applies
            to the pooled vector.
        batch_norm: batch norm on the pooled vector and in the DNN. Defaults
            to `True`.
        dnn_dtype: the DNN's dtype policy, as `build_deepfm` (the pooled
            vector's batch norm and dropout stay in the global policy).
        embeddings_l2, embeddings_regularizer, weights_regularizer,
            embeddings_initializer, use_first_order, task, output_range,
            list_inputs, name: as `build_deepfm`.

    Returns:
        A `keras.Model` from raw feature values to ``prediction``.

    References:
        - [He and Chua, 2017. Neural Factorization Machines for Sparse
          Predictive Analytics](https://arxiv.org/abs/1708.05027), Eq. (2).
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
    pooled = FMInteraction(reduce_sum=False, name="bi_interaction")(vectors)
    if batch_norm:
        pooled = batch_normalization("bi_interaction_batch_norm")(pooled)
    if dropout:
        pooled = Dropout(dropout, name="bi_interaction_dropout")(pooled)
    deep = dnn_logit(
        pooled,
        dnn_units,
        dnn_activation,
        dropout,
        batch_norm,
        flatten=False,
        dnn_dtype=dnn_dtype,
    )
    return finish(inputs, [first_order, deep], task, output_range, name)
