"""The serving functions of a trained model: raw named inputs or tf.Examples
in, named outputs out, every preprocessing step inside the graph."""

from typing import Any

import keras
import tensorflow as tf

from keras_fm.explain.explainer import Explainer
from keras_fm.features import Feature
from keras_fm.layers.field_input_layer import FieldInputLayer
from keras_fm.serving import InputSpec, Signature

_SERVING_DTYPES = {"int32": "int32", "int64": "int64", "float32": "float32"}
# tf.Example holds int64, float and bytes lists only.
_EXAMPLE_DTYPES = {"int32": tf.int64, "int64": tf.int64, "float32": tf.float32}


def field_input_layers(model: keras.Model) -> list[FieldInputLayer]:
    """The feature-spec embedding layers of a model (nested models included)."""
    found = []
    for layer in model.layers:
        if isinstance(layer, FieldInputLayer):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found += field_input_layers(layer)
    return found


def model_features(model: keras.Model) -> dict[str, Feature]:
    """The feature specs of the model's embedding layers, by input name."""
    return {f.name: f for layer in field_input_layers(model) for f in layer.features}


def _named_inputs(model: keras.Model) -> dict[str, Any]:
    inputs = model.input
    if not isinstance(inputs, dict):
        inputs = {tensor.name: tensor for tensor in model.inputs}
    return dict(inputs)


def _is_binary(model: keras.Model) -> bool:
    try:
        head = model.get_layer("prediction")
    except ValueError:
        return False
    return getattr(head, "activation", None) is keras.activations.sigmoid


def serving_signature(model: keras.Model) -> Signature:
    """The `Signature` a model is exported with.

    Every model input becomes one input of the same name: `(batch,)` for a
    single value per example, `(batch, length)` for lists (padded with the
    feature's ``pad_value``; for lists without a spec, as the ``ids`` of
    `build_sparse_fm`, -1). Lists of weights are padded with 0 and follow the
    padding of their ids.

    Args:
        model: the model to export.

    Returns:
        Its `keras_fm.serving.Signature`.
    """
    features = model_features(model)
    weight_of = {
        f.weight_feature: f.name for f in features.values() if f.weight_feature
    }
    inputs = _named_inputs(model)
    if set(inputs) == {"ids", "values"} and not features:
        weight_of["values"] = "ids"  # build_sparse_fm
    specs = []
    for name, tensor in inputs.items():
        dtype = str(tensor.dtype)
        if dtype not in (*_SERVING_DTYPES, "string"):
            raise ValueError(
                f"Input {name!r} has dtype {dtype}, which the export does not "
                "support (int32, int64, float32 or string)."
            )
        shape = tuple(tensor.shape)
        is_list = len(shape) == 2 and shape[1] != 1
        pad_value: Any = None
        if is_list and name in weight_of:
            pad_value = 0.0
        elif is_list:
            feature = features.get(name)
            pad_value = getattr(feature, "pad_value", None)
            if pad_value is None:
                pad_value = "" if dtype == "string" else -1
        specs.append(InputSpec(name, dtype, is_list, pad_value, weight_of.get(name)))
    outputs = ("prediction", "logit") if _is_binary(model) else ("prediction",)
    return Signature(tuple(specs), outputs)


def output_model(model: keras.Model, signature: Signature) -> keras.Model:
    """The model with named outputs ``prediction`` (and ``logit``)."""
    outputs = {"prediction": model.outputs[0]}
    if "logit" in signature.outputs:
        outputs["logit"] = model.get_layer("logit").output
    return keras.Model(model.inputs, outputs, name=f"{model.name}_serving")


