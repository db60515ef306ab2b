import numpy as np
import pytest

from keras_fm.layers import ANOVAInteraction, FMInteraction
from tests.layer_checklist import LayerChecklist
from tests.references import anova_reference


class TestANOVAInteraction(LayerChecklist):
    layer_cls = ANOVAInteraction
    configs = (
        {"degree": 3},
        {"degree": 4, "reduce_sum": False},
        {"degree": 2},
    )

    def input_shape(self, num_fields, dim):
        return (num_fields, dim)

    def reference(self, layer, inputs, mask=None):
        return anova_reference(inputs, layer.degree, mask, layer.reduce_sum)

    def delete_fields(self, layer, keep):
        return ANOVAInteraction.from_config(layer.get_config())

    def test_nonzero_output(self):
        layer = ANOVAInteraction(degree=3)
        assert np.all(np.abs(layer(self.make_inputs(5, 4)).numpy()) > 1e-4)


def test_degree_two_is_the_fm():
    x = np.random.default_rng(0).normal(size=(4, 6, 3)).astype("float32")
    np.testing.assert_allclose(
        ANOVAInteraction(2)(x), FMInteraction()(x), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("degree", [3, 5])
def test_homogeneous_of_its_degree(degree):
    x = np.random.default_rng(1).normal(size=(2, 7, 3))
    layer = ANOVAInteraction(degree, dtype="float64")
    np.testing.assert_allclose(
        layer(2.0 * x), 2.0**degree * layer(x).numpy(), rtol=1e-9
    )


def test_fewer_fields_than_the_degree_give_zero():
    np.testing.assert_allclose(
        ANOVAInteraction(4)(np.ones((2, 3, 2), "float32")), 0.0, atol=1e-6
    )


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"degree": 1}, "`degree` must be an int >= 2"),
    ({"degree": 2.5}, "`degree` must be an int >= 2"),
    ({"degree": 3, "reduce_sum": "no"}, "`reduce_sum` must be a bool"),
])  # fmt: skip
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ANOVAInteraction(**kwargs)


def test_rejects_inputs_not_of_rank_3():
    with pytest.raises(ValueError, match="embedding_dim"):
        ANOVAInteraction(3)(np.ones((2, 4), "float32"))
