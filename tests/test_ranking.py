import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm.features import IdFeature
from keras_fm.models import build_fm
from keras_fm.ranking import (
    ItemCatalog,
    PairwiseRanker,
    bpr_loss,
    ranking_metrics,
    sample_negatives,
)


class FixedScorer(keras.Model):
    """score = item id (so item 9 ranks first), for exact metric checks."""

    def call(self, inputs):
        return tf.cast(inputs["item"], "float32")


def test_metrics_on_known_ranks():
    catalog = ItemCatalog("item", 10)
    examples = {"item": np.array([[9], [7], [0]]), "user": np.array([[0], [1], [2]])}
    full = ranking_metrics(FixedScorer(), examples, catalog, k=3, num_candidates=None)
    # Ranks among all 10 items: 0, 2 and 9.
    assert full["hr@3"] == pytest.approx(2 / 3)
    assert full["ndcg@3"] == pytest.approx((1 + 1 / math.log2(4)) / 3)


def test_seen_items_are_not_negatives():
    catalog = ItemCatalog("item", 10)
    examples = {"item": np.array([[7]]), "user": np.array([[0]])}
    scores = ranking_metrics(
        FixedScorer(),
        examples,
        catalog,
        k=1,
        num_candidates=None,
        seen={0: {8, 9}},
        user_feature="user",
    )
    assert scores["hr@1"] == 1.0  # 8 and 9 were liked by the user: not negatives


def test_sampled_candidates_count():
    catalog = ItemCatalog("item", 1000)
    examples = {"item": np.array([[500]] * 50)}
    scores = ranking_metrics(
        FixedScorer(), examples, catalog, k=10, num_candidates=20, seed=1
    )
    # Item 500 beats about half of 20 uniform negatives: rank ~10, HR@10 ~ 0.5.
    assert 0.2 < scores["hr@10"] < 0.8


class AttributeScorer(keras.Model):
    """score = the item's "genre" attribute, for checks of which is used."""

    def call(self, inputs):
        return tf.cast(inputs["genre"], "float32")


def test_held_out_positives_are_scored_from_their_own_rows():
    """A held-out positive whose item the catalog lacks (never a training
    positive) is ranked against catalog items, with its row's attributes."""
    catalog = ItemCatalog(
        "item", item_ids=[10, 20, 30], attributes={"genre": np.array([5, 1, 3])}
    )
    examples = {
        "item": np.array([[99], [20]]),  # 99: not in the catalog
        "genre": np.array([[4], [2]]),  # item 20's genre here: 2 (catalog: 1)
    }
    scores = ranking_metrics(
        AttributeScorer(), examples, catalog, k=1, num_candidates=None
    )
    # Ranks: 4 against 5, 1, 3 -> 1; 2 against 5, 3 (not itself) -> 2.
    assert scores["hr@1"] == 0.0
    assert scores["ndcg@1"] == 0.0
    two = ranking_metrics(
        AttributeScorer(), examples, catalog, k=2, num_candidates=None
    )
    assert two["hr@2"] == 0.5
    assert two["ndcg@2"] == pytest.approx(0.5 / math.log2(3))


def test_negatives_carry_their_own_attributes():
    catalog = ItemCatalog(
        "item", 4, attributes={"genre": np.array([[1, 2], [3, -1], [0, 0], [2, 2]])}
    )
    features = {
        "user": tf.constant([[5], [6]]),
        "item": tf.constant([[0], [1]], tf.int64),
        "genre": tf.constant([[1, 2], [3, -1]]),
    }
    (positive, negative), labels = sample_negatives(catalog, num_negatives=3, seed=0)(
        features, tf.ones(2)
    )
    assert negative["item"].shape == (6, 1) and labels.shape == (6,)
    table = np.array([[1, 2], [3, -1], [0, 0], [2, 2]])
    np.testing.assert_array_equal(
        negative["genre"].numpy(), table[negative["item"].numpy()[:, 0]]
    )
    np.testing.assert_array_equal(positive["user"].numpy()[:, 0], [5, 5, 5, 6, 6, 6])


