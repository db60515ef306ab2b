"""Sampled negative items for pairwise ranking on implicit feedback."""

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import tensorflow as tf


class ItemCatalog:
    """The items a ranking model can recommend, with their side features.

    Args:
        item_feature: name of the input holding the item id.
        num_items: item ids are ``0 .. num_items - 1``.
        attributes: Optional dict from input name to an array indexed by item
            id (``(num_items,)`` for one value per item, ``(num_items, L)``
            for padded lists such as genres): the item's side features, which
            a negative item carries in place of the positive's.
    """

    def __init__(
        self,
        item_feature: str,
        num_items: int,
        attributes: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        if not isinstance(num_items, int) or num_items < 2:
            raise ValueError(
                f"`num_items` must be an int >= 2. Received: {num_items!r}"
            )
        attributes = dict(attributes or {})
        for name, table in attributes.items():
            if len(table) != num_items:
                raise ValueError(
                    f"Item attribute {name!r} has {len(table)} rows; expected one per "
                    f"item ({num_items})."
                )
        self.item_feature = item_feature
        self.num_items = num_items
        self.attributes = {
            name: tf.constant(table) for name, table in attributes.items()
        }

    def with_items(self, features: Mapping[str, Any], items: Any) -> dict[str, Any]:
        """``features`` with the item (and its attributes) replaced by ``items``.

        ``items`` is an int64 tensor of the item input's shape.
        """
        result = dict(features)
        result[self.item_feature] = tf.cast(items, features[self.item_feature].dtype)
        flat = tf.reshape(items, [-1])
        for name, table in self.attributes.items():
            values = tf.gather(table, flat)  # (N, ...) rows of the new items
            result[name] = tf.reshape(
                values,
                tf.concat([tf.shape(features[name])[:1], tf.shape(values)[1:]], 0),
            )
        return result


def sample_negatives(
    catalog: ItemCatalog, num_negatives: int = 1, seed: int | None = None
) -> Callable[[dict[str, Any], Any], tuple[tuple[dict[str, Any], dict[str, Any]], Any]]:
    """A `dataset.map` function: positives -> (positive, sampled negative) pairs.

    Each positive example of a batch is repeated ``num_negatives`` times and
    paired with an item drawn uniformly from the catalog (the usual BPR
    sampler; a drawn item can occasionally be one the user also likes, which
    at catalog sizes of thousands changes little). The labels become ones: the
    positive should outrank the negative.

    Args:
        catalog: the `ItemCatalog`.
        num_negatives: negatives per positive. Defaults to `1`.
        seed: Optional seed of the sampler.

    Returns:
        A function for ``dataset.map`` on ``(features, labels)`` batches.
    """
    generator = tf.random.Generator.from_seed(seed) if seed is not None else None

    def pair(features: dict[str, Any], labels: Any) -> tuple[Any, Any]:
        if num_negatives > 1:
            features = {
                k: tf.repeat(v, num_negatives, axis=0) for k, v in features.items()
            }
        item_shape = tf.shape(features[catalog.item_feature])
        if generator is not None:
            negatives = generator.uniform(
                item_shape, 0, catalog.num_items, dtype=tf.int64
            )
        else:
            negatives = tf.random.uniform(
                item_shape, 0, catalog.num_items, dtype=tf.int64
            )
        negative_features = catalog.with_items(features, negatives)
        ones = tf.ones(item_shape[:1], tf.float32)
        return (features, negative_features), ones

    return pair
