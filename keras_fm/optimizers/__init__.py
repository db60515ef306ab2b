"""Optimizers whose embedding updates cost the batch's rows, not the table's."""

from keras_fm.optimizers.lazy_adam import LazyAdam
from keras_fm.optimizers.sparse_adagrad import SparseAdagrad
from keras_fm.optimizers.sparse_ftrl import SparseFtrl

__all__ = ["LazyAdam", "SparseAdagrad", "SparseFtrl"]
