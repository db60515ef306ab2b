"""tf.data readers that feed `model.fit` from libsvm, libffm, CSV and TFRecord files."""

from keras_fm.data.files import resolve_paths
from keras_fm.data.sparse_text import read_libffm, read_libsvm

__all__ = ["read_libffm", "read_libsvm", "resolve_paths"]
