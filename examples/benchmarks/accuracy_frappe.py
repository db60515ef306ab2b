"""Test AUC and log loss of the model zoo on frappe, next to published figures.

Protocol of the BARS Frappe_x1 benchmark (binary task, labels -1 -> 0): train
on the training file, select on the validation file, report the test file;
embedding 10 initialised N(0, 1e-4), DNN 400x3 with batch norm (the
library's: PyTorch's momentum and epsilon) and dropout 0.2, Adam 1e-3
(`compile_for_task`'s default for frappe's table size, under XLA), batch
4096, FuxiCTR's whole-table L2 on the embeddings with the BARS lambda of
each model, early stopping on validation AUC (patience 2)
with the learning rate divided by 10 on each plateau. Fields are assigned by
position (frappe rows hold one feature per field).

Published figures (test AUC / log loss):
- FM: 0.967108 / 0.206515, BARS FM on Frappe_x1 (as quoted in
  ../shared/data/frappe/SOURCE.md);
- DeepFM: 0.983947 / 0.149462, mean of 5 runs, BARS DeepFM_frappe_x1 README;
- xDeepFM: 0.984138 / 0.146125, mean of 5 runs, BARS xDeepFM_frappe_x1 README;
- FFM: 0.978620 / 0.186032, BARS FFM_frappe_x1 log of experiment 007;
- AFM: 0.969733 / 0.226424, BARS AFM_frappe_x1 log of experiment 011;
- AutoInt+: 0.984812 / 0.149007, BARS AutoInt+_frappe_x1 README.
frappe's training file here is rebuilt (its negatives are re-sampled, see
SOURCE.md), so differences of a few 1e-3 are noise.

Usage: python examples/benchmarks/accuracy_frappe.py [--data DIR] [--models fm,deepfm]
       [--seed N]
"""

import argparse
import time
from pathlib import Path

import keras
import tensorflow as tf

from keras_fm.data import position_features, read_libsvm, split_positions
from keras_fm.models import BUILDERS, compile_for_task
from keras_fm.training import training_callbacks

FIELDS, FEATURES, TRAIN_ROWS = 10, 5382, 202_027
PUBLISHED = {
    "fm": (0.967108, 0.206515),
    "deepfm": (0.983947, 0.149462),
    "xdeepfm": (0.984138, 0.146125),
    "ffm": (0.978620, 0.186032),
    "afm": (0.969733, 0.226424),
    "autoint": (0.984812, 0.149007),
}
INIT = keras.initializers.RandomNormal(stddev=1e-4)


def whole_table_l2(fuxictr_lambda):
    """FuxiCTR's embedding regularizer: lambda / 2 * ||table||^2 at every step."""
    return keras.regularizers.L2(fuxictr_lambda / 2)


# The BARS configurations of each model (regularizer, dropout, batch norm, CIN).
SETTINGS = {
    "fm": {
        "embeddings_regularizer": whole_table_l2(5e-6),
        "embeddings_initializer": INIT,
    },
    "deepfm": {
        "embeddings_regularizer": whole_table_l2(0.05),
        "embeddings_initializer": INIT,
        "dropout": 0.2,
        "batch_norm": True,
    },
    "xdeepfm": {
        "embeddings_regularizer": whole_table_l2(0.1),
        "embeddings_initializer": INIT,
        "dropout": 0.2,
        "batch_norm": True,
        "cin_layer_sizes": (64,),
        "cin_split_half": False,
    },
    # BARS FFM_frappe_x1 (tuner config 01, experiment 007): lambda 1e-6.
    "ffm": {
        "embeddings_regularizer": whole_table_l2(1e-6),
        "embeddings_initializer": INIT,
    },
    # The DeepFM settings carried over.
    "nfm": {
        "embeddings_regularizer": whole_table_l2(0.05),
        "embeddings_initializer": INIT,
        "dnn_units": (400, 400, 400),
        "dropout": 0.2,
        "batch_norm": True,
    },
    # BARS AFM_frappe_x1 (experiment 011): lambda 1e-5, attention 128,
    # attention dropout 0.1.
    "afm": {
        "embeddings_regularizer": whole_table_l2(1e-5),
        "embeddings_initializer": INIT,
        "attention_units": 128,
        "dropout": 0.1,
    },
    # BARS AutoInt+_frappe_x1: lambda 0.1, 5 interacting layers of 4 heads x 32
    # with scaled attention and layer norm, DNN dropout 0.1.
    "autoint": {
        "embeddings_regularizer": whole_table_l2(0.1),
        "embeddings_initializer": INIT,
        "dnn_units": (400, 400, 400),
        "dropout": 0.1,
        "batch_norm": True,
        "num_layers": 5,
        "num_heads": 4,
        "head_dim": 32,
        "use_scale": True,
        "use_layer_norm": True,
    },
}


def frappe(path, shuffle, seed=2021):
    """frappe's rows as field inputs, parsed once and cached; reshuffled per epoch."""
    dataset = read_libsvm(path, task="binary", batch_size=4096, num_features=FEATURES)
    dataset = dataset.map(split_positions(FIELDS), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.cache()
    if shuffle:
        dataset = (
            dataset.unbatch()
            .shuffle(250_000, seed=seed, reshuffle_each_iteration=True)
            .batch(4096)
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[3] / "shared" / "data"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--models", default="fm,deepfm,xdeepfm")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument(
        "--seed", type=int, default=2021, help="initialization and shuffling seed"
    )
    args = parser.parse_args()
    folder = args.data / "frappe"
    if not (folder / "frappe.validation.libfm").exists():
        raise SystemExit(f"frappe is absent: {folder} (see its SOURCE.md)")
    train = frappe(
        folder / "frappe.train.reconstructed.libfm", shuffle=True, seed=args.seed
    )
    valid = frappe(folder / "frappe.validation.libfm", shuffle=False)
    test = frappe(folder / "frappe.test.libfm", shuffle=False)
    features = position_features(FIELDS, FEATURES)

    header = f"{'model':10}{'epochs':>7}{'time s':>8}{'ex/s':>9}{'val AUC':>9}"
    header += f"{'test AUC':>10}{'test logloss':>14}{'published AUC / logloss':>26}"
    print(header, flush=True)
    for name in args.models.split(","):
        keras.utils.set_random_seed(args.seed)
        model = BUILDERS[name](
            features, embedding_dim=10, task="binary", **SETTINGS[name]
        )
        compile_for_task(model, "binary")  # the defaults: Adam 1e-3 (+ XLA)
        start = time.perf_counter()
        history = model.fit(
            train,
            validation_data=valid,
            epochs=args.epochs,
            callbacks=training_callbacks(monitor="val_auc", mode="max", patience=2),
            verbose=0,
        )
        seconds = time.perf_counter() - start
        epochs = len(history.history["loss"])
        valid_auc = model.evaluate(valid, verbose=0, return_dict=True)["auc"]
        test_scores = model.evaluate(test, verbose=0, return_dict=True)
        published = PUBLISHED.get(name)
        reference = f"{published[0]:.4f} / {published[1]:.4f}" if published else "-"
        print(
            f"{name:10}{epochs:>7}{seconds:>8.0f}{epochs * TRAIN_ROWS / seconds:>9.0f}"
            f"{valid_auc:>9.4f}{test_scores['auc']:>10.4f}"
            f"{test_scores['logloss']:>14.4f}{reference:>26}",
            flush=True,
        )


if __name__ == "__main__":
    main()
