"""Factorization machine (Rendle, 2010)."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.features import Feature
from keras_fm.layers import FieldEmbedding, FMInteraction
from keras_fm.models.inputs import feature_inputs, model_inputs
from keras_fm.models.tasks import prediction_head


def build_fm(
    features: Sequence[Feature],
    *,
    embedding_dim: int = 10,
    embeddings_l2: float | dict[str, float] = 0.0,
    embeddings_regularizer: Any = None,
    embeddings_initializer: Any = None,
    use_first_order: bool = True,
    task: str = "binary",
    output_range: Sequence[float] | None = None,
    list_inputs: str = "ragged",
    name: str = "fm",
) -> keras.Model:
    """FM: ``logit = w0 + sum_i w_i x_i + sum_{i<j} <v_i x_i, v_j x_j>``.

    With one-hot user and item fields and ``use_first_order=False`` this is
    matrix factorization: ``logit = <u, i>``.

    Args:
        features: the feature specs, one per field.
        embedding_dim: size ``k`` of the latent vectors. Defaults to `10`.
        embeddings_l2: L2 on the latent vectors of each batch: a float, or a
            dict from feature name to float (see `FieldEmbedding`). Defaults
            to 0.
        embeddings_regularizer: Optional regularizer of the whole latent and
            first-order tables, applied at every step (FuxiCTR's
            ``embedding_regularizer``; ``L2(lambda / 2)`` for its lambda).
        embeddings_initializer: Optional initializer of the latent vectors.
            Defaults to `RandomNormal(stddev=0.01)`.
        use_first_order: whether to add ``w0 + sum w_i x_i``. Defaults to
            `True`.
        task: `"binary"` (sigmoid output) or `"regression"`.
        output_range: Optional `(min, max)` to clip regression predictions.
        list_inputs: `"ragged"` or `"dense"` inputs for multivalent features.
        name: the model's name.

    Returns:
        A `keras.Model` from ``{feature name: raw values}`` to ``prediction``.
    """
    inputs = feature_inputs(features, list_inputs)
    vectors, first_order = FieldEmbedding(
        features,
        embedding_dim,
        embeddings_l2=embeddings_l2,
        embeddings_regularizer=embeddings_regularizer,
        weights_regularizer=embeddings_regularizer,
        embeddings_initializer=embeddings_initializer,
        use_first_order=use_first_order,
        name="embedding",
    )(inputs)
    pairwise = FMInteraction(name="fm")(vectors)
    logit = keras.layers.Add(name="logit")([first_order, pairwise])
    return keras.Model(
        model_inputs(inputs), prediction_head(logit, task, output_range), name=name
    )
