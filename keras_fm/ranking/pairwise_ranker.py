"""Pairwise (BPR) training of any scoring model."""

from typing import Any

import keras

from keras_fm.registration import register


@register
class PairwiseRanker(keras.Model):
    """Trains a scoring model to rank positives above sampled negatives (BPR).

    Called on ``(positive_features, negative_features)`` it returns
    ``score(positive) - score(negative)``; compiled with
    ``keras.losses.BinaryCrossentropy(from_logits=True)`` against labels of
    one (what `sample_negatives` yields), the loss is exactly BPR's
    ``-log sigmoid(score(u, i) - score(u, j))``. The scorer, with the trained
    weights, is ``ranker.scorer``.

    Args:
        scorer: a `keras.Model` from features to a `(batch, 1)` score, e.g.
            ``keras.Model(model.inputs, model.get_layer("logit").output)``
            for a model of `keras_fm.models`.
        **kwargs: Base `keras.Model` arguments.

    References:
        - [Rendle et al., 2009. BPR: Bayesian Personalized Ranking from
          Implicit Feedback](https://arxiv.org/abs/1205.2618), Eq. (2).
    """

    def __init__(self, scorer: keras.Model, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(scorer, dict):
            scorer = keras.saving.deserialize_keras_object(scorer)
        self.scorer = scorer

    def call(self, inputs: Any, training: Any = None) -> Any:
        positive, negative = inputs
        return self.scorer(positive, training=training) - self.scorer(
            negative, training=training
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "scorer": keras.saving.serialize_keras_object(self.scorer),
            "name": self.name,
        }


def bpr_loss() -> keras.losses.Loss:
    """``-log sigmoid(difference)`` for labels of one: BPR's loss.

    Returns:
        A `keras.losses.Loss` taking ``(ones, score(pos) - score(neg))``.
    """
    return keras.losses.BinaryCrossentropy(from_logits=True, name="bpr")
