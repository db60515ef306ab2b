"""Feature specs: what the fields of a model hold and how they become rows."""

from keras_fm.features.adapt import adapt
from keras_fm.features.bucketized_feature import BucketizedFeature
from keras_fm.features.categorical_feature import CategoricalFeature
from keras_fm.features.feature import Feature
from keras_fm.features.hashed_feature import HashedFeature
from keras_fm.features.id_feature import IdFeature
from keras_fm.features.lookup_feature import LookupFeature
from keras_fm.features.numeric_feature import NumericFeature

__all__ = [
    "BucketizedFeature",
    "CategoricalFeature",
    "Feature",
    "HashedFeature",
    "IdFeature",
    "LookupFeature",
    "NumericFeature",
    "adapt",
]
