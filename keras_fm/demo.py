"""The README's main job: train, evaluate and export a model on generated data.

The data come from a known factorization machine (`keras_fm.datasets`), so
the demo can show how close the trained model gets to the best possible
(the generator's own probabilities) on held-out examples.
"""

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_fm.data.pipeline import without_autotune_thread
from keras_fm.datasets import SyntheticData, make_fm_data
from keras_fm.export import export_saved_model
from keras_fm.layers import CIN, FieldAwareFM, FMInteraction
from keras_fm.models.inputs import model_inputs
from keras_fm.saving import save_model
from keras_fm.training import EpochLog

EXPORT_TOLERANCE = 1e-5


def build_demo_model(
    field_names: Sequence[str],
    vocabulary_sizes: Sequence[int],
    embedding_dim: int = 8,
    field_aware_dim: int = 4,
    cin_layer_sizes: Sequence[int] = (16, 16),
    l2: float = 3e-4,
) -> keras.Model:
    """Builds a binary classifier from the three core interaction layers.

    The logit is a learned combination of the first-order term, an FM, a
    field-aware FM and a CIN, all over per-field id embeddings:

        logit = Dense([sum_f w[id_f], FM(v), FFM(V), CIN(v)])

    Args:
        field_names: the name of each field; each becomes an `int32` input of
            shape `(batch, 1)` holding ids in `[0, vocabulary_size)`.
        vocabulary_sizes: the number of ids of each field.
        embedding_dim: int. Size of the FM and CIN latent vectors. Defaults
            to `8`.
        field_aware_dim: int. Size of the field-aware latent vectors (each id
            has one per field). Defaults to `4`.
        cin_layer_sizes: sequence of int. Feature maps of each CIN layer.
            Defaults to `(16, 16)`.
        l2: float. L2 penalty on every embedding table. Defaults to `3e-4`.

    Returns:
        A `keras.Model` mapping `{field_name: ids}` to `prediction`, the
        probability of label 1, of shape `(batch, 1)`.
    """
    num_fields = len(field_names)
    regularizer = keras.regularizers.L2(l2)
    inputs = {name: keras.Input((1,), dtype="int32", name=name) for name in field_names}
    vectors, field_aware, weights = [], [], []
    for name, vocabulary_size in zip(field_names, vocabulary_sizes, strict=True):
        ids = inputs[name]
        vectors.append(  # (B, 1, D)
            keras.layers.Embedding(
                vocabulary_size,
                embedding_dim,
                embeddings_regularizer=regularizer,
                name=f"{name}_embedding",
            )(ids)
        )
        field_aware.append(  # (B, 1, F, D)
            keras.layers.Reshape((1, num_fields, field_aware_dim))(
                keras.layers.Embedding(
                    vocabulary_size,
                    num_fields * field_aware_dim,
                    embeddings_regularizer=regularizer,
                    name=f"{name}_field_aware_embedding",
                )(ids)
            )
        )
        weights.append(  # (B, 1)
            keras.layers.Flatten()(
                keras.layers.Embedding(
                    vocabulary_size,
                    1,
                    embeddings_initializer="zeros",
                    name=f"{name}_weight",
                )(ids)
            )
        )
    embeddings = keras.layers.Concatenate(axis=1, name="embeddings")(vectors)
    latent = keras.layers.Concatenate(axis=1, name="field_aware_latent")(field_aware)
    first_order = keras.layers.Add(name="first_order")(weights)
    fm = FMInteraction(name="fm")(embeddings)
    ffm = FieldAwareFM(name="ffm")(latent)
    cin = CIN(cin_layer_sizes, name="cin")(embeddings)
    terms = keras.layers.Concatenate(name="terms")([first_order, fm, ffm, cin])
    logit = keras.layers.Dense(1, name="logit")(terms)
    prediction = keras.layers.Activation("sigmoid", name="prediction")(logit)
    return keras.Model(model_inputs(inputs), prediction, name="demo_fm_ffm_cin")


def _dataset(data: SyntheticData, batch_size: int, shuffle: bool, seed: int) -> Any:
    features = {k: v.astype("int32") for k, v in data.features().items()}
    dataset = tf.data.Dataset.from_tensor_slices((features, data.labels[:, None]))
    if shuffle:
        dataset = dataset.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    return without_autotune_thread(dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE))


def _oracle_metrics(data: SyntheticData) -> dict[str, float]:
    auc = keras.metrics.AUC(num_thresholds=1000)
    auc.update_state(data.labels, 1.0 / (1.0 + np.exp(-data.logits)))
    return {**data.noise_floor(), "auc": float(auc.result())}


