"""Quickstart: an FM + CIN click model from the core layers, trained and exported.

Run with ``.venv/bin/python examples/quickstart.py [OUTPUT_DIR]``; it writes
the model under ``runs/quickstart`` (a folder git ignores) unless told
otherwise, and prints where.
"""

import sys
from pathlib import Path

import keras
import numpy as np

from keras_fm.datasets import make_fm_data
from keras_fm.layers import CIN, FMInteraction


def main(output_dir: str = "runs/quickstart") -> None:
    data = make_fm_data(50_000, seed=0)  # 8 categorical fields, known true FM
    train, test = data.split(0.9)
    offsets = np.cumsum([0, *data.vocabulary_sizes[:-1]])  # one id space for all
    num_ids, num_fields = sum(data.vocabulary_sizes), len(data.vocabulary_sizes)

    # --- the ten lines of the README -----------------------------------------
    ids = keras.Input((num_fields,), dtype="int32")  # one id per field
    embeddings = keras.layers.Embedding(num_ids, 8)(ids)  # (batch, fields, 8)
    first_order = keras.layers.Flatten()(keras.layers.Embedding(num_ids, 1)(ids))
    fm = FMInteraction()(embeddings)  # sum_{i<j} <v_i, v_j>, in O(fields * 8)
    cin = CIN([8, 8])(embeddings)  # explicit 2nd- and 3rd-order feature maps
    terms = keras.layers.Concatenate()([first_order, fm, cin])
    output = keras.layers.Dense(1, activation="sigmoid")(terms)
    model = keras.Model(ids, output)
    model.compile("adam", "binary_crossentropy", metrics=["auc"])
    model.fit(train.ids + offsets, train.labels, batch_size=512, epochs=3)
    # ---------------------------------------------------------------------------

    print(model.evaluate(test.ids + offsets, test.labels, return_dict=True, verbose=0))
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    model.save(f"{output_dir}/model.keras")  # reloads with no custom_objects
    model.export(f"{output_dir}/saved_model/1", verbose=False)  # for TF Serving
    print(f"wrote {output_dir}/model.keras and {output_dir}/saved_model/1")


if __name__ == "__main__":
    main(*sys.argv[1:])
