"""Shared input handling of the spec-driven embedding layers."""

from collections.abc import Sequence
from itertools import groupby
from typing import Any, cast

import keras
import numpy as np
import tensorflow as tf

from keras_fm.features.feature import Feature, id_weights
from keras_fm.features.id_feature import IdFeature
from keras_fm.layers.id_columns import encode_id_columns, is_plain_id
from keras_fm.layers.tables import TableLoading, add_table
from keras_fm.sparse_read import gather_rows


def deserialize_features(features: Sequence[Any]) -> list[Feature]:
    """Turns serialized specs back into `Feature` objects and checks them."""
    if isinstance(features, (str, bytes, dict)) or not isinstance(features, Sequence):
        raise ValueError(
            "`features` must be a non-empty list of feature specs. "
            f"Received: {features!r}"
        )
    result = []
    for feature in features:
        if isinstance(feature, dict):
            feature = keras.saving.deserialize_keras_object(feature)
        if not isinstance(feature, Feature):
            raise ValueError(
                "`features` must hold `keras_fm.features` specs. "
                f"Received an element {feature!r}"
            )
        feature.check_ready()
        result.append(feature)
    if not result:
        raise ValueError("`features` must be a non-empty list of feature specs.")
    names = [f.name for f in result]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Feature names must be unique. Repeated: {duplicates}")
    for feature in result:
        if feature.weight_feature is not None and feature.weight_feature in names:
            raise ValueError(
                f"Feature {feature.name!r}: its weight_feature "
                f"{feature.weight_feature!r} is also the name of a feature."
            )
    return result


def row_offsets(features: Sequence[Feature]) -> tuple[list[int], int]:
    """First row of each feature in one stacked table, and the table's size.

    Features that name the same ``table`` share their block of rows.
    """
    shared: dict[str, tuple[int, int]] = {}
    offsets, total = [], 0
    for feature in features:
        if feature.table is not None and feature.table in shared:
            offset, rows = shared[feature.table]
            if rows != feature.num_rows:
                raise ValueError(
                    f"Features sharing table {feature.table!r} must need the same "
                    f"number of rows; {feature.name!r} needs {feature.num_rows}, "
                    f"the table has {rows}."
                )
            offsets.append(offset)
            continue
        if feature.table is not None:
            shared[feature.table] = (total, feature.num_rows)
        offsets.append(total)
        total += feature.num_rows
    return offsets, total


def _as_list_tensor(value: Any, feature: Feature, what: str) -> Any:
    """A field's input as a dense `(B, L)` tensor or a `(B, None)` ragged one."""
    if isinstance(value, tf.SparseTensor):
        if value.shape.rank != 2:
            raise ValueError(
                f"Input {what} of feature {feature.name!r}: a SparseTensor must be "
                f"of rank 2 (batch, length). Received shape {value.shape}"
            )
        return tf.RaggedTensor.from_sparse(value)
    if isinstance(value, tf.RaggedTensor):
        if value.shape.rank != 2:
            raise ValueError(
                f"Input {what} of feature {feature.name!r}: a RaggedTensor must be "
                f"of rank 2 (batch, None). Received shape {value.shape}"
            )
        return value
    value = tf.convert_to_tensor(value)
    if value.shape.rank == 1:
        value = value[:, None]
    if value.shape.rank != 2:
        raise ValueError(
            f"Input {what} of feature {feature.name!r} must be of shape (batch,) or "
            f"(batch, length). Received shape {value.shape}"
        )
    if not feature.multivalent and value.shape[1] not in (1, None):
        raise ValueError(
            f"Feature {feature.name!r} is single-valued: its input must be of shape "
            f"(batch,) or (batch, 1). Received shape {value.shape}. Declare it "
            "with multivalent=True for lists of ids."
        )
    return value


def _column_fields(ids: Any, fields: list[int]) -> Any:
    """The field of each column of a dense entry `(B, L)` of `_rows`: its
    fields in order for a block (``L == len(fields)``), else its one field."""
    if len(fields) > 1:
        return tf.constant(fields, tf.int32)
    return tf.fill(tf.shape(ids)[1:2], fields[0])


