"""Keras inputs that match what a reader yields."""

from typing import Any

import keras
import tensorflow as tf


def keras_inputs(dataset: tf.data.Dataset) -> dict[str, Any]:
    """Returns one `keras.Input` per feature of a reader's dataset.

    Names, dtypes and ragged-ness follow ``dataset.element_spec``, so a
    functional model built on them takes the dataset's batches as they are.

    Args:
        dataset: a dataset of ``(features, labels)`` batches (any reader of
            `keras_fm.data`, or a `.map` of one).

    Returns:
        dict from feature name to `keras.Input`.

    Example:

    >>> import tensorflow as tf
    >>> data = tf.data.Dataset.from_tensor_slices(
    ...     ({"city": ["a", "b"]}, [0.0, 1.0])).batch(2)
    >>> keras_inputs(data)["city"].dtype
    'string'
    """
    features_spec = dataset.element_spec[0]
    inputs = {}
    for name, spec in features_spec.items():
        ragged = isinstance(spec, tf.RaggedTensorSpec)
        sparse = isinstance(spec, tf.SparseTensorSpec)
        inputs[name] = keras.Input(
            shape=tuple(spec.shape[1:]),
            dtype=spec.dtype.name,
            ragged=ragged or None,
            sparse=sparse or None,
            name=name,
        )
    return inputs
