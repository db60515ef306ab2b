"""Field-structured data generated from known models (the embedded defaults)."""

from keras_fm.datasets.synthetic_fm import FMGroundTruth, SyntheticFMData, make_fm_data

__all__ = ["FMGroundTruth", "SyntheticFMData", "make_fm_data"]
