"""Bayesian FM by Gibbs sampling (MCMC) and its deterministic sibling (ALS),
each returning a Keras model that serves what it learned."""

import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_fm.bayes.coloring import color_features
from keras_fm.bayes.fields import field_groups
from keras_fm.bayes.gibbs import GibbsSweep, Hyperpriors
from keras_fm.bayes.relation_draws import RelationTable
from keras_fm.bayes.rows import SparseRows
from keras_fm.data.pipeline import check_task
from keras_fm.features import Feature
from keras_fm.layers.field_ids import FieldIds
from keras_fm.layers.posterior_fm import PosteriorFM
from keras_fm.models.inputs import feature_inputs
from keras_fm.models.parts import finish


def fit_mcmc(
    train: SparseRows,
    task: str = "regression",
    *,
    embedding_dim: int = 8,
    num_sweeps: int = 200,
    burn_in: int = 50,
    thin: int = 1,
    num_chains: int = 1,
    groups: Sequence[int] | np.ndarray | None = None,
    init_stdev: float = 0.1,
    hyperpriors: Hyperpriors | None = None,
    validation: SparseRows | None = None,
    clip: Any = "auto",
    features: Sequence[Feature] | None = None,
    seed: int = 0,
    verbose: int = 0,
) -> keras.Model:
    """A factorization machine learned by Gibbs sampling, as libFM's MCMC.

    No learning rate and no regularization to tune: the prior precisions of
    each group of features are sampled with the parameters (Freudenthaler,
    Schmidt-Thieme and Rendle, 2011). Each sweep draws every parameter once
    in ``O(k * nnz)`` (`keras_fm.bayes.gibbs`). After ``burn_in`` sweeps,
    every ``thin``-th sample is kept; the returned model predicts their
    average: the posterior predictive mean (for binary tasks, the mean
    probability of a probit model). It keeps ``S = (num_sweeps - burn_in) //
    thin`` samples per chain of ``(num_features + 1) * (embedding_dim + 1)``
    float32 weights each: thin more for large feature spaces.

    A chain moves slowly between the modes of an FM's posterior (the latent
    vectors can rotate and swap): ``num_chains`` independent chains, whose
    samples the model averages together, explore it better than one chain
    of as many sweeps. MovieLens 100K with side features, k = 16, mean test
    RMSE over u1..u5: one chain of 500 sweeps 0.8898, four chains of 100
    0.8877 (`examples/benchmarks/bayes_movielens.py`).

    Features that many rows share (a user's side features, the movies the
    user rated as SVD++'s implicit feedback) may be given once per user as
    a `keras_fm.bayes.Relation` (`SparseRows.with_relations`): a sweep then
    costs the size of the tables rather than of the rows written out
    (Rendle, 2013), and draws the same conditionals. The returned model
    reads rows written out in full (`SparseRows.expand`).

    Args:
        train: the training rows (`keras_fm.bayes.SparseRows`), with their
            relations if any.
        task: `"regression"` (Gaussian noise, its precision sampled) or
            `"binary"` (probit; labels > 0 are positives).
        embedding_dim: size ``k`` of the latent vectors.
        num_sweeps: sweeps in all, burn-in included.
        burn_in: sweeps whose samples are dropped.
        thin: keep every ``thin``-th sample after the burn-in.
        num_chains: independent chains, each of ``num_sweeps`` sweeps from
            its own seed (``seed``, ``seed + 1``, ...) and start; the model
            averages the kept samples of all of them.
        groups: the prior group of each feature (its own mean and precision
            of ``w`` and of each factor), e.g. its field. Defaults to one
            group per field with ``features``, else one group for all.
        init_stdev: standard deviation of the initial latent vectors.
        hyperpriors: the fixed top of the hierarchy (libFM's defaults).
        validation: Optional rows (with relations, if any) scored by the
            posterior mean so far, in the progress lines.
        clip: regression: the range each sample's score is clipped to
            before averaging; `"auto"` (the default) takes the training
            labels' range, as libFM does (MovieLens 100K fold u1, k = 8: test
            RMSE 0.9060 against 0.9065 unclipped), None does not clip.
        features: the `keras_fm.features` specs ``train`` was read with
            (`keras_fm.bayes.field_rows`): the model then takes their
            feature dict, as the SGD field models do.
        seed: the seed of every draw (of the first chain).
        verbose: 1 prints a line every 10 sweeps, with the seconds a sweep.

    Returns:
        A `keras.Model` from ``{"ids", "values"}`` (as `keras_fm.data.read_libsvm`
        yields them), or from the feature dict of ``features``, to
        ``prediction``, through a `keras_fm.layers.PosteriorFM` named ``"fm"``.
    """
    if burn_in < 0 or thin < 1 or num_sweeps - burn_in < thin or num_chains < 1:
        raise ValueError(
            "need 0 <= burn_in, 1 <= thin <= num_sweeps - burn_in and "
            f"num_chains >= 1; received num_sweeps={num_sweeps}, "
            f"burn_in={burn_in}, thin={thin}, num_chains={num_chains}"
        )
    if features is not None:
        _check_features(features, train.num_features)
        groups = field_groups(features) if groups is None else groups
    sweep = _sweep(train, task, embedding_dim, groups, seed, init_stdev,
                   sample=True, hyperpriors=hyperpriors)  # fmt: skip
    clip = _clip(clip, train, task)
    progress = _Progress(sweep, task, validation, verbose, clip=clip)
    samples: list[tuple[float, np.ndarray, np.ndarray]] = []
    for chain in range(num_chains):
        if chain:
            sweep.restart(seed + chain)
        if num_chains > 1:
            progress.chain = f"chain {chain + 1}/{num_chains}, "
        for index in range(num_sweeps):
            rmse = float(sweep.sweep())
            kept = index >= burn_in and (index - burn_in) % thin == thin - 1
            if kept:
                samples.append(sweep.parameters())
            progress.after(index, rmse, kept)
    return posterior_model(
        samples, train.num_features, task, clip=clip, features=features
    )


