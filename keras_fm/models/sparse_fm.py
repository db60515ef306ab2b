"""A factorization machine over raw libsvm rows (no fields)."""

from collections.abc import Sequence
from typing import Any

import keras

from keras_fm.defaults import MODEL_DEFAULTS
from keras_fm.layers import SparseFM
from keras_fm.models.parts import finish

_D = MODEL_DEFAULTS["fm"]


def build_sparse_fm(
    num_features: int,
    *,
    embedding_dim: int = _D["embedding_dim"],
    embeddings_l2: float = _D["embeddings_l2"],
    embeddings_regularizer: Any = _D["embeddings_regularizer"],
    weights_regularizer: Any = _D["weights_regularizer"],
    embeddings_initializer: Any = _D["embeddings_initializer"],
    task: str = "binary",
    output_range: Sequence[float] | None = None,
    padded: bool = False,
    name: str = "sparse_fm",
) -> keras.Model:
    """Rendle's FM over every non-zero of a libsvm / libFM row.

    The model takes ``{"ids", "values"}`` ragged rows, as
    `keras_fm.data.read_libsvm` yields them (or, with ``padded=True``, the
    dense rows of `keras_fm.data.pad_rows`): libFM's model, with pairs of any
    two non-zeros of a row (no fields needed). The defaults are `build_fm`'s
    (`MODEL_DEFAULTS["fm"]`), and `compile_for_task` trains it as an FM.

    Args:
        num_features: size of the feature space.
        embedding_dim: size ``k`` of the latent vectors. Defaults to `10`.
        embeddings_l2: L2 on the latent vectors of the non-zeros of each
            batch (see `keras_fm.layers.SparseFM`). Defaults to `0.005`.
        embeddings_regularizer, weights_regularizer, embeddings_initializer,
            task, output_range, name: as `build_fm`.
        padded: whether the inputs are dense ``(batch, width)`` rows padded
            with id -1 and value 0 (`keras_fm.data.pad_rows`) rather than
            ragged. `compile_for_task` compiles a padded model's steps with
            XLA (for tables up to `DENSE_UPDATE_ENTRIES` entries), which
            ragged inputs rule out: on frappe's raw rows at k = 64, an epoch
            with its validation pass took 1.3-1.5 s padded against 2.7-3.3 s
            ragged. ``keras-fm train`` pads from 2 MiB of training files.
            Defaults to False.

    Returns:
        A `keras.Model` from ``{"ids", "values"}`` to ``prediction``.
    """
    inputs = {
        "ids": keras.Input((None,), dtype="int64", ragged=not padded, name="ids"),
        "values": keras.Input(
            (None,), dtype="float32", ragged=not padded, name="values"
        ),
    }
    score = SparseFM(
        num_features,
        embedding_dim,
        embeddings_l2=embeddings_l2,
        embeddings_regularizer=embeddings_regularizer,
        weights_regularizer=weights_regularizer,
        embeddings_initializer=embeddings_initializer,
        name="fm",
    )(inputs)
    return finish(inputs, [score], task, output_range, name)
