import keras
import numpy as np
import pytest

from keras_fm.layers import CIN
from tests.layer_checklist import LayerChecklist
from tests.references import cin_reference


def kernels_of(layer, num_fields):
    """The layer's kernels as kernel[i, j, h] (previous map, input field, map)."""
    return [
        keras.ops.convert_to_numpy(k).reshape(-1, num_fields, k.shape[-1])
        for k in layer.kernels
    ]


class TestCIN(LayerChecklist):
    layer_cls = CIN
    configs = (
        {"layer_sizes": [4, 4, 2]},
        {
            "layer_sizes": [3, 2],
            "split_half": False,
            "activation": "linear",
            "kernel_regularizer": keras.regularizers.L2(0.01),
        },
        {"layer_sizes": [2], "activation": "tanh", "use_bias": False},
    )

    def input_shape(self, num_fields, dim):
        return (num_fields, dim)

    def reference(self, layer, inputs, mask=None):
        num_fields = inputs.shape[1]
        biases = [keras.ops.convert_to_numpy(b) for b in layer.biases]
        return cin_reference(
            inputs,
            kernels_of(layer, num_fields),
            biases or [None] * len(layer.layer_sizes),
            layer.get_config()["activation"],
            layer.split_half,
            mask,
        )

    def delete_fields(self, layer, keep):
        smaller = CIN.from_config(layer.get_config())
        smaller.build((None, len(keep), 4))
        old_fields = int(np.sqrt(layer.kernels[0].shape[0]))
        kernels = kernels_of(layer, old_fields)
        kernels[0] = kernels[0][keep]  # the first layer's "maps" are the fields
        weights = []
        for index, kernel in enumerate(kernels):
            kernel = kernel[:, keep]
            weights.append(kernel.reshape(-1, kernel.shape[-1]))
            if layer.use_bias:
                weights.append(keras.ops.convert_to_numpy(layer.biases[index]))
        smaller.set_weights(weights)
        return smaller


@pytest.mark.parametrize(
    ("layer_sizes", "split_half", "width"),
    [([4, 4, 2], True, 6), ([4, 4, 2], False, 10), ([6, 3], True, 6), ([5], True, 5)],
)
def test_output_width(layer_sizes, split_half, width):
    cin = CIN(layer_sizes, split_half=split_half)
    assert cin(np.ones((2, 3, 4), dtype="float32")).shape == (2, width)
    assert cin.compute_output_shape((None, 3, 4)) == (None, width)


def test_linear_layers_are_homogeneous_polynomials():
    # Layer k (k = 1, 2, 3) of a linear, bias-free CIN has degree k + 1:
    # scaling the input by t scales its pooled maps by t ** (k + 1).
    cin = CIN([2, 2, 2], split_half=False, activation="linear", use_bias=False)
    inputs = np.random.default_rng(0).normal(size=(3, 4, 5)).astype("float64")
    cin.build((None, 4, 5))
    base = keras.ops.convert_to_numpy(cin(inputs))
    scaled = keras.ops.convert_to_numpy(cin(2.0 * inputs))
    for k in range(3):
        np.testing.assert_allclose(
            scaled[:, 2 * k : 2 * k + 2],
            2.0 ** (k + 2) * base[:, 2 * k : 2 * k + 2],
            rtol=1e-4,
        )


def test_split_half_passes_first_half_on_and_outputs_second_half():
    cin = CIN([4, 2], split_half=True, activation="linear", use_bias=False)
    cin.build((None, 3, 2))
    kernel0 = np.zeros((9, 4), dtype="float32")
    kernel0[0, 0] = 5.0  # map 0 (passed on) = 5 * x0 * x0 = [20, 5]
    kernel0[0, 2] = 1.0  # map 2 (output) = x0 * x0 = [4, 1]
    kernel1 = np.zeros((6, 2), dtype="float32")
    kernel1[0, 0] = 1.0  # next layer's map 0 = (map 0) * x0 = [40, 5]
    cin.set_weights([kernel0, kernel1])
    inputs = np.array([[[2.0, 1.0], [0.0, 0.0], [0.0, 0.0]]], dtype="float32")
    np.testing.assert_allclose(cin(inputs), [[5.0, 0.0, 45.0, 0.0]])


def test_regularizer_survives_reload_and_adds_loss():
    cin = CIN([2], kernel_regularizer=keras.regularizers.L2(0.1))
    revived = CIN.from_config(cin.get_config())
    revived.build((None, 3, 2))
    kernel = keras.ops.convert_to_numpy(revived.kernels[0])
    np.testing.assert_allclose(
        float(sum(revived.losses)), 0.1 * np.sum(kernel**2), rtol=1e-5
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layer_sizes": []}, "non-empty list of positive ints"),
        ({"layer_sizes": [4, 0]}, "non-empty list of positive ints"),
        ({"layer_sizes": [4, 2.5]}, "non-empty list of positive ints"),
        ({"layer_sizes": "4,4"}, "non-empty list of positive ints"),
        ({"layer_sizes": 4}, "non-empty list of positive ints"),
        (
            {"layer_sizes": [3, 2]},
            "every entry of `layer_sizes` but the last must be even",
        ),
        ({"layer_sizes": [4], "split_half": "yes"}, "`split_half` must be a bool"),
        ({"layer_sizes": [4], "use_bias": 1}, "`use_bias` must be a bool"),
        (
            {"layer_sizes": [4], "activation": "no_such_activation"},
            "`activation` must be",
        ),
    ],
)
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CIN(**kwargs)


def test_odd_last_layer_is_allowed():
    assert CIN([4, 3]).layer_sizes == [4, 3]


@pytest.mark.parametrize("shape", [(2, 5), (2, 5, 4, 1)])
def test_rejects_inputs_not_of_rank_3(shape):
    with pytest.raises(ValueError, match=r"\(batch, num_fields, embedding_dim\)"):
        CIN([2])(np.ones(shape, dtype="float32"))
