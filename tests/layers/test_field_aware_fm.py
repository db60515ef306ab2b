import keras
import numpy as np
import pytest

from keras_fm.layers import FieldAwareFM
from tests.layer_checklist import LayerChecklist
from tests.references import ffm_reference


class TestFieldAwareFM(LayerChecklist):
    layer_cls = FieldAwareFM
    configs = ({},)
    field_axes = (1, 2)

    def input_shape(self, num_fields, dim):
        return (num_fields, num_fields, dim)

    def reference(self, layer, inputs, mask=None):
        return ffm_reference(inputs, mask)

    def delete_fields(self, layer, keep):
        return FieldAwareFM.from_config(layer.get_config())


def test_uses_the_transposed_pair():
    # Only inputs[:, i, j] and inputs[:, j, i] meet; diagonal and other entries
    # must not contribute.
    latent = np.zeros((1, 3, 3, 2), dtype="float32")
    latent[0, 0, 1] = [1.0, 2.0]
    latent[0, 1, 0] = [3.0, 4.0]
    latent[0, 0, 0] = [9.0, 9.0]
    latent[0, 0, 2] = [5.0, 5.0]
    np.testing.assert_allclose(FieldAwareFM()(latent), [[11.0]])


def test_equals_fm_when_latent_vectors_ignore_the_field():
    from keras_fm.layers import FMInteraction

    vectors = np.random.default_rng(0).normal(size=(3, 6, 4)).astype("float32")
    latent = np.repeat(vectors[:, :, None, :], 6, axis=2)
    np.testing.assert_allclose(
        FieldAwareFM()(latent), FMInteraction()(vectors), rtol=1e-5, atol=1e-5
    )


def test_rejects_non_square_field_axes():
    with pytest.raises(ValueError, match="square field axis"):
        FieldAwareFM()(np.ones((2, 4, 3, 5), dtype="float32"))


@pytest.mark.parametrize("shape", [(2, 4, 5), (2, 4, 4, 5, 1)])
def test_rejects_inputs_not_of_rank_4(shape):
    with pytest.raises(ValueError, match="num_fields, num_fields, embedding_dim"):
        FieldAwareFM()(np.ones(shape, dtype="float32"))


def test_rejects_unknown_field_axis():
    with pytest.raises(ValueError, match="field and embedding axes to be known"):
        FieldAwareFM()(keras.Input((None, None, 4)))
