"""AutoInt (Song et al., 2019): stacked self-attention over fields, optional DNN."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.features import Feature
from keras_fm.layers import FieldEmbedding, InteractingLayer
from keras_fm.models.dnn import dnn_tower
from keras_fm.models.inputs import feature_inputs, model_inputs
from keras_fm.models.tasks import prediction_head


def build_autoint(
    features: Sequence[Feature],
    *,
    embedding_dim: int = 16,
    num_layers: int = 3,
    num_heads: int = 2,
    head_dim: int = 16,
    use_residual: bool = True,
    use_scale: bool = False,
    use_layer_norm: bool = False,
    dnn_units: Sequence[int] = (),
    dnn_activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    embeddings_l2: float | dict[str, float] = 0.0,
    embeddings_regularizer: Any = None,
    embeddings_initializer: Any = None,
    task: str = "binary",
    output_range: Sequence[float] | None = None,
    list_inputs: str = "ragged",
    name: str = "autoint",
) -> keras.Model:
    """AutoInt: ``logit = w . concat(interacting layers(v)) [+ DNN(concat(v))]``.

    With ``dnn_units`` empty this is AutoInt; with hidden layers it is
    AutoInt+ (the paper's joint model with a DNN).

    Args:
        features: the feature specs, one per field.
        embedding_dim: size of the field vectors. Defaults to `16`.
        num_layers: stacked interacting layers. Defaults to `3`.
        num_heads, head_dim, use_residual, use_scale, use_layer_norm: of each
            `InteractingLayer` (the paper's layer has neither scale nor
            layer norm; FuxiCTR's AutoInt+ on frappe uses both).
        dnn_units: hidden layers of the optional DNN. Defaults to `()`.
        dnn_activation, dropout, batch_norm: as `build_deepfm`.
        embeddings_l2, embeddings_regularizer, embeddings_initializer, task,
            output_range, list_inputs, name: as `build_fm`.

    Returns:
        A `keras.Model` from raw feature values to ``prediction``.
    """
    inputs = feature_inputs(features, list_inputs)
    vectors, _ = FieldEmbedding(
        features,
        embedding_dim,
        embeddings_l2=embeddings_l2,
        embeddings_regularizer=embeddings_regularizer,
        weights_regularizer=embeddings_regularizer,
        embeddings_initializer=embeddings_initializer,
        use_first_order=False,
        name="embedding",
    )(inputs)
    attended = vectors
    for index in range(num_layers):
        attended = InteractingLayer(
            num_heads,
            head_dim,
            use_residual=use_residual,
            use_scale=use_scale,
            use_layer_norm=use_layer_norm,
            name=f"interacting_{index}",
        )(attended)
    flat = keras.layers.Flatten(name="flatten_attention")(attended)
    logit = keras.layers.Dense(1, name="attention_logit")(flat)
    if dnn_units:
        hidden = dnn_tower(
            keras.layers.Flatten(name="flatten")(vectors),
            dnn_units,
            dnn_activation,
            dropout,
            batch_norm,
        )
        deep = keras.layers.Dense(1, name="dnn_logit")(hidden)
        logit = keras.layers.Add(name="logit")([logit, deep])
    else:
        logit = keras.layers.Identity(name="logit")(logit)
    return keras.Model(
        model_inputs(inputs), prediction_head(logit, task, output_range), name=name
    )