def _dense_fields(rows: list[tuple[Any, Any, list[int]]]) -> Any:
    """The `(T,)` field index of each column of dense entries of `_rows`."""
    return tf.concat([_column_fields(ids, fields) for ids, _, fields in rows], axis=0)


def _flat(tensor: Any) -> Any:
    values = tensor.flat_values if isinstance(tensor, tf.RaggedTensor) else tensor
    return tf.cast(values, tf.float32)


def _map_values(fn: Any, tensor: Any) -> Any:
    if isinstance(tensor, tf.RaggedTensor):
        return tensor.with_flat_values(fn(tensor.flat_values))
    return fn(tensor)


class FieldInputLayer(TableLoading, keras.layers.Layer):
    """Base of layers that turn spec-described raw inputs into field vectors.

    It owns the specs' preprocessing layers, lays every feature's rows out in
    one stacked table (``row_offsets``), holds the first-order weights and the
    global bias, and pools per-row vectors into per-field ones. A subclass
    creates its latent table in `build` (after calling this `build`) and
    implements `row_vectors(ids)` (the vectors of row ids of any shape) and
    `vector_shape` (their trailing shape).
    """

    vector_shape: tuple[int, ...]

    def __init__(
        self,
        features: Sequence[Any],
        embedding_dim: int,
        embeddings_initializer: Any = None,
        embeddings_regularizer: Any = None,
        weights_regularizer: Any = None,
        embeddings_l2: float | dict[str, float] = 0.0,
        use_first_order: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(use_first_order, bool):
            raise ValueError(
                f"`use_first_order` must be a bool. Received: {use_first_order!r}"
            )
        self.use_first_order = use_first_order
        self.embeddings_l2 = check_embeddings_l2(embeddings_l2)
        if (
            isinstance(embedding_dim, bool)
            or not isinstance(embedding_dim, int)
            or embedding_dim < 1
        ):
            raise ValueError(
                "`embedding_dim` must be a positive int. "
                f"Received: embedding_dim={embedding_dim!r}"
            )
        self.features = deserialize_features(features)
        self.offsets, self.num_rows = row_offsets(self.features)
        names = [f.name for f in self.features]
        if isinstance(self.embeddings_l2, dict):
            unknown = sorted(set(self.embeddings_l2) - set(names))
            if unknown:
                raise ValueError(
                    f"`embeddings_l2` names features that are not inputs: {unknown}. "
                    f"Features: {names}"
                )
        # One penalty per field, gathered for each value in `call`.
        self._field_l2 = [self.l2_of(name) for name in names]
        self.embedding_dim = embedding_dim
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer or keras.initializers.RandomNormal(stddev=0.01)
        )
        self.embeddings_regularizer = keras.regularizers.get(embeddings_regularizer)
        self.weights_regularizer = keras.regularizers.get(weights_regularizer)
        self.preprocessors = {}
        for feature in self.features:
            preprocessor = feature.make_preprocessor()
            if preprocessor is not None:
                self.preprocessors[feature.name] = preprocessor

    def build(self, input_shape: Any) -> None:
        if not self.use_first_order:
            return
        self.linear_weights = add_table(
            self, "linear_weights", (self.num_rows,), "zeros", self.weights_regularizer
        )
        self.bias = self.add_weight(name="bias", shape=(), initializer="zeros")

    def row_vectors(self, ids: Any) -> Any:
        raise NotImplementedError

    def l2_of(self, name: str) -> float:
        """The batch L2 penalty on the latent vectors of feature ``name``."""
        if isinstance(self.embeddings_l2, dict):
            return self.embeddings_l2.get(name, 0.0)
        return self.embeddings_l2

    def call(self, inputs: Any) -> tuple[Any, Any]:
        ids, weights, fields = self.encode(inputs)
        num_fields = self.num_fields
        size = int(np.prod(self.vector_shape))
        if isinstance(ids, tf.RaggedTensor):
            batch = ids.nrows(out_type=tf.int32)
            rows = tf.cast(ids.value_rowids(), tf.int32)
            w = tf.cast(weights.flat_values, self.compute_dtype)
            flat = tf.reshape(self.row_vectors(ids.flat_values), (-1, size))  # (N, X)
            segments = rows * num_fields + fields.flat_values
            pooled = tf.math.unsorted_segment_sum(
                flat * w[:, None], segments, batch * num_fields
            )
            used = tf.cast(tf.not_equal(w, 0), self.compute_dtype)[:, None]
            if self.use_first_order:
                first = tf.math.unsorted_segment_sum(
                    gather_rows(self.linear_weights, ids.flat_values, w.dtype) * w,
                    rows,
                    batch,
                )[:, None]
        else:
            w = tf.cast(weights, self.compute_dtype)
            flat = tf.reshape(
                self.row_vectors(ids), (tf.shape(ids)[0], tf.shape(ids)[1], size)
            )
            # expand_dims, not [..., None]: TFLite's built-in StridedSlice
            # lacks the ellipsis + new-axis form.
            pooled = flat * tf.expand_dims(w, -1)
            if fields is not None:  # not one column per field: pool by field
                assignment = tf.one_hot(fields, num_fields, dtype=self.compute_dtype)
                pooled = tf.einsum("btx,tf->bfx", pooled, assignment)
            used = tf.expand_dims(tf.cast(tf.not_equal(w, 0), self.compute_dtype), -1)
            batch = tf.shape(ids)[0]
            if self.use_first_order:
                first = tf.reduce_sum(
                    gather_rows(self.linear_weights, ids, w.dtype) * w,
                    axis=1,
                    keepdims=True,
                )
        if any(self._field_l2):
            # L2 on the rows this batch uses (not the whole table), per example,
            # each value weighed by its field's penalty.
            penalty = tf.cast(used, "float32") * self._value_l2(ids, fields)
            squares = tf.reduce_sum(tf.square(tf.cast(flat, "float32")) * penalty)
            self.add_loss(squares / tf.cast(batch, "float32"))
        vectors = tf.reshape(pooled, (-1, num_fields, *self.vector_shape))
        if not self.use_first_order:
            return vectors, tf.zeros((batch, 1), self.compute_dtype)
        return vectors, first + tf.cast(self.bias, self.compute_dtype)

    def first_order_by_field(self, inputs: Any) -> Any:
        """Each field's first-order term ``sum_{(id, x) in field f} x * w[id]``.

        With the bias, they sum to `call`'s first-order output: the exact
        per-field split of ``w0 + sum_i w_i x_i`` (`keras_fm.explain`).

        Args:
            inputs: dict from feature name to tensor, as in `call`.

        Returns:
            `(batch, num_fields)` float32; zeros without first-order weights.
        """
        ids, weights, fields = self.encode(inputs)
        ragged = isinstance(ids, tf.RaggedTensor)
        batch = ids.nrows(out_type=tf.int32) if ragged else tf.shape(ids)[0]
        if not self.use_first_order:
            return tf.zeros((batch, self.num_fields), tf.float32)
        flat_ids = ids.flat_values if ragged else ids
        flat_weights = weights.flat_values if ragged else weights
        terms = gather_rows(self.linear_weights, flat_ids, tf.float32) * tf.cast(
            flat_weights, tf.float32
        )
        if ragged:
            segments = tf.cast(ids.value_rowids(), tf.int32) * self.num_fields
            by_field = tf.math.unsorted_segment_sum(
                terms, segments + fields.flat_values, batch * self.num_fields
            )
            return tf.reshape(by_field, (-1, self.num_fields))
        if fields is None:  # one column per field
            return terms
        return tf.matmul(terms, tf.one_hot(fields, self.num_fields))

    def _value_l2(self, ids: Any, fields: Any) -> Any:
        """Each value's L2 penalty, shaped to broadcast against ``used``."""
        if len(set(self._field_l2)) == 1:
            return tf.constant(self._field_l2[0], "float32")
        per_field = tf.constant(self._field_l2, "float32")
        if isinstance(ids, tf.RaggedTensor):  # used is (N, 1)
            return tf.gather(per_field, fields.flat_values)[:, None]
        if fields is None:  # used is (B, F, 1), one column per field
            return per_field[:, None]
        return tf.gather(per_field, fields)[:, None]  # used is (B, T, 1)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, Any]:
        batch = None
        if isinstance(input_shape, dict) and input_shape:
            batch = next(iter(input_shape.values()))[0]
        return (batch, self.num_fields, *self.vector_shape), (batch, 1)

    @property
    def num_fields(self) -> int:
        return len(self.features)

    def _check_inputs(self, inputs: Any) -> None:
        if not isinstance(inputs, dict):
            raise ValueError(
                f"`{type(self).__name__}` takes a dict of inputs keyed by feature "
                f"name. Received: {type(inputs).__name__}"
            )
        needed = [f.name for f in self.features] + [
            f.weight_feature for f in self.features if f.weight_feature is not None
        ]
        missing = [name for name in needed if name not in inputs]
        if missing:
            raise ValueError(
                f"`{type(self).__name__}` is missing inputs {missing}. "
                f"Received inputs: {sorted(inputs)}"
            )

    def _field_rows(self, inputs: Any, index: int) -> tuple[Any, Any]:
        feature = self.features[index]
        values = _as_list_tensor(inputs[feature.name], feature, "values")
        preprocessor = self.preprocessors.get(feature.name)
        if isinstance(values, tf.RaggedTensor):
            flat_ids, flat_weights = feature.encode(values.flat_values, preprocessor)
            ids = values.with_flat_values(flat_ids)
            weights = values.with_flat_values(flat_weights)
        else:
            ids, weights = feature.encode(values, preprocessor)
        if feature.weight_feature is not None:
            extra = _as_list_tensor(inputs[feature.weight_feature], feature, "weights")
            if isinstance(extra, tf.RaggedTensor) != isinstance(
                weights, tf.RaggedTensor
            ):
                raise ValueError(
                    f"Feature {feature.name!r} and its weights "
                    f"{feature.weight_feature!r} must both be dense, or both ragged "
                    "or sparse."
                )
            extra = _map_values(id_weights, extra)  # missing weight: 1.0
            weights = _map_values(lambda w: w * _flat(extra), weights)
        if feature.multivalent and feature.combiner != "sum":
            weights = _combine(weights, feature.combiner)
        ids = _map_values(lambda i: i + self.offsets[index], ids)
        return ids, weights

    def _plain_inputs(self, inputs: Any, index: int) -> tuple[Any, Any] | None:
        """A feature's dense value and weight inputs, `(B, 1)` each (weight
        None without a weight feature), if it can join a block of
        `encode_id_columns` (and their width is known); else None."""
        feature = self.features[index]
        value = inputs[feature.name]
        weight = inputs[feature.weight_feature] if feature.weight_feature else None
        preprocessor = self.preprocessors.get(feature.name)
        if not is_plain_id(feature, value, weight, preprocessor):
            return None
        value = _as_list_tensor(value, feature, "values")
        if weight is not None:
            weight = _as_list_tensor(weight, feature, "weights")
        if any(t is not None and t.shape[1] != 1 for t in (value, weight)):
            return None  # a width known only when run: encoded on its own
        return value, weight

    def _rows(self, inputs: Any) -> list[tuple[Any, Any, list[int]]]:
        """``(ids, weights, fields)`` of each feature, in field order, where
        ``fields`` lists the field indices an entry covers: one entry for
        each run of plain id features (one column per field, encoded as a
        block by `encode_id_columns`), one for each other feature."""
        found = [self._plain_inputs(inputs, i) for i in range(self.num_fields)]
        rows: list[tuple[Any, Any, list[int]]] = []
        for plain, group in groupby(
            range(self.num_fields), lambda i: found[i] is not None
        ):
            run = list(group)
            if not plain:
                rows.extend((*self._field_rows(inputs, i), [i]) for i in run)
                continue
            columns = [cast(tuple[Any, Any], found[i]) for i in run]
            ids, weights = encode_id_columns(
                [cast(IdFeature, self.features[i]) for i in run],
                [value for value, _ in columns],
                [weight for _, weight in columns],
                [self.offsets[i] for i in run],
            )
            rows.append((ids, weights, run))
        return rows

    def encode(self, inputs: Any) -> tuple[Any, Any, Any]:
        """Returns ``(ids, weights, fields)`` for the whole batch.

        Dense: ids `(B, T)` int32, weights `(B, T)` float32 and fields a
        `(T,)` int32 tensor of field indices, or None when every field has
        exactly one column (``T == num_fields``, in order). Ragged: three
        `(B, None)` ragged tensors with the same row splits.
        """
        self._check_inputs(inputs)
        rows = self._rows(inputs)
        if not any(isinstance(ids, tf.RaggedTensor) for ids, _, _ in rows):
            one_column = all(ids.shape[1] == len(f) for ids, _, f in rows)
            return (
                tf.concat([ids for ids, _, _ in rows], axis=1),
                tf.concat([weights for _, weights, _ in rows], axis=1),
                None if one_column else _dense_fields(rows),
            )
        ragged_ids, ragged_weights, ragged_fields = [], [], []
        for ids, weights, fields in rows:
            if not isinstance(ids, tf.RaggedTensor):
                ragged_fields.append(
                    tf.RaggedTensor.from_tensor(
                        _column_fields(ids, fields) + tf.zeros_like(ids)
                    )
                )
                ids = tf.RaggedTensor.from_tensor(ids)
                weights = tf.RaggedTensor.from_tensor(weights)
            else:
                ragged_fields.append(
                    ids.with_flat_values(tf.fill(tf.shape(ids.flat_values), fields[0]))
                )
            ragged_ids.append(ids)
            ragged_weights.append(weights)
        return (
            tf.concat(ragged_ids, axis=1),
            tf.concat(ragged_weights, axis=1),
            tf.concat(ragged_fields, axis=1),
        )

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            {
                "features": [
                    keras.saving.serialize_keras_object(f) for f in self.features
                ],
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
                "use_first_order": self.use_first_order,
            }
        )
        return config


