"""DeepFM (Guo et al., 2017): an FM and a DNN on shared embeddings."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.features import Feature
from keras_fm.layers import FieldEmbedding, FMInteraction
from keras_fm.models.dnn import dnn_tower
from keras_fm.models.inputs import feature_inputs, model_inputs
from keras_fm.models.tasks import prediction_head


def build_deepfm(
    features: Sequence[Feature],
    *,
    embedding_dim: int = 10,
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
    name: str = "deepfm",
) -> keras.Model:
    """DeepFM: ``logit = w0 + sum w_i x_i + FM(v) + DNN(concat(v))``.

    Args:
        features: the feature specs, one per field.
        embedding_dim: size of the shared field vectors. Defaults to `10`.
        dnn_units: hidden layer sizes. Defaults to `(400, 400, 400)`.
        dnn_activation: hidden activation. Defaults to `"relu"`.
        dropout: dropout after each hidden layer. Defaults to `0.0`.
        batch_norm: batch normalization in the DNN. Defaults to `False`.
        embeddings_l2, embeddings_regularizer, embeddings_initializer, task,
            output_range, list_inputs, name: as `build_fm`.

    Returns:
        A `keras.Model` from raw feature values to ``prediction``.

    References:
        - [Guo et al., 2017. DeepFM: A Factorization-Machine based Neural
          Network for CTR Prediction](https://arxiv.org/abs/1703.04247).
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
    pairwise = FMInteraction(name="fm")(vectors)
    hidden = dnn_tower(
        keras.layers.Flatten(name="flatten")(vectors),
        dnn_units,
        dnn_activation,
        dropout,
        batch_norm,
    )
    deep = keras.layers.Dense(1, name="dnn_logit")(hidden)
    logit = keras.layers.Add(name="logit")([first_order, pairwise, deep])
    return keras.Model(
        model_inputs(inputs), prediction_head(logit, task, output_range), name=name
    )
