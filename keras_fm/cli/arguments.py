"""The values the ``keras-fm`` arguments take, and their defaults per model."""

import argparse
import math
from typing import Any

from keras_fm.defaults import EMBEDDING_DIM, MODEL_DEFAULTS, TRAINING_DEFAULTS

FORMATS = ("libsvm", "libffm", "csv", "tfrecord")
# keras_fm.export.QUANTIZATIONS, repeated so that --help needs no TensorFlow.
QUANTIZATIONS = ("none", "dynamic", "float16", "int8")
MODELS = tuple(MODEL_DEFAULTS)
DNN_MODELS = tuple(name for name in MODELS if "dnn_units" in MODEL_DEFAULTS[name])
# `train` options and the builder argument each sets; an option given to a
# model whose builder lacks the argument is an error rather than unused.
MODEL_OPTIONS = {
    "embedding_dim": "embedding_dim",
    "dnn_units": "dnn_units",
    "cin_layer_sizes": "cin_layer_sizes",
    "dropout": "dropout",  # AFM: attention_dropout
    "l2": "embeddings_l2",
    "table_l2": "embeddings_regularizer",
}
# `train` options of --task ranking only, with their defaults.
RANKING_OPTIONS: dict[str, Any] = {
    "item_field": None,
    "item_features": "",
    "user_field": None,
    "num_negatives": 1,
    "num_candidates": 100,
}
# `train` options of --learner mcmc and als only, with their defaults.
BAYES_DEFAULTS: dict[str, Any] = {
    "sweeps": 200,
    "burn_in": 20,
    "thin": 1,
    "chains": 1,
    "init_stdev": 0.1,
}
EPOCHS = 100  # a maximum: early stopping ends the runs
PATIENCE = 2


def model_default(model: str, option: str) -> Any:
    """The default of a `train` option for ``model``; KeyError if it has none."""
    if option in TRAINING_DEFAULTS[model]:
        return TRAINING_DEFAULTS[model][option]
    defaults = MODEL_DEFAULTS[model]
    if option == "dropout" and model == "afm":
        return defaults["attention_dropout"]
    if option == "table_l2":
        regularizer = defaults["embeddings_regularizer"]
        return 2 * regularizer["config"]["l2"] if regularizer else 0.0
    value = defaults[MODEL_OPTIONS[option]]
    return list(value) if isinstance(value, tuple) else value


def defaults_table() -> str:
    """The per-model defaults of `train`, as lines for ``--help``."""
    options = (
        "learning_rate", "batch_size", "l2", "table_l2", "dropout",
        "dnn_units", "cin_layer_sizes",
    )  # fmt: skip
    lines = [
        f"defaults per model (every model: --embedding-dim {EMBEDDING_DIM}, "
        f"--epochs {EPOCHS} at most, --patience {PATIENCE}):"
    ]
    for model in MODELS:
        cells = []
        for option in options:
            try:
                value = model_default(model, option)
            except KeyError:
                continue
            if isinstance(value, list):
                value = ",".join(map(str, value)) or "none"
            cells.append(f"--{option.replace('_', '-')} {value}")
        lines.append(f"  {model:9} " + " ".join(cells))
    return "\n".join(lines)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_or_zero_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected a non-negative integer, got {text!r}"
        )
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected integers like 400,400, got {text!r}"
        ) from None


def l2_spec(text: str) -> float | dict[str, float]:
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


def fill_train_defaults(args: argparse.Namespace) -> None:
    """Fills the model and ranking options of ``--learner sgd`` in; an error
    names any left unused."""
    unused = []
    for option in (*MODEL_OPTIONS, "learning_rate", "batch_size"):
        given = getattr(args, option) is not None
        try:
            default = model_default(args.model, option)
        except KeyError:
            if given:
                unused.append(f"--{option.replace('_', '-')}")
            continue
        if not given:
            setattr(args, option, default)
    if unused:
        raise ValueError(f"{', '.join(unused)}: not an option of --model {args.model}")
    unused = [
        f"--{name.replace('_', '-')}"
        for name in RANKING_OPTIONS
        if getattr(args, name) is not None and args.task != "ranking"
    ]
    if unused:
        raise ValueError(f"{', '.join(unused)}: options of --task ranking only")
    for name, default in RANKING_OPTIONS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    unused = [
        f"--{name.replace('_', '-')}"
        for name in BAYES_DEFAULTS
        if getattr(args, name) is not None
    ]
    if unused:
        raise ValueError(f"{', '.join(unused)}: options of --learner mcmc or als")


def fill_bayes_defaults(args: argparse.Namespace) -> None:
    """Fills the options of ``--learner mcmc`` and ``als`` in; an error
    names any option given that the learner does not use."""
    mcmc_only = [
        f"--{name.replace('_', '-')}"
        for name in ("burn_in", "thin", "chains")
        if getattr(args, name) is not None
    ]
    if args.learner == "als" and mcmc_only:
        kind = "an option" if len(mcmc_only) == 1 else "options"
        raise ValueError(f"{', '.join(mcmc_only)}: {kind} of --learner mcmc")
    sgd_only = ("learning_rate", "batch_size", "epochs", "patience", *MODEL_OPTIONS)
    unused = [
        option
        for option in sgd_only
        if option != "embedding_dim" and getattr(args, option) is not None
    ]
    if args.learner == "als":  # its --l2 is its penalty
        unused = [option for option in unused if option != "l2"]
    if unused:
        names = ", ".join(f"--{option.replace('_', '-')}" for option in unused)
        kind = "not an option" if len(unused) == 1 else "not options"
        raise ValueError(f"{names}: {kind} of --learner {args.learner}")
    for name, default in BAYES_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
