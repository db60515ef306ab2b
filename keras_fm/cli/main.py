"""``keras-fm``: parses the command line, runs one command, reports."""

import argparse
import atexit
import os
import sys
from collections.abc import Sequence
from typing import Any

from keras_fm import console
from keras_fm.cli.output import one_line, to_json
from keras_fm.cli.parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``keras-fm`` command and returns its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        result = _run(args)
    except Exception as error:  # the CLI reports every error on one line
        print(f"keras-fm {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 1
    if result is not None:
        print(to_json(result, indent=None))
    return 0


def command() -> None:
    """The ``keras-fm`` executable: `main`, then a quick exit.

    Once a command that loaded TensorFlow has run (its files written and
    closed), the process runs Python's exit handlers and ends without the
    interpreter's teardown of TensorFlow's modules and threads, which took
    about 1 s after ``keras-fm train`` on frappe.
    """
    code = main()
    if "tensorflow" not in sys.modules:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()  # what Python's own exit runs first
    os._exit(code)


def _run(args: argparse.Namespace) -> Any:
    """Runs the command's module (imported here: TensorFlow loads only now)."""
    console.load_package()
    if not args.verbose:
        _quiet_keras()
    if args.command == "demo":
        from keras_fm.demo import format_report, run_demo

        report = run_demo(args.output_dir, args.examples, args.epochs, seed=args.seed)
        print(format_report(report))
        return None
    if args.command == "train":
        from keras_fm.cli import train

        return train.run(args)
    if args.command == "export":
        from keras_fm.cli import export

        return export.run(args)
    if args.command == "explain":
        from keras_fm.cli import explain

        return explain.run(args)
    if args.command == "report":
        from keras_fm.cli import report as report_command

        return report_command.run(args)
    from keras_fm.cli import evaluate

    if args.command == "evaluate":
        return evaluate.run_evaluate(args)
    return evaluate.run_predict(args)


def _quiet_keras() -> None:
    """Hides the TensorFlow Python logs and the Keras warnings that do not
    apply to the command's own ``fit`` calls (TensorFlow's start-up lines are
    hidden by `keras_fm.console`)."""
    import warnings

    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    for message in ("`shuffle=True` was passed", "Your input ran out of data"):
        warnings.filterwarnings("ignore", message=message)


if __name__ == "__main__":
    command()
