import keras
import numpy as np
import pytest

from keras_fm.layers import FMInteraction
from tests.layer_checklist import LayerChecklist
from tests.references import fm_reference


class TestFMInteraction(LayerChecklist):
    layer_cls = FMInteraction
    configs = ({"reduce_sum": True}, {"reduce_sum": False})

    def input_shape(self, num_fields, dim):
        return (num_fields, dim)

    def reference(self, layer, inputs, mask=None):
        return fm_reference(inputs, mask, reduce_sum=layer.reduce_sum)

    def delete_fields(self, layer, keep):
        return FMInteraction.from_config(layer.get_config())


def test_matrix_factorization_is_the_one_pair_case():
    user, item = np.array([0.3, -1.2, 2.0]), np.array([1.5, 0.4, -0.7])
    score = FMInteraction()(np.stack([user, item])[None].astype("float32"))
    np.testing.assert_allclose(score, [[user @ item]], rtol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_half_precision_accumulates_in_float32(policy):
    # (sum v)^2 and sum v^2 are both ~40000 and differ by 4: in 16 bits their
    # difference is lost (float16 spacing at 40000 is 32), in float32 it is not.
    layer = FMInteraction(dtype=policy)
    inputs = keras.ops.cast(np.array([[[200.0], [-0.01]]]), layer.compute_dtype)
    expected = fm_reference(
        keras.ops.convert_to_numpy(keras.ops.cast(inputs, "float32"))
    )
    actual = keras.ops.convert_to_numpy(keras.ops.cast(layer(inputs), "float32"))
    np.testing.assert_allclose(actual, expected, rtol=1e-2)


def test_picks_up_embedding_mask():
    ids = np.array([[3, 0, 5, 2], [0, 0, 0, 0], [1, 2, 0, 4]])
    embedding = keras.layers.Embedding(8, 3, mask_zero=True)
    inputs = keras.Input((4,), dtype="int32")
    model = keras.Model(inputs, FMInteraction()(embedding(inputs)))
    vectors = keras.ops.convert_to_numpy(embedding(ids))
    np.testing.assert_allclose(
        model.predict(ids, verbose=0),
        fm_reference(vectors, mask=ids != 0),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("reduce_sum", ["yes", 1, None])
def test_rejects_non_bool_reduce_sum(reduce_sum):
    with pytest.raises(ValueError, match="`reduce_sum` must be a bool"):
        FMInteraction(reduce_sum=reduce_sum)


@pytest.mark.parametrize("shape", [(4, 5), (4, 5, 3, 2)])
def test_rejects_inputs_not_of_rank_3(shape):
    with pytest.raises(ValueError, match=r"\(batch, num_fields, embedding_dim\)"):
        FMInteraction()(np.ones(shape, dtype="float32"))