def _check_export(model: keras.Model, path: Path, data: SyntheticData) -> float:
    """Reloads the SavedModel and returns its largest deviation from Keras."""
    features = {k: v.astype("int32") for k, v in data.features(slice(0, 2048)).items()}
    expected = model.predict(features, verbose=0)
    loaded = tf.saved_model.load(str(path))  # keep a reference: it owns the variables
    serve = loaded.signatures["serving_default"]
    served = serve(**{k: tf.constant(v.reshape(-1)) for k, v in features.items()})
    deviation = float(np.max(np.abs(served["prediction"].numpy() - expected.ravel())))
    if not deviation <= EXPORT_TOLERANCE:
        raise RuntimeError(
            f"The exported SavedModel at {path} differs from the Keras model by "
            f"{deviation:.3g} (tolerance {EXPORT_TOLERANCE})."
        )
    return deviation


def run_demo(
    output_dir: str | os.PathLike = "keras_fm_demo",
    num_examples: int = 100_000,
    epochs: int = 20,
    batch_size: int = 512,
    seed: int = 0,
    verbose: int = 2,
) -> dict[str, Any]:
    """Trains, evaluates and exports the demo model; returns the report.

    Draws ``num_examples`` binary examples from a known FM
    (`keras_fm.datasets.make_fm_data`), splits them 80/10/10 into train,
    validation and test, trains `build_demo_model` with early stopping on the
    validation loss (best weights restored), evaluates on the test split next
    to the generator's own probabilities (the best any model can do), then
    writes ``output_dir/model.keras`` and a TF Serving SavedModel
    ``output_dir/saved_model/1/``, reloads both and checks that they predict
    what the trained model predicts.

    Args:
        output_dir: folder for the artifacts. Created if missing.
        num_examples: int. Examples to draw. Defaults to `100_000`.
        epochs: int. Maximum number of epochs. Defaults to `20`.
        batch_size: int. Defaults to `512`.
        seed: int. Seed for the data, the weights and the shuffling.
        verbose: int. 0 for no output; otherwise one line per epoch, as
            ``keras-fm train`` prints them (`keras_fm.training.EpochLog`).
            Defaults to `2`.

    Returns:
        A dict with the `"test"` and `"oracle"` metrics (`logloss`, `auc`), the
        number of epochs trained, the training time, and the export paths.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    data = make_fm_data(num_examples, seed=seed)
    train, valid, test = data.split(0.8, 0.1)

    model = build_demo_model(data.field_names, data.vocabulary_sizes)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.003),
        loss="binary_crossentropy",
        metrics=[
            keras.metrics.AUC(num_thresholds=1000, name="auc"),
            keras.metrics.BinaryCrossentropy(name="logloss"),
        ],
    )
    start = time.perf_counter()
    history = model.fit(
        _dataset(train, batch_size, shuffle=True, seed=seed),
        validation_data=_dataset(valid, 4096, shuffle=False, seed=seed),
        epochs=epochs,
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor="val_logloss", patience=2, restore_best_weights=True
            ),
            *([EpochLog(epochs)] if verbose else []),
        ],
        verbose=0,
        shuffle=False,  # the dataset shuffles itself
    )
    train_seconds = time.perf_counter() - start
    scores = model.evaluate(
        _dataset(test, 4096, shuffle=False, seed=seed), verbose=0, return_dict=True
    )

    keras_path = output_dir / "model.keras"
    save_model(model, keras_path)
    reloaded = keras.saving.load_model(keras_path)
    saved_model_path = export_saved_model(
        model, output_dir / "saved_model", version=1, overwrite=True
    )
    return {
        "test": {"logloss": float(scores["logloss"]), "auc": float(scores["auc"])},
        "oracle": _oracle_metrics(test),
        "examples": {"train": len(train), "valid": len(valid), "test": len(test)},
        "epochs": len(history.history["loss"]),
        "train_seconds": round(train_seconds, 1),
        "keras_model": str(keras_path),
        "keras_reload_max_abs_diff": _max_abs_diff(model, reloaded, test),
        "saved_model": str(saved_model_path),
        "saved_model_max_abs_diff": _check_export(model, saved_model_path, test),
    }


def _max_abs_diff(model: keras.Model, other: keras.Model, data: SyntheticData) -> float:
    features = {k: v.astype("int32") for k, v in data.features(slice(0, 2048)).items()}
    return float(
        np.max(
            np.abs(
                model.predict(features, verbose=0) - other.predict(features, verbose=0)
            )
        )
    )


def format_report(report: dict[str, Any]) -> str:
    """Formats `run_demo`'s report as a short table and a JSON line."""
    test, oracle = report["test"], report["oracle"]
    lines = [
        "",
        f"{'':24}{'log loss':>10}{'AUC':>10}",
        f"{'trained model (test)':24}{test['logloss']:>10.4f}{test['auc']:>10.4f}",
        f"{'true FM (test)':24}{oracle['logloss']:>10.4f}{oracle['auc']:>10.4f}",
        "",
        f"Keras model:  {report['keras_model']}",
        f"SavedModel:   {report['saved_model']} (serve signature matches Keras "
        f"within {report['saved_model_max_abs_diff']:.1e})",
    ]
    return "\n".join(lines) + "\n" + json.dumps(report)
