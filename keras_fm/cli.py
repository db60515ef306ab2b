"""The ``keras-fm`` command line: a thin layer over the library."""

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from keras_fm.version import __version__

FORMATS = ("libsvm", "libffm", "csv", "tfrecord")
# keras_fm.export.QUANTIZATIONS, repeated so that --help needs no TensorFlow.
QUANTIZATIONS = ("none", "dynamic", "float16", "int8")
MODELS = ("fm", "ffm", "deepfm", "xdeepfm", "afm", "autoint", "nfm", "hofm")
DNN_MODELS = ("deepfm", "xdeepfm", "nfm", "autoint")  # as keras_fm.commands
# `train` options that only some models use: (the models, the default). Given
# to another model, one is an error rather than silently unused.
MODEL_OPTIONS: dict[str, tuple[tuple[str, ...], Any]] = {
    "dnn_units": (DNN_MODELS, [400, 400, 400]),
    "cin_layer_sizes": (("xdeepfm",), [16, 16]),
    "dropout": ((*DNN_MODELS, "afm"), 0.0),
}
# `train` options of --task ranking only, with their defaults.
RANKING_OPTIONS: dict[str, Any] = {
    "item_field": None,
    "item_features": "",
    "user_field": None,
    "num_negatives": 1,
    "num_candidates": 100,
}


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


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected integers like 400,400, got {text!r}"
        ) from None