def _check_features(features: Sequence[Feature], num_features: int) -> None:
    """Refuses specs whose ids are not the feature space of the rows (before
    any sweep) or of the samples."""
    size = FieldIds(features).num_rows
    if size != num_features:
        raise ValueError(
            f"the features take {size} ids; the rows have {num_features} "
            "features (read them with keras_fm.bayes.field_rows(dataset, features))"
        )


def _clip(clip: Any, train: SparseRows, task: str) -> tuple[float, float] | None:
    """``clip`` with `"auto"` resolved to the training labels' range."""
    if not (isinstance(clip, str) and clip == "auto"):
        return clip
    low, high = float(train.labels.min()), float(train.labels.max())
    return (low, high) if task == "regression" and low < high else None


def fit_als(
    train: SparseRows,
    task: str = "regression",
    *,
    embedding_dim: int = 8,
    num_sweeps: int = 50,
    l2: tuple[float, float] = (1.0, 1.0),
    init_stdev: float = 0.1,
    validation: SparseRows | None = None,
    clip: Any = "auto",
    features: Sequence[Feature] | None = None,
    seed: int = 0,
    verbose: int = 0,
) -> keras.Model:
    """A factorization machine learned by alternating least squares.

    libFM's ``-method als``: each parameter in turn is set to the minimizer
    of the squared error plus ``l2`` given all the others (coordinate
    descent), in the same ``O(k * nnz)`` sweeps as `fit_mcmc`, with no
    learning rate. For binary tasks the targets are the expected latent
    values of a probit model given the current scores.

    Args:
        train: the training rows, with their relations if any.
        task: `"regression"` or `"binary"`.
        embedding_dim: size ``k`` of the latent vectors.
        num_sweeps: sweeps over every parameter.
        l2: ``(lambda_w, lambda_v)``: the L2 penalties on ``w`` and ``v``
            (``sum (y - yhat)^2 + lambda_w ||w||^2 + lambda_v ||v||^2``).
        init_stdev: standard deviation of the initial latent vectors.
        validation: Optional rows scored in the progress lines.
        clip: as `fit_mcmc`'s.
        features: as `fit_mcmc`'s.
        seed: the seed of the initial vectors.
        verbose: 1 prints a line every 10 sweeps.

    Returns:
        A `keras.Model` as `fit_mcmc`'s, of one sample: the final parameters.
    """
    if features is not None:
        _check_features(features, train.num_features)
    sweep = _sweep(train, task, embedding_dim, None, seed, init_stdev,
                   sample=False, l2=l2)  # fmt: skip
    clip = _clip(clip, train, task)
    progress = _Progress(sweep, task, validation, verbose, averaged=False, clip=clip)
    for index in range(num_sweeps):
        progress.after(index, float(sweep.sweep()), kept=True)
    return posterior_model(
        [sweep.parameters()], train.num_features, task, clip=clip, features=features
    )


