"""AutoInt (Song et al., 2019): stacked self-attention over fields, optional DNN."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.defaults import MODEL_DEFAULTS
from keras_fm.features import Feature
from keras_fm.layers import InteractingLayer
from keras_fm.models.inputs import feature_inputs
from keras_fm.models.parts import dnn_logit, field_embedding, finish

_D = MODEL_DEFAULTS["autoint"]


def build_autoint(
    features: Sequence[Feature],
    *,
    embedding_dim: int = _D["embedding_dim"],
    num_layers: int = _D["num_layers"],
    num_heads: int = _D["num_heads"],
    head_dim: int = _D["head_dim"],
    use_residual: bool = _D["use_residual"],
    use_scale: bool = _D["use_scale"],
    use_layer_norm: bool = _D["use_layer_norm"],
    dnn_units: Sequence[int] = _D["dnn_units"],
    dnn_activation: str = _D["dnn_activation"],
    dropout: float = _D["dropout"],
    batch_norm: bool = _D["batch_norm"],
    dnn_dtype: str | None = _D["dnn_dtype"],
    embeddings_l2: float | dict[str, float] = _D["embeddings_l2"],
    embeddings_regularizer: Any = _D["embeddings_regularizer"],
    weights_regularizer: Any = _D["weights_regularizer"],
    embeddings_initializer: Any = _D["embeddings_initializer"],
    task: str = "binary",
    output_range: Sequence[float] | None = None,
    list_inputs: str = "ragged",
    name: str = "autoint",
) -> keras.Model:
    """AutoInt: ``logit = w . concat(interacting layers(v)) [+ DNN(concat(v))]``.

    With ``dnn_units`` empty (the default) this is AutoInt; with hidden
    layers it is AutoInt+, the paper's joint model with a DNN
    (`build_autoint_plus` has its defaults). The defaults are
    `MODEL_DEFAULTS["autoint"]`.

    Args:
        features: the feature specs, one per field.
        embedding_dim: size of the field vectors. Defaults to `10`.
        num_layers: stacked interacting layers. Defaults to `3`.
        num_heads: attention heads per layer. Defaults to `2`.
        head_dim: size of each head. Defaults to `16`.
        use_residual, use_scale, use_layer_norm: of each `InteractingLayer`
            (the paper's layer has neither scale nor layer norm; FuxiCTR's
            AutoInt+ on frappe uses both, as the defaults do). Default to
            `True`.
        dnn_units: hidden layers of the optional DNN. Defaults to `()`.
        dnn_activation, dropout, batch_norm, dnn_dtype: as
            `build_deepfm`.
        embeddings_l2, embeddings_regularizer, weights_regularizer,
            embeddings_initializer, task, output_range, list_inputs, name: as
            `build_deepfm`; the regularizers default to FuxiCTR's whole-table
            L2 with lambda 0.1. AutoInt has no first-order term, so
            ``weights_regularizer`` only counts for a model that has one.

    Returns:
        A `keras.Model` from raw feature values to ``prediction``.

    References:
        - [Song et al., 2019. AutoInt: Automatic Feature Interaction Learning
          via Self-Attentive Neural Networks](https://arxiv.org/abs/1810.11921).
    """
    inputs = feature_inputs(features, list_inputs)
    vectors, _ = field_embedding(
        features,
        inputs,
        embedding_dim=embedding_dim,
        embeddings_l2=embeddings_l2,
        embeddings_regularizer=embeddings_regularizer,
        weights_regularizer=weights_regularizer,
        embeddings_initializer=embeddings_initializer,
        use_first_order=False,
    )
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
    terms = [keras.layers.Dense(1, name="attention_logit")(flat)]
    if dnn_units:
        terms.append(
            dnn_logit(
                vectors,
                dnn_units,
                dnn_activation,
                dropout,
                batch_norm,
                dnn_dtype=dnn_dtype,
            )
        )
    return finish(inputs, terms, task, output_range, name)


def build_autoint_plus(
    features: Sequence[Feature], *, name: str = "autoint_plus", **kwargs: Any
) -> keras.Model:
    """AutoInt+: `build_autoint` with a DNN, and `MODEL_DEFAULTS["autoint+"]`.

    The defaults are the BARS AutoInt+_frappe_x1 settings: 5 interacting
    layers of 4 heads x 32 with scaled attention and layer norm, a DNN of
    400 x 3 with batch norm and dropout 0.1, whole-table L2 with lambda 0.1.

    Args:
        features: the feature specs, one per field.
        name: the model's name. Defaults to `"autoint_plus"` (TensorFlow
            takes no `+` in a name).
        **kwargs: any `build_autoint` argument, overriding these defaults.

    Returns:
        A `keras.Model` from raw feature values to ``prediction``.
    """
    options = {**MODEL_DEFAULTS["autoint+"], **kwargs}
    return build_autoint(features, name=name, **options)
