"""A real value cut into buckets, each bucket a categorical id."""

import itertools
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_fm.features.feature import Feature, present_weights
from keras_fm.features.numeric_feature import (
    TRANSFORMS,
    apply_transform,
    observed_values,
)
from keras_fm.registration import register


@register
class BucketizedFeature(Feature):
    """A real-valued field turned into a categorical one by bucketing.

    Bucket ``i`` holds the values in ``[boundaries[i-1], boundaries[i])``
    (bucket 0 everything below the first boundary, the last everything from
    the last one up), computed by `keras.layers.Discretization` in the graph;
    the field takes ``len(boundaries) + 1`` rows. Boundaries are given, or
    computed by `keras_fm.features.adapt` as ``num_bins`` quantiles of the
    (transformed) data. A missing value (NaN) contributes nothing.

    Args:
        name: str. The feature's name.
        boundaries: Optional increasing sequence of float. Defaults to `None`
            (to be adapted).
        num_bins: Optional int. Number of quantile buckets for `adapt`.
            Defaults to `None`.
        transform: Optional str. `None` or `"log"` (see `NumericFeature`),
            applied before bucketing. Defaults to `None`.

    Example:

    >>> BucketizedFeature("age", boundaries=[18, 25, 35, 45, 55]).num_rows
    6
    """

    input_dtype = "float32"

    def __init__(
        self,
        name: str,
        boundaries: Sequence[float] | None = None,
        num_bins: int | None = None,
        transform: str | None = None,
    ) -> None:
        super().__init__(name)
        if boundaries is None and num_bins is None:
            raise ValueError(
                f"Feature {name!r} needs `boundaries` or `num_bins` (to adapt)."
            )
        if boundaries is not None:
            boundaries = [float(b) for b in boundaries]
            if not boundaries or any(b >= c for b, c in itertools.pairwise(boundaries)):
                raise ValueError(
                    f"`boundaries` of feature {name!r} must be non-empty and strictly "
                    f"increasing. Received: boundaries={boundaries!r}"
                )
        if num_bins is not None and (not isinstance(num_bins, int) or num_bins < 2):
            raise ValueError(
                f"`num_bins` must be an int >= 2. Received: num_bins={num_bins!r}"
            )
        if transform not in TRANSFORMS:
            raise ValueError(
                f"`transform` must be one of {TRANSFORMS}. "
                f"Received: transform={transform!r}"
            )
        self.boundaries = boundaries
        self.num_bins = num_bins
        self.transform = transform

    @property
    def needs_adapt(self) -> bool:
        return self.boundaries is None

    @property
    def num_rows(self) -> int:
        self.check_ready()
        assert self.boundaries is not None
        return len(self.boundaries) + 1

    def make_preprocessor(self) -> keras.layers.Layer:
        self.check_ready()
        return keras.layers.Discretization(
            bin_boundaries=self.boundaries, name=f"{self.name}_discretization"
        )

    def encode(self, values: Any, preprocessor: Any) -> tuple[Any, Any]:
        values = tf.cast(values, tf.float32)
        present = present_weights(values)
        values = apply_transform(tf.where(present > 0, values, 0.0), self.transform)
        return tf.cast(preprocessor(values), tf.int32), present

    def adapted(self, values: Any) -> "BucketizedFeature":
        values = observed_values(values, self.transform, self.name)
        assert self.num_bins is not None
        quantiles = np.quantile(values, np.linspace(0, 1, self.num_bins + 1)[1:-1])
        boundaries = np.unique(quantiles).tolist()
        if not boundaries:
            boundaries = [float(values[0])]
        return BucketizedFeature(
            self.name,
            boundaries=boundaries,
            num_bins=self.num_bins,
            transform=self.transform,
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "boundaries": self.boundaries,
                "num_bins": self.num_bins,
                "transform": self.transform,
            }
        )
        return config
