"""Implicit-feedback datasets for ranking: positives, seen items, saved catalogs."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_fm.ranking.negative_sampling import ItemCatalog, _one_per_row
from keras_fm.registration import register


def keep_positives() -> Callable[[dict[str, Any], Any], tuple[dict[str, Any], Any]]:
    """A `dataset.map` function keeping the rows of each batch with label > 0.

    Implicit-feedback files often hold only positives (every row one
    interaction); files with binary labels can be used as they are, their
    negative rows being left out of the positives (count them with
    `count_positives`).

    Returns:
        A function ``(features, labels) -> (features, labels)`` of the rows
        with label > 0.
    """

    def keep(features: dict[str, Any], labels: Any) -> tuple[dict[str, Any], Any]:
        mask = tf.reshape(labels, [-1]) > 0
        kept = {
            name: tf.ragged.boolean_mask(value, mask)
            if isinstance(value, tf.RaggedTensor)
            else tf.boolean_mask(value, mask)
            for name, value in features.items()
        }
        return kept, tf.boolean_mask(labels, mask)

    return keep


def count_positives(dataset: tf.data.Dataset) -> tuple[int, int]:
    """``(positive rows, all rows)`` of a dataset of ``(features, labels)``.

    Args:
        dataset: a `tf.data.Dataset` of ``(features, labels)`` batches.

    Returns:
        The rows with label > 0, and all rows.
    """
    positives, total = 0, 0
    for _, labels in dataset:
        values = labels.numpy().reshape(-1)
        positives += int(np.sum(values > 0))
        total += len(values)
    return positives, total


@register
def pairwise_accuracy(y_true: Any, y_pred: Any) -> Any:
    """Share of pairs whose positive outscores the negative (a sampled AUC).

    For a `PairwiseRanker`, whose output is ``score(pos) - score(neg)``.
    ``y_true`` (all ones) is ignored.

    Args:
        y_true: ignored.
        y_pred: ``score(pos) - score(neg)`` per pair.

    Returns:
        The share of pairs with ``y_pred > 0``.
    """
    del y_true
    return keras.ops.cast(keras.ops.reshape(y_pred, [-1]) > 0, "float32")


def concat_batches(dataset: tf.data.Dataset) -> dict[str, Any]:
    """All the feature batches of a dataset, concatenated along rows.

    Args:
        dataset: a `tf.data.Dataset` of ``(features, labels)`` batches.

    Returns:
        ``{name: NumPy array}`` of every feature's rows.
    """
    parts: dict[str, list[Any]] = {}
    for features, _ in dataset:
        for name, value in features.items():
            parts.setdefault(name, []).append(value)
    if not parts:
        raise ValueError("the dataset holds no rows")
    return {name: tf.concat(values, axis=0) for name, values in parts.items()}


def seen_items(
    examples: dict[str, Any], user_feature: str, item_feature: str
) -> dict[int, set[int]]:
    """``{user: {items}}`` of a dict of concatenated batches.

    Args:
        examples: ``{name: array}`` of concatenated batches.
        user_feature: the name of the user id input.
        item_feature: the name of the item id input.

    Returns:
        ``{user id: {item ids}}``.
    """
    users = _one_per_row(examples[user_feature], user_feature)
    items = _one_per_row(examples[item_feature], item_feature)
    seen: dict[int, set[int]] = {}
    for user, item in zip(users.tolist(), items.tolist(), strict=True):
        seen.setdefault(user, set()).add(item)
    return seen


def save_catalog(
    path: str | Path, catalog: ItemCatalog, seen: dict[int, set[int]] | None = None
) -> None:
    """Writes a catalog (and the users' seen items) to one ``.npz`` file.

    Args:
        path: the ``.npz`` file to write.
        catalog: the `ItemCatalog`.
        seen: Optional ``{user: {items}}``. Defaults to None (none).

    Returns:
        None.
    """
    arrays: dict[str, np.ndarray] = {"item_ids": np.asarray(catalog.item_ids)}
    names = []
    for name, table in catalog.attributes.items():
        names.append(name)
        if isinstance(table, tf.RaggedTensor):
            arrays[f"values/{name}"] = table.flat_values.numpy()
            arrays[f"lengths/{name}"] = table.row_lengths().numpy()
        else:
            arrays[f"values/{name}"] = table.numpy()
    pairs = [(u, i) for u, items in (seen or {}).items() for i in sorted(items)]
    arrays["seen"] = np.asarray(pairs, dtype="int64").reshape(-1, 2)
    arrays["names"] = np.asarray(names, dtype=str)
    arrays["item_feature"] = np.asarray(catalog.item_feature)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]


def load_catalog(path: str | Path) -> tuple[ItemCatalog, dict[int, set[int]]]:
    """The catalog and seen items written by `save_catalog`.

    Args:
        path: the ``.npz`` file.

    Returns:
        ``(catalog, seen)``: the `ItemCatalog` and ``{user: {items}}``.
    """
    with np.load(path) as stored:
        attributes: dict[str, Any] = {}
        for name in stored["names"].tolist():
            values = stored[f"values/{name}"]
            if f"lengths/{name}" in stored:
                attributes[name] = tf.RaggedTensor.from_row_lengths(
                    values, stored[f"lengths/{name}"]
                )
            else:
                attributes[name] = values
        seen: dict[int, set[int]] = {}
        for user, item in stored["seen"].tolist():
            seen.setdefault(user, set()).add(item)
        catalog = ItemCatalog(
            str(stored["item_feature"]),
            attributes=attributes,
            item_ids=stored["item_ids"],
        )
    return catalog, seen
