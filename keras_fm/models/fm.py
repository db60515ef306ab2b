"""Factorization machine (Rendle, 2010)."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.defaults import MODEL_DEFAULTS
from keras_fm.features import Feature
from keras_fm.layers import FMInteraction
from keras_fm.models.inputs import feature_inputs
from keras_fm.models.parts import field_embedding, finish

_D = MODEL_DEFAULTS["fm"]


def build_fm(
    features: Sequence[Feature],
    *,
    embedding_dim: int = _D["embedding_dim"],
    embeddings_l2: float | dict[str, float] = _D["embeddings_l2"],
    embeddings_regularizer: Any = _D["embeddings_regularizer"],
    weights_regularizer: Any = _D["weights_regularizer"],
    embeddings_initializer: Any = _D["embeddings_initializer"],
    use_first_order: bool = _D["use_first_order"],
    task: str = "binary",
    output_range: Sequence[float] | None = None,
    list_inputs: str = "ragged",
    name: str = "fm",
) -> keras.Model:
    """FM: ``logit = w0 + sum_i w_i x_i + sum_{i<j} <v_i x_i, v_j x_j>``.

    With one-hot user and item fields and ``use_first_order=False`` this is
    matrix factorization: ``logit = <u, i>``. The defaults are
    `MODEL_DEFAULTS["fm"]`; `compile_for_task` trains it with Adam at 1e-2.

    Args:
        features: the feature specs, one per field.
        embedding_dim: size ``k`` of the latent vectors. Defaults to `10`.
        embeddings_l2: L2 on the latent vectors of each batch (libFM's
            regularization): a float, or a dict from feature name to float
            (see `FieldEmbedding`). Defaults to `0.01`.
        embeddings_regularizer: Optional regularizer of the whole latent
            table, applied at every step (FuxiCTR's ``embedding_regularizer``
            is ``keras.regularizers.L2(lambda / 2)`` for its lambda, see
            `keras_fm.defaults.table_l2`). Defaults to None.
        weights_regularizer: Optional regularizer of the whole first-order
            table. Defaults to None.
        embeddings_initializer: initializer of the latent vectors. Defaults
            to `RandomNormal(stddev=0.01)`.
        use_first_order: whether to add ``w0 + sum w_i x_i``. Defaults to
            `True`.
        task: `"binary"` (sigmoid output) or `"regression"`.
        output_range: Optional `(min, max)` to clip regression predictions.
        list_inputs: `"ragged"` or `"dense"` inputs for multivalent features.
        name: the model's name; `compile_for_task` reads its learning rate
            from `TRAINING_DEFAULTS` under this name.

    Returns:
        A `keras.Model` from ``{feature name: raw values}`` to ``prediction``.
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
    pairwise = FMInteraction(name="fm")(vectors)
    return finish(inputs, [first_order, pairwise], task, output_range, name)
