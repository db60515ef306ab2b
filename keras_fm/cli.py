"""The ``keras-fm`` command line: a thin layer over the library."""

import argparse
import sys
from collections.abc import Sequence

from keras_fm.version import __version__


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser of the ``keras-fm`` command."""
    parser = argparse.ArgumentParser(
        prog="keras-fm",
        description=(
            "Factorization machines and their deep descendants (FFM, DeepFM, "
            "xDeepFM, ...) for Keras 3."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"keras-fm {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train, evaluate and export a model on generated data",
        description=(
            "Draw examples from a known factorization machine, train a model "
            "built from FMInteraction, FieldAwareFM and CIN, compare it on "
            "held-out data with the true model, and export it as a Keras file "
            "and a TF Serving SavedModel."
        ),
    )
    demo.add_argument(
        "--output-dir",
        default="keras_fm_demo",
        help="where to write the model (default: %(default)s)",
    )
    demo.add_argument(
        "--examples",
        type=_positive_int,
        default=100_000,
        help="examples to generate (default: %(default)s)",
    )
    demo.add_argument(
        "--epochs",
        type=_positive_int,
        default=20,
        help="maximum epochs (default: %(default)s)",
    )
    demo.add_argument(
        "--seed", type=int, default=0, help="random seed (default: %(default)s)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``keras-fm`` command and returns its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "demo":
        from keras_fm.demo import format_report, run_demo

        try:
            report = run_demo(
                output_dir=args.output_dir,
                num_examples=args.examples,
                epochs=args.epochs,
                seed=args.seed,
            )
        except (OSError, ValueError, RuntimeError) as error:
            print(f"keras-fm demo: error: {error}", file=sys.stderr)
            return 1
        print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
