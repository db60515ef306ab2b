"""A complete factorization machine over raw sparse rows (libsvm / libFM)."""

from typing import Any

import keras
import tensorflow as tf

from keras_fm.features.feature import id_weights
from keras_fm.layers.field_input_layer import check_embeddings_l2
from keras_fm.layers.tables import TableLoading, add_table
from keras_fm.registration import register
from keras_fm.sparse_read import gather_rows


@register
class SparseFM(TableLoading, keras.layers.Layer):
    """Rendle's factorization machine over rows of (feature id, value) pairs.

    Each row is any number of non-zeros ``(i, x_i)`` over a feature space of
    ``num_features`` ids, as in a libsvm or libFM file, with no notion of
    fields. The layer returns the whole model,

        y = w0 + sum_i w_i x_i + sum_{i<j} <v_i, v_j> x_i x_j,

    over all non-zeros of the row (two non-zeros of one "field" interact like
    any others), with the pairwise sum computed as
    ``0.5 * sum_f [(sum_i v_if x_i)^2 - sum_i v_if^2 x_i^2]``: two gathers and
    two segment sums, ``O(k * nnz)``. Ids outside ``[0, num_features)`` (e.g.
    at serving time) use one out-of-vocabulary row, ``num_features``.

    Args:
        num_features: int. Size of the feature space.
        embedding_dim: int. Size of the latent vectors (``k``).
        embeddings_initializer: initializer of ``v``. Defaults to
            `RandomNormal(stddev=0.01)`.
        embeddings_regularizer: Optional regularizer of ``v``.
        weights_regularizer: Optional regularizer of ``w``.
        embeddings_l2: float. L2 penalty on the latent vectors of the
            non-zeros of each batch (``sum l2 * ||v_i||^2 / batch_size`` over
            the batch's non-zeros, added to the loss): libFM's
            regularization, which costs nothing for ids not in the batch.
            Defaults to 0.
        **kwargs: Base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: dict with `"ids"` (integer) and `"values"` (float), both
            `tf.RaggedTensor` `(batch, None)`, both `tf.SparseTensor`
            `(batch, length)`, or both dense `(batch, length)` (pad with
            value 0: a zero value contributes nothing). This is what
            `keras_fm.data.read_libsvm` yields.

    Returns:
        Tensor of shape `(batch, 1)`: the FM score (a logit for binary tasks).

    Example:

    >>> import tensorflow as tf
    >>> fm = SparseFM(num_features=100, embedding_dim=8)
    >>> rows = {"ids": tf.ragged.constant([[3, 17, 42], [5]], dtype="int64"),
    ...         "values": tf.ragged.constant([[1.0, 0.5, 2.0], [1.0]])}
    >>> tuple(fm(rows).shape)
    (2, 1)

    References:
        - [Rendle, 2010. Factorization Machines](
          https://doi.org/10.1109/ICDM.2010.127), Eq. (1) and Lemma 3.1.
    """

    def __init__(
        self,
        num_features: int,
        embedding_dim: int,
        embeddings_initializer: Any = None,
        embeddings_regularizer: Any = None,
        weights_regularizer: Any = None,
        embeddings_l2: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for arg, value in (
            ("num_features", num_features),
            ("embedding_dim", embedding_dim),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{arg}` must be a positive int. Received: {arg}={value!r}"
                )
        self.embeddings_l2 = float(
            check_embeddings_l2(embeddings_l2, per_feature=False)  # type: ignore[arg-type]
        )
        self.num_features = num_features
        self.embedding_dim = embedding_dim
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer or keras.initializers.RandomNormal(stddev=0.01)
        )
        self.embeddings_regularizer = keras.regularizers.get(embeddings_regularizer)
        self.weights_regularizer = keras.regularizers.get(weights_regularizer)

    def build(self, input_shape: Any) -> None:
        rows = self.num_features + 1  # the last row is the out-of-vocabulary row
        self.embeddings = add_table(
            self,
            "embeddings",
            (rows, self.embedding_dim),
            self.embeddings_initializer,
            self.embeddings_regularizer,
        )
        self.linear_weights = add_table(
            self, "linear_weights", (rows,), "zeros", self.weights_regularizer
        )
        self.bias = self.add_weight(name="bias", shape=(), initializer="zeros")
        self.built = True

    def call(self, inputs: Any) -> Any:
        if _is_padded(inputs):  # (batch, width): sums over axis 1 (XLA-friendly)
            ids, values = clean_nonzeros(
                inputs["ids"], inputs["values"], self.num_features
            )
            batch = tf.shape(ids)[0]

            def total(terms: Any) -> Any:
                return tf.reduce_sum(terms, axis=1)

        else:
            ids, values, rows, batch = sparse_nonzeros(
                inputs, self.num_features, "SparseFM"
            )

            def total(terms: Any) -> Any:
                return tf.math.unsorted_segment_sum(terms, rows, batch)

        x = tf.cast(values, self.compute_dtype)
        vectors = gather_rows(self.embeddings, ids, self.compute_dtype)
        scaled = vectors * tf.expand_dims(x, -1)
        if self.embeddings_l2:
            used = tf.expand_dims(tf.cast(tf.not_equal(values, 0), "float32"), -1)
            squares = tf.reduce_sum(used * tf.square(tf.cast(vectors, "float32")))
            self.add_loss(self.embeddings_l2 * squares / tf.cast(batch, "float32"))
        sum_, sum_sq = total(scaled), total(tf.square(scaled))  # (B, k)
        pairwise = 0.5 * tf.reduce_sum(tf.square(sum_) - sum_sq, axis=1)  # (B,)
        linear = total(gather_rows(self.linear_weights, ids, self.compute_dtype) * x)
        return (tf.cast(self.bias, self.compute_dtype) + linear + pairwise)[:, None]

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        batch = input_shape["ids"][0] if isinstance(input_shape, dict) else None
        return (batch, 1)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            {
                "num_features": self.num_features,
                "embedding_dim": self.embedding_dim,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
                "embeddings_regularizer": keras.regularizers.serialize(
                    self.embeddings_regularizer
                ),
                "weights_regularizer": keras.regularizers.serialize(
                    self.weights_regularizer
                ),
                "embeddings_l2": self.embeddings_l2,
            }
        )
        return config


def _flat_rows(inputs: Any, layer: str) -> tuple[Any, Any, Any, Any]:
    """Flat ids, flat values, the row of each, and the batch size."""
    if not isinstance(inputs, dict) or {"ids", "values"} - set(inputs):
        received = sorted(inputs) if isinstance(inputs, dict) else type(inputs)
        raise ValueError(
            f"`{layer}` takes a dict with 'ids' and 'values'. Received: {received}"
        )
    ids, values = inputs["ids"], inputs["values"]
    if isinstance(ids, tf.SparseTensor):
        ids, values = (
            tf.RaggedTensor.from_sparse(ids),
            tf.RaggedTensor.from_sparse(values),
        )
    if isinstance(ids, tf.RaggedTensor):
        if not isinstance(values, tf.RaggedTensor):
            raise ValueError(f"`{layer}`: 'ids' and 'values' must both be ragged.")
        batch = ids.nrows(out_type=tf.int32)
        rows = tf.cast(ids.value_rowids(), tf.int32)
        return ids.flat_values, values.flat_values, rows, batch
    ids, values = tf.convert_to_tensor(ids), tf.convert_to_tensor(values)
    batch = tf.shape(ids)[0]
    rows = tf.repeat(tf.range(batch), tf.shape(ids)[1])
    return tf.reshape(ids, [-1]), tf.reshape(values, [-1]), rows, batch


def sparse_nonzeros(
    inputs: Any, num_features: int, layer: str
) -> tuple[Any, Any, Any, Any]:
    """The non-zeros of rows of (feature id, value) pairs, as a model uses them.

    Args:
        inputs: dict with ``"ids"`` and ``"values"``: both ragged, both
            sparse, or both dense `(batch, length)`.
        num_features: the size of the feature space: other ids (e.g. unseen
            at serving time) become the out-of-vocabulary id ``num_features``.
        layer: the layer's name, for errors.

    Returns:
        ``(ids, values, rows, batch)``: flat int64 ids, flat float32 values
        (NaN: libsvm's implicit 1.0; 0 for padding ids below 0, clipped by
        `keras_fm.features.feature.limit_values`), the row of each, and the
        number of rows.
    """
    ids, values, rows, batch = _flat_rows(inputs, layer)
    ids, values = clean_nonzeros(ids, values, num_features)
    return ids, values, rows, batch


def clean_nonzeros(ids: Any, values: Any, num_features: int) -> tuple[Any, Any]:
    """Ids and values of any shape as a model uses them: int64 ids, ids
    outside ``[0, num_features)`` made the out-of-vocabulary id
    ``num_features``; float32 values, NaN read as libsvm's implicit 1.0 (0
    for a padding id below 0), clipped by
    `keras_fm.features.feature.limit_values`."""
    ids = tf.cast(ids, tf.int64)
    values = tf.cast(values, tf.float32)
    values = tf.where(ids < 0, tf.where(tf.math.is_nan(values), 0.0, values), values)
    values = id_weights(values)
    in_range = tf.logical_and(ids >= 0, ids < num_features)
    ids = tf.where(in_range, ids, tf.cast(num_features, tf.int64))
    return ids, values


def _is_padded(inputs: Any) -> bool:
    """Whether ``inputs`` holds dense ``(batch, width)`` ids and values."""
    return isinstance(inputs, dict) and all(
        not isinstance(inputs.get(key), (tf.RaggedTensor, tf.SparseTensor, type(None)))
        and len(inputs[key].shape) == 2
        for key in ("ids", "values")
    )
