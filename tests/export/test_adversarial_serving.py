"""Served models never return NaN or inf: every zoo model (and the libsvm
FM) through ``serving_default``, ``examples`` and TFLite, fed generated
adversarial batches (NaN, ±inf, ±1e38, empty and unseen strings, negative
and 2^63-1 ids, zero rows, missing features)."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from keras_fm.export import export_saved_model
from keras_fm.features import IdFeature, LookupFeature, NumericFeature
from keras_fm.models import BUILDERS, build_sparse_fm
from keras_fm.serving import Signature
from tests.export.test_saved_model import randomize_trainable
from tests.models.test_models import SMALL

FLOATS = [float("nan"), float("inf"), -float("inf"), 1e38, -1e38, 0.0, 3.5]
INTS = [-1, -(2**63), 2**63 - 1, 0, 7, 10**12]
STRINGS = ["", "unseen", "a", "\x00\xff", "b" * 1000]


def specs():
    return [
        IdFeature("user", 20),
        IdFeature("item", 30, multivalent=True, weight_feature="item_value"),
        LookupFeature("genre", vocabulary=["a", "b"], multivalent=True),
        NumericFeature(
            "price", transform="log", normalize=True, mean=2.0, variance=1.5
        ),
        NumericFeature("score", normalize=True, mean=0.1, variance=4.0),
    ]


def build(name):
    if name == "sparse_fm":
        return build_sparse_fm(40, embedding_dim=4)
    return BUILDERS[name.rstrip("+")](specs(), embedding_dim=4, **SMALL[name])


def adversarial_batches(signature, seed, count=16):
    """Batches of 0 to 6 rows, every value drawn from the adversarial pools."""
    rng = np.random.default_rng(seed)
    pools = {"float32": FLOATS, "int64": INTS, "int32": [-1, 2**31 - 1, 0, 5],
             "string": STRINGS}  # fmt: skip
    for index in range(count):
        rows = 0 if index == 0 else int(rng.integers(1, 7))
        length = int(rng.integers(0, 4))
        batch = {}
        for spec in signature.inputs:
            pool = pools[spec.dtype]
            shape = (rows, length) if spec.is_list else (rows,)
            values = [
                pool[int(rng.integers(len(pool)))] for _ in range(int(np.prod(shape)))
            ]
            batch[spec.name] = np.array(values, spec.numpy_dtype).reshape(shape)
        yield batch


def example_batches(signature, seed, count=16):
    """Serialized tf.Examples, each feature left out at random (the weights
    of a left-out list of ids with it: more weights than ids is an error,
    `tests/export/test_serving_shapes.py`)."""
    rng = np.random.default_rng(seed)
    ids_of = {spec.name: spec.mask_of for spec in signature.inputs if spec.mask_of}
    for batch in adversarial_batches(signature, seed, count):
        rows = len(next(iter(batch.values())))
        examples = []
        for row in range(rows):
            feature = {}
            for name, values in batch.items():
                if rng.random() < 0.3 or (
                    name in ids_of and ids_of[name] not in feature
                ):
                    continue  # missing
                value = np.atleast_1d(values[row]).tolist()
                if values.dtype == object:
                    feature[name] = tf.train.Feature(
                        bytes_list=tf.train.BytesList(
                            value=[v.encode("utf-8", "surrogatepass") for v in value]
                        )
                    )
                elif values.dtype.kind == "f":
                    feature[name] = tf.train.Feature(
                        float_list=tf.train.FloatList(value=value)
                    )
                else:
                    feature[name] = tf.train.Feature(
                        int64_list=tf.train.Int64List(value=value)
                    )
            examples.append(
                tf.train.Example(
                    features=tf.train.Features(feature=feature)
                ).SerializeToString()
            )
        yield tf.constant(examples, tf.string, shape=[rows])


@pytest.mark.slow
@pytest.mark.parametrize("name", [*sorted(SMALL), "sparse_fm"])
def test_served_outputs_are_always_finite(name, tmp_path):
    model = build(name)
    randomize_trainable(model, seed=5)
    path = export_saved_model(model, tmp_path / name)
    signature = Signature.load(path)
    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures["serving_default"]
    examples = loaded.signatures["examples"]
    tried = 0
    for batch in adversarial_batches(signature, seed=len(name)):
        outputs = serve(**{k: tf.constant(v) for k, v in batch.items()})
        for output in outputs.values():
            assert np.isfinite(output.numpy()).all(), (name, batch)
        tried += 1
    for serialized in example_batches(signature, seed=len(name) + 1):
        for output in examples(examples=serialized).values():
            assert np.isfinite(output.numpy()).all(), name
        tried += 1
    assert tried == 32


@pytest.mark.slow
@pytest.mark.parametrize("name", ["deepfm", "ffm"])
def test_tflite_outputs_are_always_finite(name, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from keras_fm.export import edge_inputs, to_tflite

    model = build(name)
    randomize_trainable(model, seed=5)
    signature = Signature.load(export_saved_model(model, tmp_path / "serving"))
    to_tflite(model, tmp_path / "model.tflite")
    runner = Interpreter(str(tmp_path / "model.tflite")).get_signature_runner()
    for batch in itertools.islice(adversarial_batches(signature, seed=9), 1, None):
        inputs = edge_inputs(model, {k: tf.constant(v) for k, v in batch.items()})
        outputs = runner(**{k: v.numpy() for k, v in inputs.items()})
        for output in outputs.values():
            assert np.isfinite(output).all(), (name, batch)