class ServingFunctions:
    """Builds the model inputs from serving inputs and runs the model.

    ``serve(inputs)`` takes one tensor per `InputSpec` (the
    ``serving_default`` signature); ``examples(serialized)`` takes a batch of
    serialized tf.Example strings (the ``examples`` signature). Both return
    ``{output name: (batch,) float32}``.
    """

    def __init__(
        self, model: keras.Model, signature: Signature, explain: bool = False
    ) -> None:
        self.model = output_model(model, signature)
        self.explainer = Explainer(model) if explain else None
        self.signature = signature
        self.model_inputs = _named_inputs(model)
        self.specs = {spec.name: spec for spec in signature.inputs}

    def input_signature(self) -> dict[str, tf.TensorSpec]:
        return {
            spec.name: tf.TensorSpec(
                [None, None] if spec.is_list else [None],
                tf.string if spec.dtype == "string" else spec.dtype,
                name=spec.name,
            )
            for spec in self.signature.inputs
        }

    def _to_model_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        result = {}
        for name, spec in self.specs.items():
            value = inputs[name]
            tensor = self.model_inputs[name]
            if not spec.is_list:
                value = value[:, None] if len(tensor.shape) == 2 else value
            elif getattr(tensor, "ragged", False):
                mask_spec = self.specs[spec.mask_of or name]
                mask = tf.not_equal(inputs[mask_spec.name], mask_spec.pad_value)
                value = tf.ragged.boolean_mask(value, mask)
            result[name] = value
        return result

    def _run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        outputs = self.model(self._to_model_inputs(inputs), training=False)
        return {
            name: tf.reshape(tf.cast(outputs[name], tf.float32), [-1])
            for name in self.signature.outputs
        }

    def serve(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return self._run(self.checked(inputs))

    def explain(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """``fields`` `(batch, F)`, ``bias``, ``rest`` and ``logit`` `(batch,)`
        (`keras_fm.explain.Explainer`), float32."""
        assert self.explainer is not None
        parts = self.explainer(self._to_model_inputs(self.checked(inputs)))
        return {
            name: tf.cast(parts[name], tf.float32)
            for name in ("fields", "bias", "rest", "logit")
        }

    def checked(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The inputs, once their shapes are checked at run time.

        TF Serving feeds tensors of any shape into the graph, so a wrong one
        would fail deep inside the model. Each input must have rank 1
        (``(batch,)``) or 2 (``(batch, length)``), all the same batch size,
        and a list of weights the shape of its ids; otherwise the call fails
        with an `InvalidArgumentError` that names the input and both shapes.
        """
        ranks = [self._rank_check(name, inputs[name]) for name in self.specs]
        with tf.control_dependencies(ranks):
            first = next(iter(self.specs))
            sizes = [self._size_check(name, inputs, first) for name in self.specs]
        with tf.control_dependencies(sizes):
            return {name: tf.identity(value) for name, value in inputs.items()}

    def _rank_check(self, name: str, value: Any) -> Any:
        is_list = self.specs[name].is_list
        expected = "(batch, length)" if is_list else "(batch,)"
        # The Rank op, not tf.rank: the traced rank is the declared one.
        rank = tf.raw_ops.Rank(input=value)
        return tf.debugging.Assert(
            tf.equal(rank, 2 if is_list else 1),
            [f"Input `{name}` must have shape {expected}; got shape", tf.shape(value)],
        )

    def _size_check(self, name: str, inputs: dict[str, Any], first: str) -> Any:
        spec = self.specs[name]
        shape, other = tf.shape(inputs[name]), spec.mask_of or first
        if spec.mask_of:
            same = tf.reduce_all(tf.equal(shape, tf.shape(inputs[other])))
            text = f"Input `{name}` must have the shape of `{other}` (its ids)"
        else:
            same = tf.equal(shape[0], tf.shape(inputs[other])[0])
            text = f"Input `{name}` must have the batch size of `{other}`"
        return tf.debugging.Assert(
            same, [f"{text}; got shapes", shape, "and", tf.shape(inputs[other])]
        )

    def example_spec(self) -> dict[str, Any]:
        """How each input is read from a tf.Example.

        A missing single value reads as -1 (integers; out of vocabulary),
        ``""`` (strings) or NaN (numbers: a missing value, or for the weight
        of an id, 1.0); a missing list reads as an empty list, and a missing
        or short list of weights as weights 1.0 for its ids.
        """
        spec: dict[str, Any] = {}
        for name, input_spec in self.specs.items():
            dtype = (
                tf.string
                if input_spec.dtype == "string"
                else _EXAMPLE_DTYPES[input_spec.dtype]
            )
            if input_spec.is_list:
                spec[name] = tf.io.RaggedFeature(dtype)
            else:
                default = {tf.string: "", tf.int64: -1, tf.float32: float("nan")}
                spec[name] = tf.io.FixedLenFeature([], dtype, default[dtype])
        return spec

    def examples(self, serialized: Any) -> dict[str, Any]:
        parsed = tf.io.parse_example(serialized, self.example_spec())
        inputs = {}
        for name, spec in self.specs.items():
            value = parsed[name]
            if spec.dtype != "string":
                value = tf.cast(value, spec.dtype)
            if spec.is_list and spec.mask_of is None:
                value = value.to_tensor(default_value=spec.pad_value)
            inputs[name] = value
        checks = []
        for name, spec in self.specs.items():
            if spec.is_list and spec.mask_of is not None:
                # Weights take their ids' shape; a missing weight is NaN (1.0).
                checks.append(self._weights_check(name, spec.mask_of, parsed))
                inputs[name] = inputs[name].to_tensor(
                    default_value=float("nan"), shape=tf.shape(inputs[spec.mask_of])
                )
        with tf.control_dependencies(checks):
            inputs = {name: tf.identity(value) for name, value in inputs.items()}
        return self._run(inputs)

    def _weights_check(self, name: str, ids: str, parsed: dict[str, Any]) -> Any:
        """A tf.Example's list of weights is no longer than its list of ids."""
        lengths = parsed[name].row_lengths()
        return tf.debugging.Assert(
            tf.reduce_all(lengths <= parsed[ids].row_lengths()),
            [f"Feature `{name}` holds more weights than `{ids}` holds ids"],
        )
