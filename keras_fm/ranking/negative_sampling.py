"""Sampled negative items for pairwise ranking on implicit feedback."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf


class ItemCatalog:
    """The items a ranking model can recommend, with their side features.

    Items are numbered ``0 .. num_items - 1`` in the catalog. By default an
    item's catalog number is also the value its input takes; with
    ``item_ids`` the input takes ``item_ids[n]`` for item ``n`` (e.g. the
    global feature ids of a libsvm or libffm file), and every method takes and
    returns those input values.

    Args:
        item_feature: name of the input holding the item id.
        num_items: Optional number of items. Defaults to ``len(item_ids)``.
        attributes: Optional dict from input name to the item's side feature
            in that input, indexed by catalog number: an array of shape
            ``(num_items,)`` for one value per item, ``(num_items, L)`` for
            padded lists, or a `tf.RaggedTensor` (or list of lists) for inputs
            fed as ragged lists. A negative item carries its own attributes in
            place of the positive's.
        item_ids: Optional distinct int values of the item input, one per
            catalog item. Defaults to ``0 .. num_items - 1``.

    Example:

    >>> catalog = ItemCatalog("item", item_ids=[10, 20, 30])
    >>> catalog.num_items
    3
    >>> catalog.with_items({"item": tf.constant([[10]])}, tf.constant([[30]]))["item"]
    <tf.Tensor: shape=(1, 1), dtype=int32, numpy=array([[30]], dtype=int32)>
    """

    def __init__(
        self,
        item_feature: str,
        num_items: int | None = None,
        attributes: Mapping[str, Any] | None = None,
        item_ids: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        if item_ids is not None:
            ids = np.asarray(item_ids, dtype="int64").reshape(-1)
            if len(np.unique(ids)) != len(ids):
                raise ValueError("`item_ids` must be distinct.")
            if num_items is not None and num_items != len(ids):
                raise ValueError(
                    f"`num_items` ({num_items}) is not len(item_ids) ({len(ids)})."
                )
            num_items = len(ids)
        if not isinstance(num_items, int) or num_items < 2:
            raise ValueError(
                f"`num_items` must be an int >= 2. Received: {num_items!r}"
            )
        self.item_feature = item_feature
        self.num_items = num_items
        self.item_ids = ids if item_ids is not None else np.arange(num_items)
        self._index: Any = None
        if item_ids is not None and not np.array_equal(ids, np.arange(num_items)):
            self._index = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(ids), tf.range(num_items, dtype=tf.int64)
                ),
                default_value=-1,
            )
        self.attributes: dict[str, Any] = {}
        for name, table in dict(attributes or {}).items():
            if isinstance(table, list) and any(isinstance(v, list) for v in table):
                table = tf.ragged.constant(table)
            rows = (
                int(table.nrows()) if isinstance(table, tf.RaggedTensor) else len(table)
            )
            if rows != num_items:
                raise ValueError(
                    f"Item attribute {name!r} has {rows} rows; expected one per "
                    f"item ({num_items})."
                )
            self.attributes[name] = (
                table if isinstance(table, tf.RaggedTensor) else tf.constant(table)
            )

    @classmethod
    def from_dataset(
        cls,
        dataset: tf.data.Dataset,
        item_feature: str,
        attribute_names: Sequence[str] = (),
    ) -> "ItemCatalog":
        """The items of a dataset of ``(features, labels)`` batches.

        The catalog holds every distinct value of ``item_feature`` (one value
        per row: a `(batch,)` or `(batch, 1)` tensor, or a ragged list of one);
        each item's attributes are those of its first row.

        Raises:
            ValueError: if a row holds no item or several items, or the
                dataset has fewer than two items.
        """
        first: dict[int, dict[str, Any]] = {}
        for features, _ in dataset:
            if item_feature not in features:
                raise ValueError(
                    f"No input {item_feature!r}; inputs are {sorted(features)}."
                )
            items = _one_per_row(features[item_feature], item_feature)
            columns = {name: _rows(features[name]) for name in attribute_names}
            for row, item in enumerate(items.tolist()):
                if item not in first:
                    first[item] = {
                        name: column[row] for name, column in columns.items()
                    }
        ids = sorted(first)
        if len(ids) < 2:
            raise ValueError(
                f"the data holds {len(ids)} distinct value(s) of {item_feature!r}; a "
                "ranking catalog needs at least 2 items"
            )
        attributes: dict[str, Any] = {}
        for name in attribute_names:
            values = [first[item][name] for item in ids]
            attributes[name] = (
                values if isinstance(values[0], list) else np.array(values)
            )
        return cls(item_feature, attributes=attributes, item_ids=ids)

    def index_of(self, items: Any) -> Any:
        """Catalog numbers of item input values (-1 for values not in it)."""
        items = tf.cast(items, tf.int64)
        return items if self._index is None else self._index.lookup(items)

    def sample(self, shape: Any, generator: Any = None) -> Any:
        """Item input values drawn uniformly from the catalog, int64 ``shape``."""
        if generator is not None:
            numbers = generator.uniform(shape, 0, self.num_items, dtype=tf.int64)
        else:
            numbers = tf.random.uniform(shape, 0, self.num_items, dtype=tf.int64)
        if self._index is None:
            return numbers
        return tf.gather(tf.constant(self.item_ids), numbers)

    def with_items(self, features: Mapping[str, Any], items: Any) -> dict[str, Any]:
        """``features`` with the item (and its attributes) replaced by ``items``.

        ``items`` is an int tensor of item input values, of the item input's
        shape (or, for a ragged item input, one value per row).
        """
        result = dict(features)
        current = features[self.item_feature]
        flat = tf.reshape(tf.cast(items, tf.int64), [-1])
        if isinstance(current, tf.RaggedTensor):
            result[self.item_feature] = tf.RaggedTensor.from_row_lengths(
                tf.cast(flat, current.dtype),
                tf.ones_like(flat, dtype=current.row_splits.dtype),
            )
        else:
            result[self.item_feature] = tf.cast(items, current.dtype)
        numbers = self.index_of(flat)
        for name, table in self.attributes.items():
            values = tf.gather(table, numbers)  # (N, ...) rows of the new items
            if (
                name not in features
                or isinstance(values, tf.RaggedTensor)
                or isinstance(features[name], tf.RaggedTensor)
            ):
                result[name] = values
                continue
            result[name] = tf.reshape(
                values,
                tf.concat([tf.shape(features[name])[:1], tf.shape(values)[1:]], 0),
            )
        return result


def _rows(tensor: Any) -> list[Any]:
    """A batch input as one Python value (or list, for ragged) per row."""
    if isinstance(tensor, tf.RaggedTensor):
        return tensor.to_list()
    values = tensor.numpy()
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    return list(values)


def _one_per_row(tensor: Any, name: str) -> np.ndarray:
    """The item input's values, checking that each row holds exactly one."""
    if isinstance(tensor, tf.RaggedTensor):
        lengths = tensor.row_lengths().numpy()
        if np.any(lengths != 1):
            row = int(np.argmax(lengths != 1))
            raise ValueError(
                f"row {row} of a batch holds {lengths[row]} values of item input "
                f"{name!r}; ranking needs exactly one item per row"
            )
        return tensor.flat_values.numpy().astype("int64")
    values = tensor.numpy()
    if values.ndim > 2 or (values.ndim == 2 and values.shape[1] != 1):
        raise ValueError(
            f"item input {name!r} has shape {values.shape}; ranking needs one item "
            "per row"
        )
    return values.reshape(-1).astype("int64")


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
            first = features[catalog.item_feature]
            rows = first.nrows() if isinstance(first, tf.RaggedTensor) else None
            rows = tf.shape(first, out_type=tf.int64)[0] if rows is None else rows
            repeated = tf.repeat(tf.range(rows), num_negatives)
            features = {k: tf.gather(v, repeated) for k, v in features.items()}
        current = features[catalog.item_feature]
        if isinstance(current, tf.RaggedTensor):
            item_shape = tf.reshape(current.nrows(), [1])
        else:
            item_shape = tf.shape(current)
        negatives = catalog.sample(item_shape, generator)
        negative_features = catalog.with_items(features, negatives)
        ones = tf.ones(item_shape[:1], tf.float32)
        return (features, negative_features), ones

    return pair
