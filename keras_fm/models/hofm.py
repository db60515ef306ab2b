"""Higher-order factorization machine (Blondel et al., 2016)."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.defaults import MODEL_DEFAULTS
from keras_fm.features import Feature
from keras_fm.layers import ANOVAInteraction, FMInteraction
from keras_fm.models.inputs import feature_inputs
from keras_fm.models.parts import field_embedding, finish

_D = MODEL_DEFAULTS["hofm"]


def build_hofm(
    features: Sequence[Feature],
    *,
    embedding_dim: int = _D["embedding_dim"],
    order: int = _D["order"],
    embeddings_l2: float | dict[str, float] = _D["embeddings_l2"],
    embeddings_regularizer: Any = _D["embeddings_regularizer"],
    weights_regularizer: Any = _D["weights_regularizer"],
    embeddings_initializer: Any = _D["embeddings_initializer"],
    use_first_order: bool = _D["use_first_order"],
    task: str = "binary",
    output_range: Sequence[float] | None = None,
    list_inputs: str = "ragged",
    name: str = "hofm",
) -> keras.Model:
    """HOFM: ``logit = w0 + sum w_i x_i + sum_{t=2..order} ANOVA_t(v^(t))``.

    Each order ``t`` has its own latent vectors ``v^(t)`` (its own
    `FieldEmbedding`), as in Blondel et al.'s Eq. (5). The defaults are
    `MODEL_DEFAULTS["hofm"]`, those of `build_fm`.

    Args:
        features: the feature specs, one per field.
        embedding_dim: size of the latent vectors of each order. Defaults to
            `10`.
        order: the highest interaction order, at least 2. Defaults to `3`.
        embeddings_l2, embeddings_regularizer, weights_regularizer,
            embeddings_initializer, use_first_order, task, output_range,
            list_inputs, name: as `build_fm`.

    Returns:
        A `keras.Model` from raw feature values to ``prediction``.

    References:
        - [Blondel et al., 2016. Higher-Order Factorization Machines](
          https://arxiv.org/abs/1607.07195).
    """
    if isinstance(order, bool) or not isinstance(order, int) or order < 2:
        raise ValueError(f"`order` must be an int >= 2. Received: order={order!r}")
    inputs = feature_inputs(features, list_inputs)
    options = {
        "embedding_dim": embedding_dim,
        "embeddings_l2": embeddings_l2,
        "embeddings_regularizer": embeddings_regularizer,
        "weights_regularizer": weights_regularizer,
        "embeddings_initializer": embeddings_initializer,
    }
    vectors, first_order = field_embedding(
        features, inputs, use_first_order=use_first_order, name="embedding_2",
        **options,
    )  # fmt: skip
    terms = [first_order, FMInteraction(name="order_2")(vectors)]
    for degree in range(3, order + 1):
        vectors_t, _ = field_embedding(
            features, inputs, use_first_order=False, name=f"embedding_{degree}",
            **options,
        )  # fmt: skip
        terms.append(ANOVAInteraction(degree, name=f"order_{degree}")(vectors_t))
    return finish(inputs, terms, task, output_range, name)
