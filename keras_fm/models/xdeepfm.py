"""xDeepFM (Lian et al., 2018): linear + CIN + DNN on shared embeddings."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.defaults import MODEL_DEFAULTS
from keras_fm.features import Feature
from keras_fm.layers import CIN
from keras_fm.models.inputs import feature_inputs
from keras_fm.models.parts import dnn_logit, field_embedding, finish

_D = MODEL_DEFAULTS["xdeepfm"]


def build_xdeepfm(
    features: Sequence[Feature],
    *,
    embedding_dim: int = _D["embedding_dim"],
    cin_layer_sizes: Sequence[int] = _D["cin_layer_sizes"],
    cin_split_half: bool = _D["cin_split_half"],
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
    name: str = "xdeepfm",
) -> keras.Model:
    """xDeepFM: ``logit = w0 + sum w_i x_i + w_cin . CIN(v) + DNN(concat(v))``.

    The defaults are `MODEL_DEFAULTS["xdeepfm"]`: the BARS Frappe_x1 settings.

    Args:
        features: the feature specs, one per field.
        embedding_dim: size of the shared field vectors. Defaults to `10`.
        cin_layer_sizes: feature maps per CIN layer. Defaults to `(64,)`.
        cin_split_half: `CIN`'s ``split_half``. Defaults to `False`.
        dnn_units, dnn_activation, dropout, batch_norm, dnn_dtype: as
            `build_deepfm`.
        embeddings_l2, embeddings_regularizer, weights_regularizer,
            embeddings_initializer, use_first_order, task, output_range,
            list_inputs, name: as `build_fm`. The regularizers default to
            FuxiCTR's whole-table L2 with lambda 0.1, the initializer to
            N(0, 1e-4).

    Returns:
        A `keras.Model` from raw feature values to ``prediction``.

    References:
        - [Lian et al., 2018. xDeepFM](https://arxiv.org/abs/1803.05170),
          Eq. (9).
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
    cin = CIN(cin_layer_sizes, split_half=cin_split_half, name="cin")(vectors)
    explicit = keras.layers.Dense(1, name="cin_logit")(cin)
    implicit = dnn_logit(
        vectors, dnn_units, dnn_activation, dropout, batch_norm, dnn_dtype=dnn_dtype
    )
    return finish(inputs, [first_order, explicit, implicit], task, output_range, name)
