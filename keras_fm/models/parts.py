"""The parts every builder shares: the field embedding, the DNN logit, the end."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.features import Feature
from keras_fm.layers import FieldEmbedding
from keras_fm.models.dnn import dnn_tower
from keras_fm.models.dnn_precision import dnn_dtype_policy
from keras_fm.models.inputs import model_inputs
from keras_fm.models.tasks import prediction_head


def field_embedding(
    features: Sequence[Feature],
    inputs: dict[str, Any],
    *,
    embedding_dim: int,
    embeddings_l2: float | dict[str, float],
    embeddings_regularizer: Any,
    weights_regularizer: Any,
    embeddings_initializer: Any,
    use_first_order: bool = True,
    name: str = "embedding",
) -> tuple[Any, Any]:
    """One `FieldEmbedding` applied to the inputs.

    Returns:
        ``(vectors, first_order)``: the `(batch, fields, embedding_dim)` field
        vectors and the `(batch, 1)` first-order term (``w0 + sum w_i x_i``).
    """
    return FieldEmbedding(
        features,
        embedding_dim,
        embeddings_l2=embeddings_l2,
        embeddings_regularizer=embeddings_regularizer,
        weights_regularizer=weights_regularizer,
        embeddings_initializer=embeddings_initializer,
        use_first_order=use_first_order,
        name=name,
    )(inputs)


def dnn_logit(
    inputs: Any,
    units: Sequence[int],
    activation: str,
    dropout: float,
    batch_norm: bool,
    flatten: bool = True,
    dnn_dtype: str | None = None,
) -> Any:
    """``Dense(1)(dnn_tower(inputs))``: a DNN's `(batch, 1)` contribution.

    ``flatten`` turns `(batch, fields, dim)` field vectors into one row first.
    The tower computes in ``dnn_dtype``'s policy (`dnn_dtype_policy`), the
    last `Dense(1)` in Keras's global one.
    """
    if flatten:
        inputs = keras.layers.Flatten(name="flatten")(inputs)
    policy = dnn_dtype_policy(dnn_dtype)
    hidden = dnn_tower(inputs, units, activation, dropout, batch_norm, dtype=policy)
    return keras.layers.Dense(1, name="dnn_logit")(hidden)


def finish(
    inputs: dict[str, Any],
    terms: Sequence[Any],
    task: str,
    output_range: Sequence[float] | None,
    name: str,
) -> keras.Model:
    """The model from its inputs to ``prediction``, the sum of ``terms`` (``logit``)."""
    if len(terms) == 1:
        logit = keras.layers.Identity(name="logit")(terms[0])
    else:
        logit = keras.layers.Add(name="logit")(list(terms))
    return keras.Model(
        model_inputs(inputs), prediction_head(logit, task, output_range), name=name
    )
