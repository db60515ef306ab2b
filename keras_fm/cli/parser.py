"""The arguments of every ``keras-fm`` command (no TensorFlow needed)."""

import argparse
from typing import Any

from keras_fm.cli.arguments import (
    BAYES_DEFAULTS,
    EPOCHS,
    FORMATS,
    MODELS,
    PATIENCE,
    QUANTIZATIONS,
    defaults_table,
    int_list,
    l2_spec,
    positive_float,
    positive_int,
    positive_or_zero_int,
)
from keras_fm.version import __version__


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
    for add in (_train, _evaluate, _predict, _export, _explain, _report, _demo):
        add(commands, common)
    return parser


def _data_arguments(parser: argparse.ArgumentParser, batch_size: Any = 4096) -> None:
    parser.add_argument("--format", choices=FORMATS, required=True, help="file format")
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=batch_size,
        help="rows per batch (default: %s)" % (batch_size or "per model, below"),
    )


def _train(commands: Any, common: argparse.ArgumentParser) -> None:
    train = commands.add_parser(
        "train",
        help="train a model on libsvm, libffm, CSV or TFRecord files",
        parents=[common],
        epilog=defaults_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _train_data(train)
    _train_ranking(train)
    _train_model(train)
    _train_run(train)
    _train_learner(train)


def _train_data(train: argparse.ArgumentParser) -> None:
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
    _data_arguments(train, batch_size=None)
    train.add_argument(
        "--num-features",
        type=positive_int,
        help="feature space size (default: from the data)",
    )
    train.add_argument(
        "--num-fields",
        type=positive_int,
        help="number of fields (default: from the data)",
    )
    train.add_argument(
        "--fields-by-position",
        action="store_true",
        help="libsvm: pair k of each row is field k",
    )
    train.add_argument(
        "--label-column",
        help="CSV: the label column (required); TFRecord: the label feature "
        "(default: label)",
    )
    train.add_argument(
        "--numeric-columns", default="", help="CSV: comma-separated numeric columns"
    )
    train.add_argument("--field-delim", default=",", help="CSV: delimiter (default: ,)")
    train.add_argument(
        "--min-count",
        type=positive_int,
        default=2,
        help="CSV, TFRecord: fewest occurrences for a value's own embedding row "
        "(default: %(default)s)",
    )


def _train_ranking(train: argparse.ArgumentParser) -> None:
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
        "--num-negatives", type=positive_int, help="per positive (default: 1)"
    )
    ranking.add_argument(
        "--num-candidates",
        type=int,
        help="sampled items per held-out positive for HR@10/NDCG@10; 0 ranks "
        "against all items (default: 100)",
    )


def _train_model(train: argparse.ArgumentParser) -> None:
    train.add_argument(
        "--embedding-dim", type=positive_int, help="size of the latent vectors"
    )
    train.add_argument(
        "--dnn-units",
        type=int_list,
        help='deepfm, xdeepfm, nfm, autoint, autoint+: hidden layers ("" for none)',
    )
    train.add_argument(
        "--cin-layer-sizes", type=int_list, help="xdeepfm: feature maps per CIN layer"
    )
    train.add_argument(
        "--dropout",
        type=float,
        help="deep models: after each hidden layer; afm: on the attention weights",
    )
    train.add_argument(
        "--l2",
        type=l2_spec,
        help="L2 on the latent vectors of each batch (libFM's): a number, or per "
        "feature as name=number pairs, a bare number being the others' penalty "
        "(e.g. 0.01,user_id=0.1); with --learner als, its penalty on w and v "
        "(default 1)",
    )
    train.add_argument(
        "--table-l2",
        type=float,
        metavar="LAMBDA",
        help="L2 on the whole embedding and first-order tables at every step "
        "(FuxiCTR's embedding_regularizer: adds LAMBDA/2 * ||W||^2); on "
        "tables of over 2e6 entries, on the rows each step updates",
    )


def _train_learner(train: argparse.ArgumentParser) -> None:
    learner = train.add_argument_group(
        "Bayesian FM (--model fm, libsvm rows; keras_fm.bayes)"
    )
    learner.add_argument(
        "--learner",
        "--method",
        dest="learner",
        choices=("sgd", "mcmc", "als"),
        default="sgd",
        help="sgd: Keras's fit (default); mcmc: Gibbs sampling, with no learning "
        "rate or regularization to tune, serving the posterior mean; als: "
        "alternating least squares. mcmc and als default to --embedding-dim 8. "
        "--method is libFM's name for it",
    )
    learner.add_argument(
        "--sweeps", "--iterations", dest="sweeps", type=positive_int,
        help=f"sweeps over every parameter (default: {BAYES_DEFAULTS['sweeps']})",
    )  # fmt: skip
    learner.add_argument(
        "--burn-in", type=positive_or_zero_int,
        help="mcmc: first sweeps whose samples are dropped "
        f"(default: {BAYES_DEFAULTS['burn_in']})",
    )  # fmt: skip
    learner.add_argument(
        "--thin", type=positive_int,
        help="mcmc: keep every N-th sample; the model holds them all "
        f"(default: {BAYES_DEFAULTS['thin']})",
    )  # fmt: skip
    learner.add_argument(
        "--chains", type=positive_int,
        help="mcmc: independent chains of --sweeps each, from seeds --seed, "
        "--seed + 1, ...; the model averages all their samples, which explores "
        "the posterior better than one chain of as many sweeps "
        f"(default: {BAYES_DEFAULTS['chains']})",
    )  # fmt: skip
    learner.add_argument(
        "--init-stdev", type=positive_float,
        help="standard deviation of the initial latent vectors "
        f"(default: {BAYES_DEFAULTS['init_stdev']})",
    )  # fmt: skip