def posterior_model(
    samples: Sequence[tuple[float, np.ndarray, np.ndarray]],
    num_features: int,
    task: str,
    name: str = "bayes_fm",
    clip: tuple[float, float] | None = None,
    features: Sequence[Feature] | None = None,
) -> keras.Model:
    """The model that averages FMs of the given parameters.

    Args:
        samples: ``(w0, w, v)`` per sample, ``w`` `(p,)`, ``v`` `(p, k)`.
        num_features: ``p``.
        task: `"regression"` (mean score) or `"binary"` (mean probit
            probability).
        name: the model's name.
        clip: regression: the range of each sample's score (see
            `keras_fm.layers.PosteriorFM`).
        features: Optional specs whose ids the samples are of: the model
            then takes their feature dict (through `keras_fm.layers.FieldIds`).

    Returns:
        A `keras.Model` from ragged ``{"ids", "values"}``, or from the
        feature dict of ``features``, to ``prediction``.
    """
    check_task(task)
    w0 = np.array([sample[0] for sample in samples])
    w = np.stack([sample[1] for sample in samples])
    v = np.stack([sample[2] for sample in samples])
    if features is None:
        inputs = {
            "ids": keras.Input((None,), dtype="int64", ragged=True, name="ids"),
            "values": keras.Input((None,), dtype="float32", ragged=True, name="values"),
        }
        rows = inputs
    else:
        _check_features(features, num_features)
        inputs = feature_inputs(features)
        rows = FieldIds(features, name="field_ids")(inputs)
    link = "identity" if task == "regression" else "probit"
    layer = PosteriorFM(num_features, v.shape[2], len(samples), link, clip, name="fm")
    model = finish(inputs, [layer(rows)], task, None, name)
    layer.set_samples(w0, w, v)
    return model


def _sweep(
    train: SparseRows,
    task: str,
    embedding_dim: int,
    groups: Sequence[int] | np.ndarray | None,
    seed: int,
    init_stdev: float,
    **options: Any,
) -> GibbsSweep:
    check_task(task)
    if not train.num_rows:
        raise ValueError("the training data holds no row")
    if groups is None:
        group_ids = np.zeros(train.num_features, np.int64)
    else:
        group_ids = np.asarray(groups, np.int64)
        if group_ids.shape != (train.num_features,) or group_ids.min() < 0:
            raise ValueError(
                f"`groups` needs one group id >= 0 per feature "
                f"({train.num_features}); received shape {group_ids.shape}"
            )
    return GibbsSweep(train, group_ids, embedding_dim, task, color_features(train),
                      seed=seed, init_stdev=init_stdev, **options)  # fmt: skip


class _Progress:
    """The progress lines, and the validation score of the average so far
    (each sample's regression scores clipped to ``clip``, as the model's)."""

    def __init__(
        self,
        sweep: GibbsSweep,
        task: str,
        validation: SparseRows | None,
        verbose: int,
        averaged: bool = True,
        clip: tuple[float, float] | None = None,
    ) -> None:
        self.sweep, self.task, self.data, self.clip = sweep, task, validation, clip
        self.verbose, self.averaged = verbose, averaged
        self.relations = [
            RelationTable(relation)
            for relation in (validation.relations if validation else ())
        ]
        self.total: Any = 0.0
        self.count = 0
        self.score: float | None = None
        self.chain = ""  # the chain's name in the lines, if several
        self.clock = time.perf_counter()

    def after(self, index: int, rmse: float, kept: bool) -> None:
        """Scores the validation rows with a kept sample; prints every 10th
        sweep, with the mean seconds of the last 10 (the first 10 include
        the compilation)."""
        if self.data is not None and kept:
            self.score = self._validation()
        if not self.verbose or (index + 1) % 10:
            return
        # Probit's residuals are those of its latent normal targets.
        kind = "train rmse" if self.task == "regression" else "latent rmse"
        line = f"{self.chain}sweep {index + 1}: {kind} {rmse:.4f}"
        if self.score is not None:
            metric = "rmse" if self.task == "regression" else "auc"
            line += f", validation {metric} {self.score:.4f}"
        now = time.perf_counter()
        seconds, self.clock = (now - self.clock) / 10, now
        print(f"{line}, {seconds:.3f} s a sweep", flush=True)

    def _validation(self) -> float:
        data = self.data
        assert data is not None
        scores, _ = self.sweep.scores(
            tf.constant(data.rows), tf.constant(data.ids),
            tf.constant(data.values, tf.float64), data.num_rows, self.relations,
        )  # fmt: skip
        scores = scores.numpy()
        if self.task == "binary":
            scores = 0.5 * _erfc(-scores / np.sqrt(2.0))
        elif self.clip is not None:
            scores = np.clip(scores, *self.clip)
        self.total = (self.total if self.averaged else 0.0) + scores
        self.count = self.count + 1 if self.averaged else 1
        mean = self.total / self.count
        if self.task == "regression":
            return float(np.sqrt(np.mean((mean - data.labels) ** 2)))
        return _auc(data.labels > 0, mean)


def _erfc(x: np.ndarray) -> np.ndarray:
    return np.asarray(tf.math.erfc(tf.constant(x)).numpy())


def _auc(positive: np.ndarray, scores: np.ndarray) -> float:
    ranks = np.argsort(np.argsort(scores)) + 1
    count = positive.sum()
    return float(
        (ranks[positive].sum() - count * (count + 1) / 2)
        / max(count * (len(scores) - count), 1)
    )
