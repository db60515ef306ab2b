"""DeepFM (Guo et al., 2017): an FM and a DNN on shared embeddings."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.defaults import MODEL_DEFAULTS
from keras_fm.features import Feature
from keras_fm.layers import FMInteraction
from keras_fm.models.inputs import feature_inputs
from keras_fm.models.parts import dnn_logit, field_embedding, finish

_D = MODEL_DEFAULTS["deepfm"]


def build_deepfm(
    features: Sequence[Feature],
    *,
    embedding_dim: int = _D["embedding_dim"],
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
    name: str = "deepfm",
) -> keras.Model:
    """DeepFM: ``logit = w0 + sum w_i x_i + FM(v) + DNN(concat(v))``.

    The defaults are `MODEL_DEFAULTS["deepfm"]`: the BARS Frappe_x1 settings.

    Args:
        features: the feature specs, one per field.
        embedding_dim: size of the shared field vectors. Defaults to `10`.
        dnn_units: hidden layer sizes. Defaults to `(400, 400, 400)`.
        dnn_activation: hidden activation. Defaults to `"relu"`.
        dropout: dropout after each hidden layer. Defaults to `0.2`.
        batch_norm: batch normalization in the DNN. Defaults to `True`.
        dnn_dtype: the DNN's dtype policy: `"auto"` (the default) trains it
            in `"mixed_bfloat16"` on CPUs that multiply bfloat16 natively
            (AMX, AVX512_BF16; see `keras_fm.models.dnn_precision`) and in
            Keras's global policy elsewhere; None for the global policy, or
            a policy name such as `"float32"`. The embeddings, FM terms and
            output stay in the global policy.
        embeddings_l2, embeddings_regularizer, weights_regularizer,
            embeddings_initializer, use_first_order, task, output_range,
            list_inputs, name: as `build_fm`. The regularizers default to
            FuxiCTR's whole-table L2 with lambda 0.05 (`L2(0.025)`), the
            initializer to N(0, 1e-4).

    Returns:
        A `keras.Model` from raw feature values to ``prediction``.

    References:
        - [Guo et al., 2017. DeepFM: A Factorization-Machine based Neural
          Network for CTR Prediction](https://arxiv.org/abs/1703.04247).
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
    deep = dnn_logit(
        vectors, dnn_units, dnn_activation, dropout, batch_norm, dnn_dtype=dnn_dtype
    )
    return finish(inputs, [first_order, pairwise, deep], task, output_range, name)
