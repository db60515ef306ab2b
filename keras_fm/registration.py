"""Registration of keras_fm objects for loading without ``custom_objects``."""

from typing import TypeVar

import keras

T = TypeVar("T")

PACKAGE = "keras_fm"


def register(obj: T) -> T:
    """Registers a class or function under the ``keras_fm`` package.

    Registered objects serialize as ``"keras_fm>ClassName"`` and are found again
    by `keras.saving.load_model` and `keras.saving.deserialize_keras_object`
    with no ``custom_objects`` dict.

    Args:
        obj: The class or function to register.

    Returns:
        ``obj`` itself, so that ``register`` can be used as a decorator.
    """
    return keras.saving.register_keras_serializable(package=PACKAGE)(obj)
