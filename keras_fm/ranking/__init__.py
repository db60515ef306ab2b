"""Ranking on implicit feedback: BPR training with sampled negatives, HR@K, NDCG@K."""

from keras_fm.ranking.implicit_data import (
    concat_batches,
    count_positives,
    keep_positives,
    load_catalog,
    pairwise_accuracy,
    save_catalog,
    seen_items,
)
from keras_fm.ranking.metrics import ranking_metrics
from keras_fm.ranking.negative_sampling import ItemCatalog, sample_negatives
from keras_fm.ranking.pairwise_ranker import PairwiseRanker, bpr_loss

__all__ = [
    "ItemCatalog",
    "PairwiseRanker",
    "bpr_loss",
    "concat_batches",
    "count_positives",
    "keep_positives",
    "load_catalog",
    "pairwise_accuracy",
    "ranking_metrics",
    "sample_negatives",
    "save_catalog",
    "seen_items",
]
