"""Pictures of explanations, calibration and training runs (matplotlib,
the optional ``plots`` extra: ``pip install keras-fm[plots]``)."""

from keras_fm.plots.calibration import reliability_diagram
from keras_fm.plots.explain import field_bars, interaction_heatmap, waterfall
from keras_fm.plots.run import run_report

__all__ = [
    "field_bars",
    "interaction_heatmap",
    "reliability_diagram",
    "run_report",
    "waterfall",
]
