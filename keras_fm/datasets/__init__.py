"""Field-structured data generated from known models (the embedded defaults)."""

from keras_fm.datasets.synthetic_data import SyntheticData
from keras_fm.datasets.synthetic_ffm import FFMGroundTruth, make_ffm_data
from keras_fm.datasets.synthetic_fm import FMGroundTruth, make_fm_data

__all__ = [
    "FFMGroundTruth",
    "FMGroundTruth",
    "SyntheticData",
    "make_ffm_data",
    "make_fm_data",
]
