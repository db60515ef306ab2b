"""Ranking on implicit feedback: BPR training with sampled negatives, HR@K, NDCG@K."""

from keras_fm.ranking.metrics import ranking_metrics
from keras_fm.ranking.negative_sampling import ItemCatalog, sample_negatives
from keras_fm.ranking.pairwise_ranker import PairwiseRanker, bpr_loss

__all__ = [
    "ItemCatalog",
    "PairwiseRanker",
    "bpr_loss",
    "ranking_metrics",
    "sample_negatives",
]
