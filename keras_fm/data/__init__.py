"""tf.data readers that feed `model.fit` from libsvm, libffm, CSV and TFRecord files."""

from keras_fm.data.criteo import (
    CRITEO_CATEGORICAL_COLUMNS,
    CRITEO_COLUMNS,
    CRITEO_NUMERIC_COLUMNS,
    criteo_features,
    read_criteo,
)
from keras_fm.data.csv_reader import read_csv
from keras_fm.data.fields import (
    libffm_features,
    position_features,
    split_fields,
    split_positions,
)
from keras_fm.data.files import resolve_paths
from keras_fm.data.keras_inputs import keras_inputs
from keras_fm.data.padding import pad_rows, padded_widths
from keras_fm.data.pipeline import without_autotune_thread
from keras_fm.data.sparse_text import read_libffm, read_libsvm
from keras_fm.data.tfrecord import (
    convert_to_tfrecord,
    infer_schema,
    read_tfrecord,
    schema_from_json,
    write_tfrecord,
)

__all__ = [
    "CRITEO_CATEGORICAL_COLUMNS",
    "CRITEO_COLUMNS",
    "CRITEO_NUMERIC_COLUMNS",
    "convert_to_tfrecord",
    "criteo_features",
    "infer_schema",
    "keras_inputs",
    "libffm_features",
    "pad_rows",
    "padded_widths",
    "position_features",
    "read_criteo",
    "read_csv",
    "read_libffm",
    "read_libsvm",
    "read_tfrecord",
    "resolve_paths",
    "schema_from_json",
    "split_fields",
    "split_positions",
    "without_autotune_thread",
    "write_tfrecord",
]
