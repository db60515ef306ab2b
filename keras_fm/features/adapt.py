"""Computing vocabularies and statistics of feature specs from data."""

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from keras_fm.features.categorical_feature import CategoricalFeature
from keras_fm.features.feature import Feature


def _flat_values(tensor: Any) -> np.ndarray:
    if isinstance(tensor, tf.RaggedTensor):
        tensor = tensor.flat_values
    elif isinstance(tensor, tf.SparseTensor):
        tensor = tensor.values
    return np.asarray(tensor).reshape(-1)


def adapt(features: Sequence[Feature], data: Iterable[Any]) -> list[Feature]:
    """Returns the specs with every missing vocabulary and statistic computed.

    Specs that need nothing are returned as they are. The others get: a
    vocabulary (`LookupFeature`: values seen at least ``min_count`` times,
    most frequent first), a mean and variance (`NumericFeature` with
    ``normalize=True``), or quantile boundaries (`BucketizedFeature` with
    ``num_bins``). Padding values of multivalent features are left out.

    Args:
        features: sequence of `Feature` specs.
        data: a `tf.data.Dataset` (or any iterable) of feature dicts or of
            ``(features, label[, sample_weight])`` tuples, batched or not,
            holding dense, ragged or sparse tensors. It is read once, whole:
            pass ``dataset.take(n)`` to adapt on a sample.

    Returns:
        A new list of specs, in the same order.

    Example:

    >>> import tensorflow as tf
    >>> from keras_fm.features import LookupFeature
    >>> data = tf.data.Dataset.from_tensor_slices(
    ...     {"city": ["paris", "rome", "paris", "oslo"]}).batch(2)
    >>> adapt([LookupFeature("city", min_count=2)], data)[0].vocabulary
    ['paris']
    """
    features = list(features)
    pending = [i for i, f in enumerate(features) if f.needs_adapt]
    if not pending:
        return features
    collected: dict[int, list[np.ndarray]] = {i: [] for i in pending}
    for element in data:
        inputs = element[0] if isinstance(element, tuple) else element
        for index in pending:
            feature = features[index]
            if feature.name not in inputs:
                raise ValueError(
                    f"Cannot adapt feature {feature.name!r}: the data has no such "
                    f"input. Inputs: {sorted(inputs)}"
                )
            values = _flat_values(inputs[feature.name])
            if isinstance(feature, CategoricalFeature) and feature.multivalent:
                pad = feature.pad_value
                values = values[
                    values != (pad.encode() if isinstance(pad, str) else pad)
                ]
            collected[index].append(values)
    adapted = list(features)
    for index in pending:
        parts = collected[index]
        adapted[index] = features[index].adapted(
            np.concatenate(parts) if parts else np.array([])
        )
    return adapted
