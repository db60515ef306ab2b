"""xDeepFM (Lian et al., 2018): linear + CIN + DNN on shared embeddings."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.features import Feature
from keras_fm.layers import CIN, FieldEmbedding
from keras_fm.models.dnn import dnn_tower
from keras_fm.models.inputs import feature_inputs, model_inputs
from keras_fm.models.tasks import prediction_head


def build_xdeepfm(
    features: Sequence[Feature],
    *,
    embedding_dim: int = 10,
    cin_layer_sizes: Sequence[int] = (16, 16),
    cin_split_half: bool = True,
    dnn_units: Sequence[int] = (400, 400, 400),
    dnn_activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    embeddings_l2: float | dict[str, float] = 0.0,
    embeddings_regularizer: Any = None,
    embeddings_initializer: Any = None,
    task: str = "binary",
    output_range: Sequence[float] | None = None,
    list_inputs: str = "ragged",
    name: str = "xdeepfm",
) -> keras.Model:
    """xDeepFM: ``logit = w0 + sum w_i x_i + w_cin . CIN(v) + DNN(concat(v))``.

    Args:
        features: the feature specs, one per field.
        embedding_dim: size of the shared field vectors. Defaults to `10`.
        cin_layer_sizes: feature maps per CIN layer. Defaults to `(16, 16)`.
        cin_split_half: `CIN`'s ``split_half``. Defaults to `True`.
        dnn_units, dnn_activation, dropout, batch_norm: as `build_deepfm`.
        embeddings_l2, embeddings_regularizer, embeddings_initializer, task,
            output_range, list_inputs, name: as `build_fm`.

    Returns:
        A `keras.Model` from raw feature values to ``prediction``.

    References:
        - [Lian et al., 2018. xDeepFM](https://arxiv.org/abs/1803.05170),
          Eq. (9).
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
    cin = CIN(cin_layer_sizes, split_half=cin_split_half, name="cin")(vectors)
    explicit = keras.layers.Dense(1, name="cin_logit")(cin)
    hidden = dnn_tower(
        keras.layers.Flatten(name="flatten")(vectors),
        dnn_units,
        dnn_activation,
        dropout,
        batch_norm,
    )
    implicit = keras.layers.Dense(1, name="dnn_logit")(hidden)
    logit = keras.layers.Add(name="logit")([first_order, explicit, implicit])
    return keras.Model(
        model_inputs(inputs), prediction_head(logit, task, output_range), name=name
    )