def check_embeddings_l2(
    embeddings_l2: Any, per_feature: bool = True
) -> float | dict[str, float]:
    """A non-negative float, or (``per_feature``) a dict from feature name to one."""
    per_feature = per_feature and isinstance(embeddings_l2, dict)
    values = list(embeddings_l2.values()) if per_feature else [embeddings_l2]
    for value in values:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not value >= 0  # NaN too
        ):
            expected = " or a dict from feature name to one" if per_feature else ""
            raise ValueError(
                f"`embeddings_l2` must be a non-negative float{expected}. "
                f"Received: embeddings_l2={embeddings_l2!r}"
            )
    if isinstance(embeddings_l2, dict):
        return {str(name): float(value) for name, value in embeddings_l2.items()}
    return float(embeddings_l2)


def _combine(weights: Any, combiner: str) -> Any:
    """Scales each row's weights by 1 / sum(w) (mean) or 1 / sqrt(sum(w^2))."""
    if combiner == "mean":
        totals = tf.reduce_sum(weights, axis=1)
    else:
        totals = tf.sqrt(tf.reduce_sum(tf.square(weights), axis=1))
    scale = tf.math.divide_no_nan(tf.ones_like(totals), totals)  # empty rows stay 0
    if isinstance(weights, tf.RaggedTensor):
        return weights.with_flat_values(
            weights.flat_values * tf.gather(scale, weights.value_rowids())
        )
    return weights * scale[:, None]
