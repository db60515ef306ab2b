"""Export for serving: versioned SavedModels for TF Serving and TFLite for edge."""

from keras_fm.export.saved_model import export_saved_model, write_warmup_requests
from keras_fm.export.serving_model import serving_signature
from keras_fm.export.tflite import (
    QUANTIZATIONS,
    edge_feature,
    edge_inputs,
    edge_model,
    to_tflite,
)
from keras_fm.export.versions import existing_versions

__all__ = [
    "QUANTIZATIONS",
    "edge_feature",
    "edge_inputs",
    "edge_model",
    "existing_versions",
    "export_saved_model",
    "serving_signature",
    "to_tflite",
    "write_warmup_requests",
]
