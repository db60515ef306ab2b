"""Field-aware factorization machine (Juan et al., 2016)."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.features import Feature
from keras_fm.layers import FieldAwareEmbedding, FieldAwareFM
from keras_fm.models.inputs import feature_inputs, model_inputs
from keras_fm.models.tasks import prediction_head


def build_ffm(
    features: Sequence[Feature],
    *,
    embedding_dim: int = 4,
    num_buckets: int | None = None,
    embeddings_l2: float | dict[str, float] = 0.0,
    embeddings_regularizer: Any = None,
    embeddings_initializer: Any = None,
    task: str = "binary",
    output_range: Sequence[float] | None = None,
    list_inputs: str = "ragged",
    name: str = "ffm",
) -> keras.Model:
    """FFM: ``logit = w0 + sum w_i x_i + sum_{i<j} <v_{i,f_j}, v_{j,f_i}> x_i x_j``.

    Args:
        features: the feature specs, one per field.
        embedding_dim: size of each field-aware vector. Defaults to `4`.
        num_buckets: Optional bound on the latent table (see
            `FieldAwareEmbedding`).
        embeddings_l2, embeddings_regularizer, embeddings_initializer, task,
            output_range, list_inputs, name: as `build_fm`.

    Returns:
        A `keras.Model` from raw feature values to ``prediction``.
    """
    inputs = feature_inputs(features, list_inputs)
    latent, first_order = FieldAwareEmbedding(
        features,
        embedding_dim,
        num_buckets=num_buckets,
        embeddings_l2=embeddings_l2,
        embeddings_regularizer=embeddings_regularizer,
        weights_regularizer=embeddings_regularizer,
        embeddings_initializer=embeddings_initializer,
        name="field_aware_embedding",
    )(inputs)
    pairwise = FieldAwareFM(name="ffm")(latent)
    logit = keras.layers.Add(name="logit")([first_order, pairwise])
    return keras.Model(
        model_inputs(inputs), prediction_head(logit, task, output_range), name=name
    )