def _l2_spec(text: str) -> float | dict[str, float]:
    """`--l2`: a number, or NAME=VALUE pairs and a bare default (0.01,a=0.1)."""
    spec: dict[str, float] = {}
    try:
        for part in (p.strip() for p in text.split(",")):
            name, _, value = part.rpartition("=")
            key = name.strip() if "=" in part else "*"
            if not key or key in spec or not 0 <= float(value) < math.inf:
                raise ValueError
            spec[key] = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected a non-negative number (0.01) or feature=number pairs with "
            f"an optional default (0.01,user_id=0.1,item_id=0.1), got {text!r}"
        ) from None
    return spec["*"] if list(spec) == ["*"] else spec


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, required=True, help="file format")
    parser.add_argument("--batch-size", type=_positive_int, default=4096)


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
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's own log lines and warnings",
    )

    train = commands.add_parser(
        "train",
        help="train a model on libsvm, libffm, CSV or TFRecord files",
        parents=[common],
    )
    train.add_argument("--model", choices=MODELS, required=True)
    train.add_argument(
        "--train", nargs="+", required=True, help="training files or globs"
    )
    train.add_argument(
        "--valid", nargs="+", default=[], help="validation files (model selection)"
    )
    train.add_argument("--test", nargs="+", default=[], help="test files")
    train.add_argument(
        "--task", choices=("binary", "regression", "ranking"), required=True
    )
    train.add_argument(
        "--model-dir", required=True, help="where to write the model and metrics"
    )
    _add_data_arguments(train)
    train.add_argument(
        "--num-features",
        type=_positive_int,
        help="feature space size (default: from the data)",
    )
    train.add_argument(
        "--num-fields",
        type=_positive_int,
        help="number of fields (default: from the data)",
    )
    train.add_argument(
        "--fields-by-position",
        action="store_true",
        help="libsvm: pair k of each row is field k",
    )
    train.add_argument(
        "--label-column",
        help="CSV: the label column; TFRecord: the label feature (default: label)",
    )
    train.add_argument(
        "--numeric-columns", default="", help="CSV: comma-separated numeric columns"
    )
    train.add_argument("--field-delim", default=",", help="CSV: delimiter (default: ,)")
    train.add_argument(
        "--min-count",
        type=_positive_int,
        default=2,
        help="CSV, TFRecord: fewest occurrences for a value's own embedding row "
        "(default: %(default)s)",
    )
    ranking = train.add_argument_group(
        "ranking (--task ranking: BPR on the rows with label > 0)"
    )
    ranking.add_argument("--item-field", help="the input holding the item id")
    ranking.add_argument(
        "--item-features",
        help="comma-separated inputs that describe the item (negatives carry "
        "their own)",
    )
    ranking.add_argument(
        "--user-field", help="the user input (its known items are not negatives)"
    )
    ranking.add_argument(
        "--num-negatives", type=_positive_int, help="per positive (default: 1)"
    )
    ranking.add_argument(
        "--num-candidates",
        type=int,
        help="sampled items per held-out positive for HR@10/NDCG@10; 0 ranks "
        "against all items (default: 100)",
    )
    train.add_argument("--embedding-dim", type=_positive_int, default=10)
    train.add_argument(
        "--dnn-units",
        type=_int_list,
        help="deepfm, xdeepfm, nfm, autoint: hidden layers (default: 400,400,400)",
    )
    train.add_argument(
        "--cin-layer-sizes",
        type=_int_list,
        help="xdeepfm: feature maps per CIN layer (default: 16,16)",
    )
    train.add_argument(
        "--dropout",
        type=float,
        help="deepfm, xdeepfm, nfm, autoint: after each hidden layer; afm: on the "
        "attention weights (default: 0)",
    )
    train.add_argument(
        "--l2",
        type=_l2_spec,
        default=0.0,
        help="L2 on the latent vectors of each batch: a number, or per feature "
        "as name=number pairs, a bare number being the others' penalty "
        "(e.g. 0.01,user_id=0.1)",
    )
    train.add_argument("--epochs", type=_positive_int, default=20)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--patience", type=_positive_int, default=2)
    train.add_argument("--seed", type=int, default=0)
    restart = train.add_mutually_exclusive_group()
    restart.add_argument(
        "--restart",
        action="store_true",
        help="start an interrupted run over instead of resuming it",
    )
    restart.add_argument(
        "--overwrite",
        action="store_true",
        help="delete what --model-dir holds (a trained model, another run) first",
    )
    train.add_argument(
        "--cache",
        metavar="memory|PREFIX",
        help="keep the parsed training and validation batches after the first "
        "epoch, in memory or in files PREFIX-*; later epochs skip text parsing "
        "(the training shuffle then shuffles whole batches)",
    )

    evaluate = commands.add_parser(
        "evaluate", parents=[common], help="metrics of a trained model on files"
    )
    evaluate.add_argument("--model-dir", required=True)
    evaluate.add_argument("--data", nargs="+", required=True)
    _add_data_arguments(evaluate)

    predict = commands.add_parser(
        "predict", parents=[common], help="one prediction per input row, in order"
    )
    predict.add_argument("--model-dir", required=True)
    predict.add_argument("--data", nargs="+", required=True)
    predict.add_argument("--output", required=True)
    _add_data_arguments(predict)

    export = commands.add_parser(
        "export",
        parents=[common],
        help="export a trained model for TF Serving (and TFLite)",
        description=(
            "Write the model in --model-dir as version N of a TF Serving model "
            "base path (signatures serving_default and examples, warm-up "
            "records), and optionally as a TFLite file with built-in ops only."
        ),
    )
    export.add_argument("--model-dir", required=True)
    export.add_argument(
        "--saved-model", required=True, metavar="BASE", help="TF Serving base path"
    )
    export.add_argument(
        "--version",
        type=int,
        help="version number (default: one more than the highest present)",
    )
    export.add_argument(
        "--overwrite", action="store_true", help="replace an existing version"
    )
    export.add_argument("--tflite", metavar="FILE", help="also write a .tflite file")
    export.add_argument(
        "--quantize", choices=QUANTIZATIONS, default="none", help="TFLite only"
    )
    export.add_argument(
        "--sample-data",
        nargs="+",
        default=[],
        metavar="PATHS",
        help="files in the model's format: warm-up rows, and int8 calibration",
    )

    demo = commands.add_parser(
        "demo",
        parents=[common],
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


def _one_line(error: BaseException) -> str:
    """A readable single line for any error, malformed-input ones included."""
    text = str(getattr(error, "message", None) or error)
    found = re.search(r"keras_fm: malformed input: [^\]\n]*", text)
    if found:
        return found.group(0).rstrip("'\" ")
    return " ".join(text.split())[:500] or type(error).__name__


def _train_defaults(args: argparse.Namespace) -> None:
    """Fills the model and ranking options in; an error names any left unused."""
    unused = [
        f"--{name.replace('_', '-')}"
        for name, (models, _) in MODEL_OPTIONS.items()
        if getattr(args, name) is not None and args.model not in models
    ]
    if unused:
        raise ValueError(f"{', '.join(unused)}: not an option of --model {args.model}")
    unused = [
        f"--{name.replace('_', '-')}"
        for name in RANKING_OPTIONS
        if getattr(args, name) is not None and args.task != "ranking"
    ]
    if unused:
        raise ValueError(f"{', '.join(unused)}: options of --task ranking only")
    defaults = {name: default for name, (_, default) in MODEL_OPTIONS.items()}
    for name, default in {**defaults, **RANKING_OPTIONS}.items():
        if getattr(args, name) is None:
            setattr(args, name, default)


def _quiet_keras() -> None:
    """Hides the TensorFlow Python logs and the Keras warnings that do not
    apply to the command's own ``fit`` calls (TensorFlow's start-up lines are
    hidden by `keras_fm.console`)."""
    import warnings

    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    for message in ("`shuffle=True` was passed", "Your input ran out of data"):
        warnings.filterwarnings("ignore", message=message)


def _run(args: argparse.Namespace) -> Any:
    if not args.verbose:
        _quiet_keras()
    from keras_fm import commands

    if args.command == "demo":
        from keras_fm.demo import format_report, run_demo

        report = run_demo(args.output_dir, args.examples, args.epochs, seed=args.seed)
        print(format_report(report))
        return None
    if args.command == "train":
        from keras_fm.data.formats import DataFormat

        _train_defaults(args)
        data_format = DataFormat(
            args.format,
            num_features=args.num_features,
            num_fields=args.num_fields,
            fields_by_position=args.fields_by_position,
            label_column=args.label_column,
            numeric_columns=[c for c in args.numeric_columns.split(",") if c],
            field_delim=args.field_delim,
            min_count=args.min_count,
        )
        return commands.train(
            args.model,
            data_format,
            args.train,
            args.model_dir,
            args.task,
            valid_paths=args.valid,
            test_paths=args.test,
            embedding_dim=args.embedding_dim,
            dnn_units=args.dnn_units,
            cin_layer_sizes=args.cin_layer_sizes,
            dropout=args.dropout,
            l2=args.l2,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            patience=args.patience,
            seed=args.seed,
            cache=True if args.cache == "memory" else (args.cache or False),
            restart=args.restart,
            overwrite=args.overwrite,
            ranking={
                "item_field": args.item_field,
                "item_features": [f for f in args.item_features.split(",") if f],
                "user_field": args.user_field,
                "num_negatives": args.num_negatives,
                "num_candidates": args.num_candidates or None,
            }
            if args.task == "ranking"
            else None,
        )
    if args.command == "export":
        return commands.export(
            args.model_dir,
            args.saved_model,
            version=args.version,
            overwrite=args.overwrite,
            tflite=args.tflite,
            quantize=args.quantize,
            sample_data=args.sample_data,
        )
    if args.command == "evaluate":
        _check_format(args)
        return commands.evaluate(args.model_dir, args.data, args.batch_size)
    _check_format(args)
    count = commands.predict(args.model_dir, args.data, args.output, args.batch_size)
    return {"predictions": count, "output": args.output}


def _check_format(args: argparse.Namespace) -> None:
    run = os.path.join(args.model_dir, "run.json")
    if os.path.isfile(run):
        with open(run) as handle:
            trained = json.load(handle)["data_format"]["format"]
        if trained != args.format:
            raise ValueError(
                f"the model in {args.model_dir} was trained on {trained} data, "
                f"not {args.format}"
            )


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
        print(f"keras-fm {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 1
    if result is not None:
        print(json.dumps(result, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
