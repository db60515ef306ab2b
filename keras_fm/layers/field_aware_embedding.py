"""Field-aware latent vectors (one per pair of fields) for `FieldAwareFM`."""

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from keras_fm.layers.field_input_layer import FieldInputLayer
from keras_fm.layers.tables import add_table
from keras_fm.registration import register
from keras_fm.sparse_read import gather_rows

# Multiplier and modulus of the field-aware bucket hash (Knuth's multiplicative
# constant; a Mersenne prime keeps the products inside int64).
_HASH_MULTIPLIER = 2654435761
_HASH_MODULUS = 2**31 - 1


@register
class FieldAwareEmbedding(FieldInputLayer):
    """Turns raw feature inputs into field-aware latent vectors.

    In a field-aware FM every row ``id`` has one latent vector per field it
    can meet, ``v[id, g]``. For each field ``f`` with entries ``(id, x)``
    (see `FieldEmbedding` for what the entries and their weights ``x`` are)
    the layer returns

        latent[b, f, g] = sum_{(id, x) in field f} x * v[id, g]   (B, F, F, D)

    which `FieldAwareFM` pairs as ``<latent[:, i, j], latent[:, j, i]>``; it
    also returns the first-order term ``w0 + sum x * w[id]`` of shape `(B, 1)`.

    Memory. The full tables hold ``num_rows * F * D`` latent floats (``F``
    times an FM's), which is too much for large vocabularies: 10^7 rows, 39
    fields and D = 4 are 1.56e9 floats (6.2 GB). With ``num_buckets=K`` the
    vector of ``(id, g)`` is instead row ``hash(id, g) mod K`` of one ``(K, D)``
    table, ``K * D`` floats whatever the vocabulary and number of fields, at
    the price of collisions between pairs that share a bucket (the hashing
    trick). Both modes add ``num_rows`` first-order weights.

    Args:
        features: list of `keras_fm.features` specs, one per field.
        embedding_dim: int. Size of each latent vector.
        num_buckets: Optional int. Bound the latent table to this many rows
            by hashing ``(row, field)`` pairs. Defaults to `None` (full tables).
        embeddings_initializer: initializer of the latent vectors. Defaults to
            `RandomNormal(stddev=0.01)`.
        embeddings_regularizer: Optional regularizer of the latent table.
        weights_regularizer: Optional regularizer of the first-order weights.
            Defaults to `None`.
        embeddings_l2: float, or dict from feature name to float. L2 penalty
            on the field-aware vectors a batch uses (``sum_rows l2 * ||v_row||^2 /
            batch_size``, added to the loss), the usual CTR regularization;
            unlike `embeddings_regularizer` it costs nothing for rows not in
            the batch. A dict sets each feature's penalty (features it does
            not name get none), e.g. lighter on a few-valued side feature
            than on ids. Defaults to `0.0`.
        use_first_order: bool. Whether to hold first-order weights and a bias;
            if `False`, the first-order output is zeros. Defaults to `True`.
        **kwargs: Base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: dict from feature name (and weight-feature name) to a dense,
            ragged or sparse tensor, as for `FieldEmbedding`.

    Returns:
        A tuple `(latent, first_order)` of shapes
        `(batch, num_fields, num_fields, embedding_dim)` and `(batch, 1)`.

    Example:

    >>> import numpy as np
    >>> from keras_fm.features import IdFeature
    >>> layer = FieldAwareEmbedding(
    ...     [IdFeature("user", 100), IdFeature("item", 50), IdFeature("hour", 24)],
    ...     embedding_dim=4,
    ... )
    >>> latent, _ = layer({"user": np.array([1]), "item": np.array([2]),
    ...                    "hour": np.array([9])})
    >>> tuple(latent.shape)
    (1, 3, 3, 4)

    References:
        - [Juan et al., 2016. Field-aware Factorization Machines for CTR
          Prediction](https://doi.org/10.1145/2959100.2959134).
        - [Weinberger et al., 2009. Feature Hashing for Large Scale Multitask
          Learning](https://arxiv.org/abs/0902.2206).
    """

    def __init__(
        self,
        features: Sequence[Any],
        embedding_dim: int,
        num_buckets: int | None = None,
        embeddings_initializer: Any = None,
        embeddings_regularizer: Any = None,
        weights_regularizer: Any = None,
        embeddings_l2: float | dict[str, float] = 0.0,
        use_first_order: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            features,
            embedding_dim,
            embeddings_initializer=embeddings_initializer,
            embeddings_regularizer=embeddings_regularizer,
            weights_regularizer=weights_regularizer,
            embeddings_l2=embeddings_l2,
            use_first_order=use_first_order,
            **kwargs,
        )
        if num_buckets is not None and (
            isinstance(num_buckets, bool)
            or not isinstance(num_buckets, int)
            or not 1 <= num_buckets <= _HASH_MODULUS
        ):
            raise ValueError(
                f"`num_buckets` must be None or an int in [1, {_HASH_MODULUS}]. "
                f"Received: num_buckets={num_buckets!r}"
            )
        self.num_buckets = num_buckets

    @property
    def vector_shape(self) -> tuple[int, ...]:  # type: ignore[override]
        return (self.num_fields, self.embedding_dim)

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        if self.num_buckets is None:
            shape = (self.num_rows, self.num_fields * self.embedding_dim)
        else:
            shape = (self.num_buckets, self.embedding_dim)
        self.embeddings = add_table(
            self,
            "embeddings",
            shape,
            self.embeddings_initializer,
            self.embeddings_regularizer,
        )
        self.built = True

    def row_vectors(self, ids: Any) -> Any:
        """The `(..., F, D)` field-aware vectors of row ids of any shape."""
        if self.num_buckets is None:
            vectors = gather_rows(self.embeddings, ids, self.compute_dtype)
            shape = tf.concat([tf.shape(ids), [self.num_fields, self.embedding_dim]], 0)
            return tf.reshape(vectors, shape)
        # expand_dims, not [..., None], which TFLite's built-ins lack.
        keys = tf.expand_dims(tf.cast(ids, tf.int64), -1) * self.num_fields + tf.range(
            self.num_fields, dtype=tf.int64
        )  # (..., F)
        buckets = tf.math.floormod(
            tf.math.floormod(keys, _HASH_MODULUS) * _HASH_MULTIPLIER, _HASH_MODULUS
        )
        return gather_rows(
            self.embeddings,
            tf.math.floormod(buckets, self.num_buckets),
            self.compute_dtype,
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["num_buckets"] = self.num_buckets
        return config