def _train_distribute(train: argparse.ArgumentParser) -> None:
    train.add_argument(
        "--distribute",
        choices=("mirrored", "multi-worker"),
        help="train on several devices: every local GPU (mirrored), or every "
        "process of a cluster, each running this same command with its own "
        "TF_CONFIG (multi-worker); --batch-size is the global batch",
    )
    train.add_argument(
        "--devices",
        type=positive_int,
        help="with --distribute mirrored: N logical CPU devices instead of the "
        "GPUs (to try it on one machine)",
    )


def _train_run(train: argparse.ArgumentParser) -> None:
    train.add_argument(
        "--epochs",
        type=positive_int,
        help="the most epochs; early stopping on the validation metric ends a "
        f"run before (default: {EPOCHS})",
    )
    train.add_argument("--learning-rate", type=float, help="Adam's learning rate")
    train.add_argument(
        "--patience",
        type=positive_int,
        help="epochs without progress before stopping; the learning rate is "
        f"divided by 10 after each (default: {PATIENCE})",
    )
    train.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    train.add_argument(
        "--calibrate",
        choices=("platt", "temperature"),
        help="binary: fit Platt (scale and shift) or temperature scaling of the "
        "logit on --valid after training, into the saved model",
    )
    _train_distribute(train)
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
        metavar="auto|memory|none|PREFIX",
        default="auto",
        help="keep the parsed training and validation batches after the first "
        "epoch, in memory or in files PREFIX-*, so that later epochs skip text "
        "parsing (its rows are shuffled into new batches every epoch); auto: "
        "in memory when the files hold at most 512 MiB "
        "(default: %(default)s)",
    )


def _evaluate(commands: Any, common: argparse.ArgumentParser) -> None:
    evaluate = commands.add_parser(
        "evaluate", parents=[common], help="metrics of a trained model on files"
    )
    evaluate.add_argument("--model-dir", required=True)
    evaluate.add_argument("--data", nargs="+", required=True)
    evaluate.add_argument(
        "--reliability",
        metavar="PNG",
        help="binary: also draw the reliability diagram (needs keras-fm[plots])",
    )
    _data_arguments(evaluate)


def _predict(commands: Any, common: argparse.ArgumentParser) -> None:
    predict = commands.add_parser(
        "predict", parents=[common], help="one prediction per input row, in order"
    )
    predict.add_argument("--model-dir", required=True)
    predict.add_argument("--data", nargs="+", required=True)
    predict.add_argument("--output", required=True)
    _data_arguments(predict)


def _export(commands: Any, common: argparse.ArgumentParser) -> None:
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
        "--explain",
        action="store_true",
        help="add the 'explain' signature: each score's per-field attributions",
    )
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


def _explain(commands: Any, common: argparse.ArgumentParser) -> None:
    explain = commands.add_parser(
        "explain",
        parents=[common],
        help="per-field attributions of a trained model's scores",
        description=(
            "Split each score of --data's first --rows rows into the bias, one "
            "part per field and the rest (exact Shapley values for FM, FFM and "
            "HOFM), and write them with the global tables (mean |field|, mean "
            "|pair|) and their pictures into --output."
        ),
    )
    explain.add_argument("--model-dir", required=True)
    explain.add_argument("--data", nargs="+", required=True)
    explain.add_argument("--output", required=True, metavar="DIR")
    explain.add_argument(
        "--rows",
        type=positive_int,
        default=10_000,
        help="rows to explain, from the start (default: %(default)s)",
    )
    explain.add_argument(
        "--deep",
        choices=("rest", "integrated_gradients"),
        default="rest",
        help="the deep terms (DNN, CIN, attention): whole in 'rest', or split "
        "by field with integrated gradients, an approximation whose error the "
        "summary reports (default: %(default)s)",
    )
    _data_arguments(explain)


def _report(commands: Any, common: argparse.ArgumentParser) -> None:
    report = commands.add_parser(
        "report",
        parents=[common],
        help="draw a training run's report.png again",
        description=(
            "Draw loss and the watched metric per epoch (train and validation, "
            "learning-rate changes marked) from the run's history.csv into "
            "report.png (needs keras-fm[plots])."
        ),
    )
    report.add_argument("--model-dir", required=True)


def _demo(commands: Any, common: argparse.ArgumentParser) -> None:
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
        type=positive_int,
        default=100_000,
        help="examples to generate (default: %(default)s)",
    )
    demo.add_argument(
        "--epochs",
        type=positive_int,
        default=20,
        help="maximum epochs (default: %(default)s)",
    )
    demo.add_argument(
        "--seed", type=int, default=0, help="random seed (default: %(default)s)"
    )
