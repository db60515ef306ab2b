"""Higher-order factorization machine (Blondel et al., 2016)."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.features import Feature
from keras_fm.layers import ANOVAInteraction, FieldEmbedding, FMInteraction
from keras_fm.models.inputs import feature_inputs, model_inputs
from keras_fm.models.tasks import prediction_head


def build_hofm(
    features: Sequence[Feature],
    *,
    embedding_dim: int = 10,
    order: int = 3,
    embeddings_l2: float | dict[str, float] = 0.0,
    embeddings_regularizer: Any = None,
    embeddings_initializer: Any = None,
    task: str = "binary",
    output_range: Sequence[float] | None = None,
    list_inputs: str = "ragged",
    name: str = "hofm",
) -> keras.Model:
    """HOFM: ``logit = w0 + sum w_i x_i + sum_{t=2..order} ANOVA_t(v^(t))``.

    Each order ``t`` has its own latent vectors ``v^(t)`` (its own
    `FieldEmbedding`), as in Blondel et al.'s Eq. (5).

    Args:
        features: the feature specs, one per field.
        embedding_dim: size of the latent vectors of each order.
        order: the highest interaction order, at least 2. Defaults to `3`.
        embeddings_l2, embeddings_regularizer, embeddings_initializer, task,
            output_range, list_inputs, name: as `build_fm`.

    Returns:
        A `keras.Model` from raw feature values to ``prediction``.
    """
    if isinstance(order, bool) or not isinstance(order, int) or order < 2:
        raise ValueError(f"`order` must be an int >= 2. Received: order={order!r}")
    inputs = feature_inputs(features, list_inputs)
    vectors, first_order = FieldEmbedding(
        features,
        embedding_dim,
        embeddings_l2=embeddings_l2,
        embeddings_regularizer=embeddings_regularizer,
        weights_regularizer=embeddings_regularizer,
        embeddings_initializer=embeddings_initializer,
        name="embedding_2",
    )(inputs)
    terms = [first_order, FMInteraction(name="order_2")(vectors)]
    for degree in range(3, order + 1):
        vectors_t, _ = FieldEmbedding(
            features,
            embedding_dim,
            embeddings_l2=embeddings_l2,
            embeddings_regularizer=embeddings_regularizer,
            weights_regularizer=embeddings_regularizer,
            embeddings_initializer=embeddings_initializer,
            use_first_order=False,
            name=f"embedding_{degree}",
        )(inputs)
        terms.append(ANOVAInteraction(degree, name=f"order_{degree}")(vectors_t))
    logit = keras.layers.Add(name="logit")(terms)
    return keras.Model(
        model_inputs(inputs), prediction_head(logit, task, output_range), name=name
    )
