"""A request of the wrong shape fails naming the input and both shapes.

TF Serving feeds tensors into the graph without checking them against the
signature (Python's `Session.run` would refuse them first), so the requests
here go through the C API the same way."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.client import pywrap_tf_session

from keras_fm.export import export_saved_model
from tests.export.test_adversarial_serving import build

GOOD = {
    "user": np.array([1, 2]),
    "item": np.array([[1, 2, 3], [4, -1, -1]]),
    "item_value": np.ones((2, 3), np.float32),
    "genre": np.array([["a"], ["b"]], object),
    "price": np.array([1.0, 2.0], np.float32),
    "score": np.array([1.0, 2.0], np.float32),
}


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = export_saved_model(build("deepfm"), tmp_path_factory.mktemp("base"))
    graph = tf.Graph()
    session = tf.compat.v1.Session(graph=graph)
    with graph.as_default():  # only while loading: later tests run eagerly
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(path))
    yield session, meta.signature_def["serving_default"]
    session.close()


def run_unchecked(session, signature, inputs):
    """Runs the signature on ``inputs`` as a C++ client does."""
    graph = session.graph

    def output(name):
        return graph.get_tensor_by_name(name)._as_tf_output()

    feeds = {output(signature.inputs[k].name): v for k, v in inputs.items()}
    fetches = [output(signature.outputs["prediction"].name)]
    return pywrap_tf_session.TF_SessionRun_wrapper(
        session._session, None, feeds, fetches, [], None
    )[0]


def test_a_request_of_the_right_shapes_is_served(session):
    prediction = run_unchecked(*session, GOOD)
    assert prediction.shape == (2,) and np.all((prediction > 0) & (prediction < 1))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"item": np.array([1, 2, 3])},
         r"Input `item` must have shape \(batch, length\); got shape\] \[3\]"),
        ({"user": np.array([[1], [2]])},
         r"Input `user` must have shape \(batch,\); got shape\] \[2 1\]"),
        ({"price": np.float32(1.0)},
         r"Input `price` must have shape \(batch,\); got shape\] \[\]"),
        ({"score": np.ones(3, np.float32)},
         r"Input `score` must have the batch size of `user`; got shapes\] \[3\] "
         r"\[and\] \[2\]"),
        ({"genre": np.array([["a"], ["b"], ["a"]], object)},
         r"Input `genre` must have the batch size of `user`; got shapes\] \[3 1\]"),
        ({"item_value": np.ones((2, 2), np.float32)},
         r"Input `item_value` must have the shape of `item` \(its ids\); "
         r"got shapes\] \[2 2\] \[and\] \[2 3\]"),
    ],
)  # fmt: skip
def test_a_wrong_shape_names_the_input_and_both_shapes(session, change, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        run_unchecked(*session, {**GOOD, **change})


def example(items, weights):
    feature = {
        "item": tf.train.Feature(int64_list=tf.train.Int64List(value=items)),
        "item_value": tf.train.Feature(float_list=tf.train.FloatList(value=weights)),
    }
    return tf.train.Example(
        features=tf.train.Features(feature=feature)
    ).SerializeToString()


def test_an_example_with_more_weights_than_ids_names_the_feature(tmp_path):
    path = export_saved_model(build("fm"), tmp_path / "fm")
    serve = tf.saved_model.load(str(path)).signatures["examples"]
    short, full = example([1, 2], [2.0]), example([1, 2], [2.0, 1.0])
    np.testing.assert_array_equal(
        serve(examples=tf.constant([short]))["prediction"],
        serve(examples=tf.constant([full]))["prediction"],
    )
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match="Feature `item_value` holds more weights than `item` holds ids",
    ):
        serve(examples=tf.constant([short, example([1, 2], [1.0, 1.0, 1.0])]))
