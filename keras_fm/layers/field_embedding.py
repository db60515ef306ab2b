"""Field embeddings and the first-order term from spec-described inputs."""

from typing import Any

from keras_fm.layers.field_input_layer import FieldInputLayer
from keras_fm.layers.tables import add_table
from keras_fm.registration import register
from keras_fm.sparse_read import gather_rows


@register
class FieldEmbedding(FieldInputLayer):
    """Turns raw feature inputs into one latent vector per field.

    For each field ``f`` with entries ``(id, x)`` (one for a single-valued or
    numeric field, a list for a multivalent one, after the spec's lookup,
    hashing or bucketing), the layer returns

        vectors[b, f]  = sum_{(id, x) in field f} x * v[id]        (B, F, D)
        first_order[b] = w0 + sum_f sum_{(id, x) in field f} x * w[id]  (B, 1)

    where ``x`` is 1 for a categorical id (times its per-id weight and the
    combiner's ``1 / n`` or ``1 / sqrt(n)``) and the transformed value for a
    numeric field. These are exactly the ``v_i x_i`` and ``w0 + sum w_i x_i``
    of Rendle's FM, ready for `FMInteraction` or `CIN`. A field with no entry
    (an empty list, a missing numeric value) gives a zero vector.

    All features share one stacked table of ``num_rows`` rows (the sum of the
    specs' ``num_rows``; features naming the same ``table`` share rows), so a
    batch costs one gather whatever the number of fields.

    Each input may be a dense tensor — `(batch,)` or `(batch, 1)` for a
    single value, `(batch, length)` padded with the spec's ``pad_value`` for a
    list — a `tf.RaggedTensor` `(batch, None)`, or a `tf.SparseTensor`
    `(batch, length)` whose values are the raw values. The three give the same
    result. Serving and TFLite use the dense form.

    Args:
        features: list of `keras_fm.features` specs, one per field, in field
            order.
        embedding_dim: int. Size of the latent vectors.
        embeddings_initializer: initializer of the latent vectors. Defaults
            to `RandomNormal(stddev=0.01)`.
        embeddings_regularizer: Optional regularizer of the latent table.
            Defaults to `None`.
        weights_regularizer: Optional regularizer of the first-order weights.
            Defaults to `None`.
        embeddings_l2: float, or dict from feature name to float. L2 penalty
            on the latent vectors a batch uses (``sum_rows l2 * ||v_row||^2 /
            batch_size``, added to the loss), the usual CTR regularization;
            unlike `embeddings_regularizer` it costs nothing for rows not in
            the batch. A dict sets each feature's penalty (features it does
            not name get none), e.g. lighter on a few-valued side feature
            than on ids. Defaults to `0.0`.
        use_first_order: bool. Whether to hold first-order weights and a bias;
            if `False`, the first-order output is zeros. Defaults to `True`.
        **kwargs: Base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: dict from feature name (and weight-feature name) to tensor.

    Returns:
        A tuple `(vectors, first_order)`: `(batch, num_fields, embedding_dim)`
        and `(batch, 1)`.

    Example:

    >>> import numpy as np
    >>> from keras_fm.features import IdFeature, NumericFeature
    >>> layer = FieldEmbedding(
    ...     [IdFeature("user", vocabulary_size=10), NumericFeature("age")],
    ...     embedding_dim=4,
    ... )
    >>> vectors, first_order = layer(
    ...     {"user": np.array([3, 7]), "age": np.array([0.5, 1.0])})
    >>> tuple(vectors.shape), tuple(first_order.shape)
    ((2, 2, 4), (2, 1))

    References:
        - [Rendle, 2010. Factorization Machines](
          https://doi.org/10.1109/ICDM.2010.127), Eq. (1).
    """

    @property
    def vector_shape(self) -> tuple[int, ...]:  # type: ignore[override]
        return (self.embedding_dim,)

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        self.embeddings = add_table(
            self,
            "embeddings",
            (self.num_rows, self.embedding_dim),
            self.embeddings_initializer,
            self.embeddings_regularizer,
        )
        self.built = True

    def row_vectors(self, ids: Any) -> Any:
        return gather_rows(self.embeddings, ids, self.compute_dtype)
