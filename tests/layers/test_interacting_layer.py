import keras
import numpy as np
import pytest

from keras_fm.layers import InteractingLayer
from tests.layer_checklist import LayerChecklist
from tests.references import interacting_reference


class TestInteractingLayer(LayerChecklist):
    layer_cls = InteractingLayer
    keeps_field_axis = True
    configs = (
        {"num_heads": 2, "head_dim": 3},
        {"num_heads": 1, "head_dim": 4, "use_residual": False, "use_scale": True},
        {"num_heads": 2, "head_dim": 2, "use_scale": True, "use_layer_norm": True},
    )

    def input_shape(self, num_fields, dim):
        return (num_fields, dim)

    def reference(self, layer, inputs, mask=None):
        get = lambda w: keras.ops.convert_to_numpy(w).astype("float64")  # noqa: E731
        residual = get(layer.residual_kernel) if layer.use_residual else None
        norm = None
        if layer.use_layer_norm:
            norm = (get(layer.gamma), get(layer.beta))
        return interacting_reference(
            inputs,
            get(layer.query_kernel),
            get(layer.key_kernel),
            get(layer.value_kernel),
            residual,
            layer.num_heads,
            layer.use_scale,
            mask,
            norm,
        )

    def delete_fields(self, layer, keep):
        return layer  # the weights do not depend on the number of fields


def test_stacks_and_passes_the_mask_on():
    ids = keras.Input((4,), dtype="int32")
    vectors = keras.layers.Embedding(10, 6, mask_zero=True)(ids)
    first = InteractingLayer(2, 3)(vectors)
    second = InteractingLayer(2, 3)(first)
    model = keras.Model(ids, second)
    out = model.predict(np.array([[1, 2, 0, 3]]), verbose=0)
    assert out.shape == (1, 4, 6)
    np.testing.assert_array_equal(out[0, 2], 0.0)  # the padded field stays empty


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"num_heads": 0}, "`num_heads`"),
    ({"head_dim": -1}, "`head_dim`"),
    ({"use_residual": "yes"}, "`use_residual`"),
    ({"use_scale": 0}, "`use_scale`"),
    ({"use_layer_norm": 1}, "`use_layer_norm`"),
])  # fmt: skip
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        InteractingLayer(**kwargs)
