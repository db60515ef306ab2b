"""``python -m keras_fm`` runs the ``keras-fm`` command."""

from keras_fm.cli import command

command()
