"""The defaults of every model, in one table.

The builders take their keyword defaults from `MODEL_DEFAULTS`,
`compile_for_task` and ``keras-fm train`` their learning rate (and the CLI its
batch size) from `TRAINING_DEFAULTS`, so a model built with no arguments and
one trained with no flags are the same model, trained the same way.

Where the settings come from (frappe, test AUC, one seed unless said; the
README's accuracy table has the figures these defaults reach):

- FM, FFM, HOFM: libFM's regularization, an L2 penalty on the vectors of the
  features of each batch (free for the rows a batch does not use, so it scales
  to any vocabulary), with Adam at 1e-2 on batches of 1024. On frappe's raw
  rows at k = 64 it passed test AUC 0.974 in 3 epochs; Adam at 1e-3 on batches
  of 4096, the former default, needed 115 epochs (at k = 10, with a whole-table
  L2) to reach 0.969. Two changes that helped frappe alone were left out, as
  each cost MovieLens 100K (FM regression, user + item, mean test RMSE of the
  five folds, 0.9272 with these defaults): batches of 512 (frappe, k = 64:
  0.9817 against 0.9811, and 0.980 after 4 epochs; ml-100k 0.9347) and
  libFM's initialization N(0, 0.1) (frappe, k = 64: 0.9825, 0.9801 after 3
  epochs against 0.9760; ml-100k 0.9375).
- The deep models: the BARS Frappe_x1 settings (FuxiCTR's whole-table L2 on
  embeddings and first-order weights, ``lambda / 2 * ||W||^2`` at every step,
  initializer N(0, 1e-4), batch norm, dropout, Adam at 1e-3, batches of 4096):
  without them DeepFM reached 0.970 where it now reaches 0.9832 (mean of 3
  seeds). The whole-table penalty updates every row of a table at each step,
  which the dense optimizer that `compile_for_task` picks for tables up to
  `DENSE_UPDATE_ENTRIES` entries does anyway; past that, the row-sparse
  optimizer it picks applies the penalty to the rows each step updates
  (`keras_fm.optimizers.row_penalties`), so that a step costs the batch's
  rows (frappe, DeepFM so trained: test AUC 0.9819).
"""

from typing import Any

EMBEDDING_DIM = 10


def table_l2(strength: float) -> dict[str, Any] | None:
    """FuxiCTR's ``embedding_regularizer`` of strength ``lambda`` as a Keras one.

    Args:
        strength: float. FuxiCTR's lambda (BARS's ``embedding_regularizer``).

    Returns:
        The config of `keras.regularizers.L2(lambda / 2)` (a fresh object per
        layer once deserialized), or None for 0.
    """
    if not strength:
        return None
    return {"class_name": "L2", "config": {"l2": strength / 2}}


def normal(stddev: float) -> dict[str, Any]:
    """The config of `keras.initializers.RandomNormal(stddev=stddev)`."""
    return {"class_name": "RandomNormal", "config": {"stddev": stddev}}


def _fm_family(**options: Any) -> dict[str, Any]:
    return {
        "embedding_dim": EMBEDDING_DIM,
        "embeddings_l2": 0.005,
        "embeddings_regularizer": None,
        "weights_regularizer": None,
        "embeddings_initializer": normal(0.01),
        "use_first_order": True,
        **options,
    }


def _deep(strength: float, **options: Any) -> dict[str, Any]:
    return {
        "embedding_dim": EMBEDDING_DIM,
        "embeddings_l2": 0.0,
        "embeddings_regularizer": table_l2(strength),
        "weights_regularizer": table_l2(strength),
        "embeddings_initializer": normal(1e-4),
        **options,
    }


_DNN = {
    "dnn_units": (400, 400, 400),
    "dnn_activation": "relu",
    "dropout": 0.2,
    "batch_norm": True,
    # bfloat16 products where the CPU multiplies them natively
    # (`keras_fm.models.dnn_precision`).
    "dnn_dtype": "auto",
}
_AUTOINT = {
    "num_layers": 3,
    "num_heads": 2,
    "head_dim": 16,
    "use_residual": True,
    "use_scale": True,
    "use_layer_norm": True,
}

# Each builder's keyword defaults (`BUILDERS[name]`), lambdas as in BARS.
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "fm": _fm_family(),
    # FFM: 0.003 per batch. On frappe, test AUC 0.9811 (0.01: 0.9778; BARS's
    # settings: 0.9762 in 76 epochs); on data from a known FFM and a known FM
    # (`examples/benchmarks/accuracy_synthetic.py`), 0.02 above the floor's
    # log loss, where 0.01 shrank the field-aware vectors to 0 (0.06 above).
    "ffm": _fm_family(num_buckets=None, embeddings_l2=0.003),
    "hofm": _fm_family(order=3),
    "deepfm": _deep(0.05, use_first_order=True, **_DNN),
    # BARS xDeepFM_frappe_x1: one CIN layer of 64 maps, not split.
    "xdeepfm": _deep(
        0.1,
        use_first_order=True,
        cin_layer_sizes=(64,),
        cin_split_half=False,
        **_DNN,
    ),
    # The DeepFM settings: BARS has no NFM run on frappe.
    "nfm": _deep(0.05, use_first_order=True, **_DNN),
    # BARS AFM_frappe_x1, experiment 011: attention 128, attention dropout 0.1.
    "afm": _deep(
        1e-5,
        use_first_order=True,
        attention_units=128,
        attention_dropout=0.1,
        attention_l2=0.0,
    ),
    # AutoInt alone (no DNN), with AutoInt+'s layers.
    "autoint": _deep(0.1, **_AUTOINT, **{**_DNN, "dnn_units": (), "dropout": 0.0}),
    # BARS AutoInt+_frappe_x1: 5 interacting layers of 4 heads x 32 with
    # scaled attention and layer norm, DNN 400x3, dropout 0.1, lambda 0.1.
    "autoint+": _deep(
        0.1,
        **{**_AUTOINT, "num_layers": 5, "num_heads": 4, "head_dim": 32},
        **{**_DNN, "dropout": 0.1},
    ),
}

# How each model trains: Adam's learning rate, and the CLI's batch size.
TRAINING_DEFAULTS: dict[str, dict[str, Any]] = {
    name: (
        {"learning_rate": 1e-2, "batch_size": 1024}
        if name in ("fm", "ffm", "hofm")
        else {"learning_rate": 1e-3, "batch_size": 4096}
    )
    for name in MODEL_DEFAULTS
}
# AFM on frappe: test AUC 0.9683 on batches of 1024 (mean of seeds 0, 1, 2;
# 19 to 37 epochs), against 0.9657 in 55 epochs (seed 0) on BARS's 4096.
TRAINING_DEFAULTS["afm"] = {"learning_rate": 1e-3, "batch_size": 1024}
TRAINING_DEFAULTS["sparse_fm"] = TRAINING_DEFAULTS["fm"]
TRAINING_DEFAULTS["autoint_plus"] = TRAINING_DEFAULTS["autoint+"]  # its model name
# A model not built by a builder of this package.
FALLBACK_TRAINING = {"learning_rate": 1e-3, "batch_size": 4096}


def training_defaults(model_name: str) -> dict[str, Any]:
    """The learning rate and batch size of a model built as ``model_name``.

    Args:
        model_name: the name the builders give their models: a key of
            `MODEL_DEFAULTS`, `"sparse_fm"` or `"autoint_plus"`.

    Returns:
        ``{"learning_rate": ..., "batch_size": ...}``; Adam's 1e-3 and 4096
        for another name.
    """
    return dict(TRAINING_DEFAULTS.get(model_name, FALLBACK_TRAINING))
