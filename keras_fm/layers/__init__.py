"""Interaction and embedding layers of the factorization machine family."""

from keras_fm.layers.afm_interaction import AFMInteraction
from keras_fm.layers.anova_interaction import ANOVAInteraction
from keras_fm.layers.cin import CIN
from keras_fm.layers.dropout import Dropout
from keras_fm.layers.field_aware_embedding import FieldAwareEmbedding
from keras_fm.layers.field_aware_fm import FieldAwareFM
from keras_fm.layers.field_embedding import FieldEmbedding
from keras_fm.layers.field_ids import FieldIds
from keras_fm.layers.fm_interaction import FMInteraction
from keras_fm.layers.global_batch_normalization import GlobalBatchNormalization
from keras_fm.layers.interacting_layer import InteractingLayer
from keras_fm.layers.platt_scaling import PlattScaling
from keras_fm.layers.posterior_fm import PosteriorFM
from keras_fm.layers.sparse_fm import SparseFM

__all__ = [
    "CIN",
    "AFMInteraction",
    "ANOVAInteraction",
    "Dropout",
    "FMInteraction",
    "FieldAwareEmbedding",
    "FieldAwareFM",
    "FieldEmbedding",
    "FieldIds",
    "GlobalBatchNormalization",
    "InteractingLayer",
    "PlattScaling",
    "PosteriorFM",
    "SparseFM",
]
