"""TF Serving requests built from feature dicts, and their responses parsed."""

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from keras_fm.serving.signature import Signature

REST_FORMS = ("instances", "inputs")


def predict_request(
    rows: Sequence[Mapping[str, Any]],
    signature: Signature,
    model_name: str,
    signature_name: str = "serving_default",
    version: int | None = None,
) -> predict_pb2.PredictRequest:
    """A gRPC `PredictRequest` for ``rows``.

    Args:
        rows: one dict per example, from input name to its raw value (a
            string, int or float; a list for list inputs).
        signature: the model's `Signature` (`Signature.load(version_dir)`).
        model_name: the name the server knows the model by.
        signature_name: Defaults to `"serving_default"`.
        version: Optional int. A specific version (default: the latest).

    Returns:
        A `tensorflow_serving.apis.predict_pb2.PredictRequest` with one tensor
        per input, of the signature's dtype.

    Example:
    >>> from keras_fm.serving import InputSpec, Signature
    >>> signature = Signature((InputSpec("user", "int64"),))
    >>> request = predict_request([{"user": 3}], signature, "fm")
    >>> request.model_spec.name, tf.make_ndarray(request.inputs["user"]).tolist()
    ('fm', [3])
    """
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = version
    for name, array in signature.batch(rows).items():
        dtype = next(spec.dtype for spec in signature.inputs if spec.name == name)
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array, dtype=dtype))
    return request


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, float) and not np.isfinite(value):
        # JSON has no NaN; TF Serving's REST API reads the string "NaN".
        return "NaN" if np.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def rest_body(
    rows: Sequence[Mapping[str, Any]],
    signature: Signature,
    form: str = "instances",
    signature_name: str = "serving_default",
) -> str:
    """The JSON body of a TF Serving REST ``:predict`` request for ``rows``.

    ``"instances"`` (row form) gives one object per example; ``"inputs"``
    (columnar form) one list per input. In both, list inputs are padded to
    the longest list of the request, because TF Serving stacks the examples
    into one tensor.

    Args:
        rows, signature, signature_name: as `predict_request`.
        form: `"instances"` or `"inputs"`. Defaults to `"instances"`.

    Returns:
        The body as a JSON string.

    Example:
    >>> from keras_fm.serving import InputSpec, Signature
    >>> signature = Signature(
    ...     (InputSpec("user", "int64"), InputSpec("tags", "string", True, "")))
    >>> rest_body([{"user": 3, "tags": ["a", "b"]}, {"user": 4, "tags": []}],
    ...           signature)
    '{"signature_name": "serving_default", "instances": [{"user": 3, "tags": ["a", "b"]}, {"user": 4, "tags": ["", ""]}]}'
    """  # noqa: E501
    if form not in REST_FORMS:
        raise ValueError(f"`form` must be one of {REST_FORMS}. Received: {form!r}")
    arrays = {
        name: [
            [_json_value(v) for v in row] if array.ndim == 2 else _json_value(row)
            for row in array.tolist()
        ]
        for name, array in signature.batch(rows).items()
    }
    body: dict[str, Any] = {"signature_name": signature_name}
    if form == "inputs":
        body["inputs"] = arrays
    else:
        body["instances"] = [
            {name: values[index] for name, values in arrays.items()}
            for index in range(len(rows))
        ]
    return json.dumps(body)


def parse_predict_response(response: Any) -> dict[str, np.ndarray]:
    """The outputs of a gRPC `PredictResponse`, as NumPy arrays by name.

    Args:
        response: a `tensorflow_serving.apis.predict_pb2.PredictResponse`.

    Returns:
        ``{output name: array}``.
    """
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def parse_rest_response(body: str | bytes | Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The outputs of a REST ``:predict`` response, as NumPy arrays by name.

    Both answer forms are read: ``{"predictions": [...]}`` (to an
    ``instances`` request; a list of per-example objects when the model has
    several outputs) and ``{"outputs": {...}}`` (to an ``inputs`` request).

    Args:
        body: the response body, text, bytes or parsed JSON.

    Returns:
        ``{output name: array}``.

    Raises:
        ValueError: for an ``{"error": ...}`` answer, with the server's text.
    """
    answer: Mapping[str, Any] = (
        json.loads(body) if isinstance(body, (str, bytes)) else body
    )
    if "error" in answer:
        raise ValueError(f"TF Serving answered an error: {answer['error']}")
    if "outputs" in answer:
        outputs = answer["outputs"]
        if not isinstance(outputs, dict):
            return {"prediction": np.asarray(outputs, dtype=np.float32)}
        return {k: np.asarray(v, dtype=np.float32) for k, v in outputs.items()}
    predictions = answer["predictions"]
    if predictions and isinstance(predictions[0], dict):
        return {
            name: np.asarray([p[name] for p in predictions], dtype=np.float32)
            for name in predictions[0]
        }
    return {"prediction": np.asarray(predictions, dtype=np.float32)}
