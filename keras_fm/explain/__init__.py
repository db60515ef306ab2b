"""Exact explanations of the FM family's scores (`attributions`)."""

from keras_fm.explain.attributions import Attributions, attributions

__all__ = ["Attributions", "attributions"]
