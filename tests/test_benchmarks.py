"""The figures `examples/benchmarks/throughput.py` derives from a model."""

import importlib.util
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.models.test_models import SMALL, build

THROUGHPUT = Path(__file__).parents[1] / "examples" / "benchmarks" / "throughput.py"
_spec = importlib.util.spec_from_file_location("throughput", THROUGHPUT)
throughput = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(throughput)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("deepfm", {}),
        ("xdeepfm", {}),
        ("xdeepfm", {"cin_layer_sizes": (6, 4, 2), "cin_split_half": True}),
    ],
)
def test_matmul_shapes_count_the_multiply_adds_of_training_flops(name, options):
    model = build(name, **options)
    shapes = throughput.matmul_shapes(model, batch=32)
    multiply_adds = sum(m * k * n for m, k, n, _ in shapes) / 32
    assert 6 * multiply_adds == throughput.training_flops(model)
    layers = model._flatten_layers()
    dense = [layer for layer in layers if isinstance(layer, keras.layers.Dense)]
    cin = {**SMALL[name], **options}.get("cin_layer_sizes", ())
    assert len(shapes) == len(dense) + len(cin)


def test_matmul_shapes_of_a_deepfm_are_its_dense_layers():
    model = build("deepfm", dnn_units=(8, 4), dnn_dtype="float32")
    fields = len(model.get_layer("embedding").features)
    assert throughput.matmul_shapes(model, batch=32) == [
        (32, fields * 4, 8, "float32"),
        (32, 8, 4, "float32"),
        (32, 4, 1, "float32"),
    ]


def test_matmul_bound_is_a_speed_for_a_dnn_and_none_without_matmuls():
    model = build("deepfm", dnn_units=(8, 4), dnn_dtype="float32")
    bound = throughput.matmul_bound(model, batch=64)
    assert np.isfinite(bound) and bound > 0
    assert throughput.matmul_bound(build("fm"), batch=64) is None
