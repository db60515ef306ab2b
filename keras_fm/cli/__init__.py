"""The ``keras-fm`` command line: a thin layer over the library.

One module per command: `parser` (every command's arguments; importing it
needs no TensorFlow, so ``--help`` is fast), `train`, `evaluate` (evaluate
and predict) and `export`, with `ranking` (the ranking task of train and
evaluate) and `run_folder` (what a model folder holds) beside them; `main`
runs one and reports.
"""

from keras_fm.cli.main import command, main
from keras_fm.cli.parser import build_parser

__all__ = ["build_parser", "command", "main"]
