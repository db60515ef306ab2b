"""The values the ``keras-fm`` arguments take (no TensorFlow needed)."""

import argparse
import math
from typing import Any

FORMATS = ("libsvm", "libffm", "csv", "tfrecord")
# keras_fm.export.QUANTIZATIONS, repeated so that --help needs no TensorFlow.
QUANTIZATIONS = ("none", "dynamic", "float16", "int8")
MODELS = ("fm", "ffm", "deepfm", "xdeepfm", "afm", "autoint", "nfm", "hofm")
DNN_MODELS = ("deepfm", "xdeepfm", "nfm", "autoint")
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
