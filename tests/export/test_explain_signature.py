"""The SavedModel's ``explain`` signature, loaded by a fresh TensorFlow-only
process, gives `keras_fm.explain.attributions`' numbers."""

import json

import numpy as np
import pytest

from keras_fm.explain import attributions
from keras_fm.export import export_saved_model
from keras_fm.models import build_sparse_fm
from tests.export.test_saved_model import ROWS, keras_inputs, randomize_trainable
from tests.layer_checklist import run_fresh_python
from tests.models.test_models import build

pytestmark = pytest.mark.slow
NAMES = ("fm", "hofm", "afm", "deepfm")


def test_explain_signature_matches_attributions(tmp_path):
    expected, paths = {}, {}
    for name in NAMES:
        model = build(name)
        randomize_trainable(model, seed=5)
        paths[name] = str(export_saved_model(model, tmp_path / name, explain=True))
        expected[name] = attributions(model, keras_inputs(ROWS))
    (tmp_path / "rows.json").write_text(json.dumps(ROWS))
    script = f"""
        import json
        import tensorflow as tf
        rows = json.load(open("rows.json"))
        length = max(len(r["genre"]) for r in rows)
        inputs = {{
            "user": tf.constant([r["user"] for r in rows], tf.int64),
            "genre": tf.constant(
                [r["genre"] + [""] * (length - len(r["genre"])) for r in rows]
            ),
            "age": tf.constant([r["age"] for r in rows], tf.float32),
        }}
        out = {{}}
        for name, path in {paths!r}.items():
            explain = tf.saved_model.load(path).signatures["explain"]
            out[name] = {{k: v.numpy().tolist() for k, v in explain(**inputs).items()}}
        print(json.dumps(out))
    """
    served = json.loads(run_fresh_python(script, tmp_path).splitlines()[-1])
    for name in NAMES:
        result, got = expected[name], served[name]
        assert np.abs(result.fields).max() > 1e-3, name  # not all zeros
        for key in ("fields", "bias", "rest", "logit"):
            np.testing.assert_allclose(
                got[key], getattr(result, key), atol=1e-5, err_msg=f"{name} {key}"
            )
    assert np.abs(expected["deepfm"].rest).max() > 1e-3


def test_a_raw_rows_model_explains_each_position(tmp_path):
    import tensorflow as tf

    model = build_sparse_fm(30, embedding_dim=3)
    randomize_trainable(model, seed=2)
    path = export_saved_model(model, tmp_path / "sparse", explain=True)
    ids = tf.constant([[1, 5, 29], [3, 40, -1]], tf.int64)  # 40: out of range
    values = tf.constant([[1.0, 0.5, 2.0], [1.0, 1.0, 0.0]])
    expected = attributions(
        model,
        {"ids": tf.RaggedTensor.from_tensor(ids, padding=-1),
         "values": tf.RaggedTensor.from_tensor(values, lengths=[3, 2])},
    )  # fmt: skip
    got = tf.saved_model.load(str(path)).signatures["explain"](ids=ids, values=values)
    np.testing.assert_allclose(got["fields"], expected.fields, atol=1e-5)
    np.testing.assert_allclose(got["logit"], expected.logit, atol=1e-5)