def test_bpr_learns_preferences():
    """Users 0-4 like items 0-9, users 5-9 like items 10-19: BPR must find it."""
    keras.utils.set_random_seed(0)
    users = np.repeat(np.arange(10), 10)
    items = np.array([(u // 5) * 10 + i for u in range(10) for i in range(10)])
    features = [IdFeature("user", 10), IdFeature("item", 20)]
    model = build_fm(features, embedding_dim=4, task="regression")
    scorer = keras.Model(model.inputs, model.get_layer("logit").output)
    ranker = PairwiseRanker(scorer)
    ranker.compile(keras.optimizers.Adam(0.05), bpr_loss())
    catalog = ItemCatalog("item", 20)
    data = (
        tf.data.Dataset.from_tensor_slices(
            (
                {"user": users[:, None], "item": items[:, None].astype("int64")},
                np.ones(100),
            )
        )
        .shuffle(100, seed=0)
        .batch(20)
    )
    history = ranker.fit(
        data.map(sample_negatives(catalog, seed=0)), epochs=30, verbose=0
    )
    # Half the uniform negatives are liked items too, so the loss stays near
    # 0.5 * ln 2 ~ 0.35 even for a perfect ranking; ln 2 ~ 0.69 is chance.
    assert history.history["loss"][-1] < 0.45
    test = {"user": np.array([[0], [7]]), "item": np.array([[3], [15]])}
    scores = ranking_metrics(scorer, test, catalog, k=10, num_candidates=None)
    assert scores["hr@10"] == 1.0


def test_bad_catalog():
    with pytest.raises(ValueError, match="`num_items`"):
        ItemCatalog("item", 1)
    with pytest.raises(ValueError, match="one per item"):
        ItemCatalog("item", 3, attributes={"genre": np.zeros(2)})


def test_catalog_with_item_ids_samples_and_looks_up_input_values():
    catalog = ItemCatalog(
        "item",
        item_ids=[40, 17, 99],
        attributes={"genre": np.array([4, 1, 9]), "tags": [[1, 2], [], [3]]},
    )
    features = {
        "item": tf.ragged.constant([[40], [99]], dtype=tf.int64),
        "genre": tf.constant([4, 9]),
        "tags": tf.ragged.constant([[1, 2], [3]]),
    }
    (_, negative), _ = sample_negatives(catalog, num_negatives=50, seed=0)(
        features, tf.ones(2)
    )
    items = negative["item"].flat_values.numpy()
    assert set(items) == {40, 17, 99} and negative["item"].shape[0] == 100
    table = {40: (4, [1, 2]), 17: (1, []), 99: (9, [3])}
    assert negative["genre"].numpy().tolist() == [table[i][0] for i in items]
    assert negative["tags"].to_list() == [table[i][1] for i in items]
    np.testing.assert_array_equal(
        catalog.index_of(tf.constant([99, 40, 5])).numpy(), [2, 0, -1]
    )


def test_catalog_from_dataset_and_saved(tmp_path):
    from keras_fm.ranking import load_catalog, save_catalog

    data = tf.data.Dataset.from_tensor_slices(
        (
            {
                "user": np.array([0, 0, 1, 1]),
                "item": np.array([7, 3, 7, 5]),
                "genre": np.array([2, 1, 2, 0]),
            },
            np.ones(4),
        )
    ).batch(3)
    catalog = ItemCatalog.from_dataset(data, "item", ["genre"])
    assert catalog.item_ids.tolist() == [3, 5, 7]
    assert catalog.attributes["genre"].numpy().tolist() == [1, 0, 2]
    save_catalog(tmp_path / "c.npz", catalog, {0: {3, 7}})
    loaded, seen = load_catalog(tmp_path / "c.npz")
    assert loaded.item_ids.tolist() == [3, 5, 7] and seen == {0: {3, 7}}
    assert loaded.attributes["genre"].numpy().tolist() == [1, 0, 2]
    scores = ranking_metrics(
        FixedScorer(),
        {"item": np.array([5]), "user": np.array([0])},
        loaded,
        k=1,
        num_candidates=None,
        seen=seen,
        user_feature="user",
    )
    assert scores["hr@1"] == 1.0  # 7 outscores 5 but the user has seen it
    with pytest.raises(ValueError, match="exactly one item per row"):
        ItemCatalog.from_dataset(
            tf.data.Dataset.from_tensors(
                ({"item": tf.ragged.constant([[1, 2]])}, tf.ones(1))
            ),
            "item",
        )


def test_keep_positives_and_pairwise_accuracy():
    from keras_fm.ranking import keep_positives, pairwise_accuracy

    features = {
        "item": tf.constant([1, 2, 3]),
        "tags": tf.ragged.constant([[1], [], [2, 3]]),
    }
    kept, labels = keep_positives()(features, tf.constant([1.0, 0.0, 1.0]))
    assert kept["item"].numpy().tolist() == [1, 3]
    assert kept["tags"].to_list() == [[1], [2, 3]] and labels.numpy().tolist() == [1, 1]
    accuracy = pairwise_accuracy(tf.ones(4), tf.constant([[0.5], [-1.0], [2.0], [0.0]]))
    assert accuracy.numpy().tolist() == [1, 0, 1, 0]
