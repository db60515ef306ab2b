"""Field-aware factorization machine (Juan et al., 2016)."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.defaults import MODEL_DEFAULTS
from keras_fm.features import Feature
from keras_fm.layers import FieldAwareEmbedding, FieldAwareFM
from keras_fm.models.inputs import feature_inputs
from keras_fm.models.parts import finish

_D = MODEL_DEFAULTS["ffm"]


def build_ffm(
    features: Sequence[Feature],
    *,
    embedding_dim: int = _D["embedding_dim"],
    num_buckets: int | None = _D["num_buckets"],
    embeddings_l2: float | dict[str, float] = _D["embeddings_l2"],
    embeddings_regularizer: Any = _D["embeddings_regularizer"],
    weights_regularizer: Any = _D["weights_regularizer"],
    embeddings_initializer: Any = _D["embeddings_initializer"],
    use_first_order: bool = _D["use_first_order"],
    task: str = "binary",
    output_range: Sequence[float] | None = None,
    list_inputs: str = "ragged",
    name: str = "ffm",
) -> keras.Model:
    """FFM: ``logit = w0 + sum w_i x_i + sum_{i<j} <v_{i,f_j}, v_{j,f_i}> x_i x_j``.

    The defaults are `MODEL_DEFAULTS["ffm"]`, those of `build_fm`.

    Args:
        features: the feature specs, one per field.
        embedding_dim: size of each field-aware vector. Defaults to `10`.
        num_buckets: Optional bound on the latent table (see
            `FieldAwareEmbedding`). Defaults to None.
        embeddings_l2, embeddings_regularizer, weights_regularizer,
            embeddings_initializer, use_first_order, task, output_range,
            list_inputs, name: as `build_fm`.

    Returns:
        A `keras.Model` from raw feature values to ``prediction``.

    References:
        - [Juan et al., 2016. Field-aware Factorization Machines for CTR
          Prediction](https://doi.org/10.1145/2959100.2959134).
    """
    inputs = feature_inputs(features, list_inputs)
    latent, first_order = FieldAwareEmbedding(
        features,
        embedding_dim,
        num_buckets=num_buckets,
        embeddings_l2=embeddings_l2,
        embeddings_regularizer=embeddings_regularizer,
        weights_regularizer=weights_regularizer,
        embeddings_initializer=embeddings_initializer,
        use_first_order=use_first_order,
        name="field_aware_embedding",
    )(inputs)
    pairwise = FieldAwareFM(name="ffm")(latent)
    return finish(inputs, [first_order, pairwise], task, output_range, name)
