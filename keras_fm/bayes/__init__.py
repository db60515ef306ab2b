"""Bayesian factorization machines: Gibbs sampling (MCMC) and alternating
least squares, with no learning rate or regularization to tune, returning
Keras models that serve the posterior predictive mean."""

from keras_fm.bayes.coloring import color_features
from keras_fm.bayes.fields import field_groups, field_rows
from keras_fm.bayes.gibbs import Hyperpriors
from keras_fm.bayes.learners import fit_als, fit_mcmc, posterior_model
from keras_fm.bayes.relations import Relation
from keras_fm.bayes.rows import SparseRows

__all__ = [
    "Hyperpriors",
    "Relation",
    "SparseRows",
    "color_features",
    "field_groups",
    "field_rows",
    "fit_als",
    "fit_mcmc",
    "posterior_model",
]
