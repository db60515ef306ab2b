"""The keras_fm release version, read by the build and by ``keras-fm --version``."""

__version__ = "0.1.0"
