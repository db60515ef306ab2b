"""The keras_fm release version (read by ``pyproject.toml`` and ``keras-fm --version``)."""

__version__ = "0.1.0"
