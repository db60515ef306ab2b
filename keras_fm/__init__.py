"""keras_fm: factorization machines and their deep descendants for Keras 3."""

from keras_fm import console
from keras_fm.version import __version__

if not console.is_command():
    # The keras-fm command imports these (and TensorFlow) once its arguments
    # parse, so that --help, --version and argument errors are immediate
    # (`keras_fm.console.load_package`).
    from keras_fm import data, datasets, features, layers, models, optimizers, ranking

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
