"""Client side of TF Serving: requests from feature dicts, responses to arrays.

Example:

    from keras_fm import serving
    signature = serving.Signature.load("models/fm/1")
    body = serving.rest_body([{"user": 3, "item": 17}], signature)
    request = serving.predict_request([{"user": 3, "item": 17}], signature, "fm")
"""

from keras_fm.serving.requests import (
    parse_predict_response,
    parse_rest_response,
    predict_request,
    rest_body,
)
from keras_fm.serving.signature import InputSpec, Signature

__all__ = [
    "InputSpec",
    "Signature",
    "parse_predict_response",
    "parse_rest_response",
    "predict_request",
    "rest_body",
]
