"""A factorization machine over raw libsvm rows (no fields)."""

from collections.abc import Sequence

import keras

from keras_fm.layers import SparseFM
from keras_fm.models.inputs import model_inputs
from keras_fm.models.tasks import prediction_head


def build_sparse_fm(
    num_features: int,
    *,
    embedding_dim: int = 10,
    embeddings_l2: float = 0.0,
    task: str = "binary",
    output_range: Sequence[float] | None = None,
    name: str = "sparse_fm",
) -> keras.Model:
    """Rendle's FM over every non-zero of a libsvm / libFM row.

    The model takes ``{"ids", "values"}`` ragged rows, as
    `keras_fm.data.read_libsvm` yields them: libFM's model, with pairs of any
    two non-zeros of a row (no fields needed).

    Args:
        num_features: size of the feature space.
        embedding_dim: size ``k`` of the latent vectors. Defaults to `10`.
        embeddings_l2: L2 on the latent vectors of the non-zeros of each
            batch (see `keras_fm.layers.SparseFM`). Defaults to 0.
        task, output_range, name: as `build_fm`.

    Returns:
        A `keras.Model` from ``{"ids", "values"}`` to ``prediction``.
    """
    inputs = {
        "ids": keras.Input((None,), dtype="int64", ragged=True, name="ids"),
        "values": keras.Input((None,), dtype="float32", ragged=True, name="values"),
    }
    score = SparseFM(
        num_features, embedding_dim, embeddings_l2=embeddings_l2, name="fm"
    )(inputs)
    logit = keras.layers.Identity(name="logit")(score)
    return keras.Model(
        model_inputs(inputs), prediction_head(logit, task, output_range), name=name
    )
