"""The ranking task of `keras-fm train` and `evaluate`: options, pairs, metrics."""

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from keras_fm.data.formats import DataFormat
from keras_fm.ranking import (
    ItemCatalog,
    PairwiseRanker,
    concat_batches,
    count_positives,
    keep_positives,
    ranking_metrics,
    sample_negatives,
    seen_items,
)


def scorer(model: keras.Model) -> keras.Model:
    """The model up to its ``logit`` layer: the score that ranking trains."""
    return keras.Model(model.inputs, model.get_layer("logit").output)


def ranking_file_metrics(
    model: keras.Model,
    dataset: Any,
    catalog: ItemCatalog,
    seen: dict[int, set[int]],
    ranking: dict[str, Any],
) -> dict[str, float]:
    """HR@10 and NDCG@10 of the positives of ``dataset``, rounded to 1e-6.

    With a ``user_field``, each user's items in ``seen`` (training) and in
    ``dataset`` itself are left out of that user's candidates.
    """
    examples = concat_batches(dataset.map(keep_positives()))
    user = ranking.get("user_field")
    if user:
        held_out = seen_items(examples, user, catalog.item_feature)
        seen = {u: seen.get(u, set()) | items for u, items in held_out.items()}
    scores = ranking_metrics(
        scorer(model),
        examples,
        catalog,
        k=10,
        num_candidates=ranking.get("num_candidates"),
        seen=seen if user else None,
        user_feature=user,
    )
    return {name: round(value, 6) for name, value in scores.items()}


def check_ranking(
    ranking: dict[str, Any] | None, data_format: DataFormat
) -> dict[str, Any]:
    """The ranking options with their defaults; a one-line error if unusable."""
    ranking = dict(ranking or {})
    if not ranking.get("item_field"):
        raise ValueError("the ranking task needs the item field (--item-field)")
    if not data_format.has_fields:
        raise ValueError(
            "the ranking task needs fields: use libffm, CSV or TFRecord data, or "
            "libsvm rows with one feature per field and --fields-by-position"
        )
    ranking.setdefault("item_features", [])
    ranking.setdefault("user_field", None)
    ranking.setdefault("num_negatives", 1)
    ranking.setdefault("num_candidates", 100)
    return ranking


def ranking_data(
    model: keras.Model,
    data_format: DataFormat,
    train_paths: Sequence[str],
    train_data: Any,
    valid_data: Any,
    ranking: dict[str, Any],
    seed: int,
    verbose: int,
) -> tuple[Any, Any, keras.Model, ItemCatalog, dict[int, set[int]]]:
    """Pairs of (positive, sampled negative), the ranker, the catalog and seen items."""
    reference = data_format.read(train_paths, "binary", 8192)
    inputs = set(reference.element_spec[0])
    item = ranking["item_field"]
    names = [item, *ranking["item_features"]]
    if ranking["user_field"]:
        names.append(ranking["user_field"])
    for name in names:
        if name not in inputs:
            raise ValueError(
                f"no input {name!r} in the training data; inputs: {sorted(inputs)}"
            )
    attributes = [
        name
        for base in [item, *ranking["item_features"]]
        for name in (base, f"{base}_value")
        if name in inputs and name != item
    ]
    # One parsing pass: every training positive, concatenated.
    reference = reference.cache()
    kept, total = count_positives(reference)
    examples = concat_batches(reference.map(keep_positives()))
    catalog = ItemCatalog.from_dataset(
        tf.data.Dataset.from_tensors((examples, tf.ones(kept))), item, attributes
    )
    seen: dict[int, set[int]] = {}
    if ranking["user_field"]:
        seen = seen_items(examples, ranking["user_field"], item)
    if verbose:
        print(
            f"ranking: {kept} of {total} training rows are positives (label > 0); "
            f"{catalog.num_items} items",
            flush=True,
        )
    pairs = sample_negatives(catalog, ranking["num_negatives"], seed=seed)
    train_pairs = train_data.map(keep_positives()).map(pairs)
    valid_pairs = None
    if valid_data is not None:
        fixed = sample_negatives(catalog, ranking["num_negatives"], seed=seed + 1)
        valid_pairs = valid_data.map(keep_positives()).map(fixed).cache()
    ranker = PairwiseRanker(scorer(model), name="pairwise_ranker")
    return train_pairs, valid_pairs, ranker, catalog, seen
