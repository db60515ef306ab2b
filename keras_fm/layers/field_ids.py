"""Spec-described inputs as rows of (feature id, value) pairs."""

from typing import Any

import keras

from keras_fm.layers.field_input_layer import FieldInputLayer
from keras_fm.registration import register


@register
class FieldIds(FieldInputLayer):
    """Turns raw feature inputs into the ids and values of one feature space.

    Each field's values go through its spec's lookup, hashing or bucketing,
    as in `FieldEmbedding`, and its ids are offset into one space of
    ``num_rows`` ids (features naming the same ``table`` share theirs). The
    result is what `SparseFM` and `PosteriorFM` read: so a model learned on
    libsvm-style rows (e.g. by `keras_fm.bayes.fit_mcmc`) takes the same
    feature dict as the field models.

    Args:
        features: list of `keras_fm.features` specs, one per field.
        **kwargs: Base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: dict from feature name (and weight-feature name) to tensor,
            dense, ragged or sparse, as `FieldEmbedding` takes.

    Returns:
        dict with ``"ids"`` (int32) and ``"values"`` (float32): `(B, T)`
        dense tensors when every input is dense, else `(B, None)` ragged
        ones; padding and missing values have value 0.

    Example:

    >>> import numpy as np
    >>> from keras_fm.features import IdFeature
    >>> layer = FieldIds([IdFeature("user", 10), IdFeature("item", 5)])
    >>> # user takes ids 0..10 (10: out of vocabulary), item 11..16
    >>> rows = layer({"user": np.array([[3]]), "item": np.array([[4]])})
    >>> rows["ids"].numpy().tolist()
    [[3, 15]]

    References:
        - S. Rendle. Factorization Machines with libFM. ACM TIST 3(3), 2012
          (rows of one feature space, each field's values one-hot or real).
    """

    def __init__(self, features: Any, **kwargs: Any) -> None:
        super().__init__(features, embedding_dim=1, use_first_order=False, **kwargs)

    def build(self, input_shape: Any) -> None:
        self.built = True  # no weights: the preprocessors hold any state

    # It shares the encoding of its base, not its outputs.
    def call(self, inputs: Any) -> dict[str, Any]:  # type: ignore[override]
        ids, weights, _ = self.encode(inputs)
        return {"ids": ids, "values": weights}

    def compute_output_shape(  # type: ignore[override]
        self, input_shape: Any
    ) -> dict[str, Any]:
        batch = next(iter(input_shape.values()))[0]
        return {"ids": (batch, None), "values": (batch, None)}

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = keras.layers.Layer.get_config(self)
        config["features"] = [
            keras.saving.serialize_keras_object(f) for f in self.features
        ]
        return config
