"""keras_fm: factorization machines and their deep descendants for Keras 3."""

from keras_fm import console

if console.is_command():  # the keras-fm command only, see keras_fm.console
    console.import_tensorflow_quietly()

from keras_fm import data, datasets, features, layers, models, optimizers, ranking
from keras_fm.version import __version__

__all__ = [
    "__version__",
    "data",
    "datasets",
    "features",
    "layers",
    "models",
    "optimizers",
    "ranking",
]
