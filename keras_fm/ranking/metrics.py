"""Hit rate and NDCG at K over sampled or full candidate sets."""

import collections
import math
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_fm.ranking.negative_sampling import ItemCatalog, _one_per_row


def ranking_metrics(
    scorer: keras.Model,
    examples: Mapping[str, Any],
    catalog: ItemCatalog,
    k: int = 10,
    num_candidates: int | None = 100,
    seen: Mapping[int, set[int]] | None = None,
    user_feature: str | None = None,
    seed: int = 0,
    batch_size: int = 8192,
) -> dict[str, float]:
    """HR@K and NDCG@K of held-out positives against candidate items.

    For each held-out positive (one row of ``examples``), the candidates are
    its item and either ``num_candidates`` items drawn uniformly without
    replacement from the catalog items the user has not interacted with (the
    "sampled" protocol of NCF and many FM papers: 100 negatives), or, with
    ``num_candidates=None``, every such item (the "full" protocol, stricter
    and slower). The positive is scored from its own row, so its item need
    not be in the catalog (an item no training row liked); each negative
    from that row with the item and its catalog attributes replaced. The
    positive's rank ``r`` (0 = first; ties count against
    it) gives ``HR@K = [r < K]`` and ``NDCG@K = [r < K] / log2(r + 2)``,
    averaged over the positives.

    Args:
        scorer: model from features to a `(batch, 1)` score.
        examples: dict of arrays or tensors (dense or ragged), one row per
            held-out positive, with one item per row.
        catalog: the `ItemCatalog` (item input name, the items, their side
            features).
        k: the cut-off. Defaults to `10`.
        num_candidates: negatives per positive, or None for all items.
        seen: Optional dict from user id to the item ids to exclude from its
            negatives (its training and test positives).
        user_feature: the user input's name (needed with ``seen``).
        seed: seed of the negative sampling.
        batch_size: scoring batch size.

    Returns:
        ``{"hr@K": ..., "ndcg@K": ...}``.
    """
    rng = np.random.default_rng(seed)
    tensors = {
        name: value if isinstance(value, tf.RaggedTensor) else tf.constant(value)
        for name, value in examples.items()
    }
    item_input = tensors[catalog.item_feature]
    items = _one_per_row(item_input, catalog.item_feature)
    users = _one_per_row(tensors[user_feature], user_feature) if user_feature else None
    item_shape = (
        () if isinstance(item_input, tf.RaggedTensor) else tuple(item_input.shape[1:])
    )
    all_items = catalog.item_ids
    number_of = {int(item): number for number, item in enumerate(all_items)}
    ranks: list[int] = []
    rows = collections.deque(range(len(items)))
    while rows:
        chunk: list[int] = []
        pools: list[np.ndarray] = []
        size = 0
        while rows and size < batch_size:
            row = rows.popleft()
            excluded = {int(items[row])}
            if seen is not None and users is not None:
                excluded |= set(seen.get(int(users[row]), ()))
            keep = np.ones(len(all_items), bool)
            keep[[number_of[i] for i in excluded if i in number_of]] = False
            pool = all_items[keep]
            if num_candidates is not None and num_candidates < len(pool):
                pool = rng.choice(pool, size=num_candidates, replace=False)
            chunk.append(row)
            pools.append(pool.astype("int64"))
            size += 1 + len(pool)
        # The positive is scored from its own row (its item need not be in
        # the catalog); each negative from that row with the item replaced.
        positives = _scores(scorer, _rows_of(tensors, chunk), batch_size)
        counts = [len(pool) for pool in pools]
        negatives = np.zeros(0)
        if sum(counts):
            base = _rows_of(tensors, np.repeat(chunk, counts))
            candidates = np.concatenate(pools).reshape(-1, *item_shape)
            features = catalog.with_items(base, tf.constant(candidates))
            negatives = _scores(scorer, features, batch_size)
        start = 0
        for positive, count in zip(positives, counts, strict=True):
            ranks.append(int(np.sum(negatives[start : start + count] >= positive)))
            start += count
    hits = [float(rank < k) for rank in ranks]
    gains = [1.0 / math.log2(rank + 2) if rank < k else 0.0 for rank in ranks]
    return {f"hr@{k}": float(np.mean(hits)), f"ndcg@{k}": float(np.mean(gains))}


def _rows_of(tensors: Mapping[str, Any], rows: Any) -> dict[str, Any]:
    """The given rows of every input."""
    positions = tf.constant(np.asarray(rows, dtype="int64"))
    return {name: tf.gather(value, positions) for name, value in tensors.items()}


def _scores(scorer: keras.Model, features: Mapping[str, Any], batch_size: int) -> Any:
    """The scorer's scores of ``features``, one per row, ``batch_size`` rows
    a call (`predict_on_batch`: ``predict`` built a dataset every call)."""
    first = next(iter(features.values()))
    rows = int(first.nrows() if isinstance(first, tf.RaggedTensor) else first.shape[0])
    scores = [
        np.asarray(
            scorer.predict_on_batch(
                {
                    name: value[start : start + batch_size]
                    for name, value in features.items()
                }
            )
        ).reshape(-1)
        for start in range(0, rows, batch_size)
    ]
    return np.concatenate(scores) if scores else np.zeros(0)
