import keras
import numpy as np
import pytest

from keras_fm.layers import AFMInteraction, FMInteraction
from tests.layer_checklist import LayerChecklist
from tests.references import afm_reference


def weights_of(layer):
    get = lambda w: keras.ops.convert_to_numpy(w).astype("float64")  # noqa: E731
    projection = get(layer.projection) if layer.reduce_sum else None
    return (
        get(layer.attention_kernel),
        get(layer.attention_bias),
        get(layer.attention_projection),
        projection,
    )


class TestAFMInteraction(LayerChecklist):
    layer_cls = AFMInteraction
    configs = (
        {"attention_units": 4},
        {"attention_units": 3, "reduce_sum": False, "dropout": 0.5},
    )

    def input_shape(self, num_fields, dim):
        return (num_fields, dim)

    def reference(self, layer, inputs, mask=None):
        return afm_reference(inputs, *weights_of(layer), mask=mask)

    def delete_fields(self, layer, keep):
        smaller = AFMInteraction.from_config(layer.get_config())
        smaller.build((None, len(keep), layer.attention_kernel.shape[0]))
        smaller.set_weights(layer.get_weights())
        return smaller


def test_uniform_attention_gives_the_mean_bi_interaction():
    # With h = 0 every pair gets weight 1 / P: the output is p . (FM vector / P).
    layer = AFMInteraction(attention_units=2)
    x = np.random.default_rng(0).normal(size=(3, 4, 5)).astype("float32")
    layer.build(x.shape)
    layer.attention_projection.assign(np.zeros(2))
    layer.projection.assign(np.ones(5))
    expected = FMInteraction()(x).numpy() / 6
    np.testing.assert_allclose(layer(x), expected, rtol=1e-5, atol=1e-6)


def test_dropout_only_in_training():
    layer = AFMInteraction(attention_units=2, dropout=0.9)
    x = np.random.default_rng(0).normal(size=(8, 6, 3)).astype("float32")
    np.testing.assert_allclose(layer(x), layer(x, training=False))
    assert not np.allclose(layer(x, training=True), layer(x))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"attention_units": 0}, "`attention_units`"),
    ({"dropout": 1.0}, "`dropout`"),
    ({"reduce_sum": 1}, "`reduce_sum`"),
])  # fmt: skip
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AFMInteraction(**kwargs)
