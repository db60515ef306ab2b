"""SavedModel export of every model of the zoo, checked outside Keras."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from keras_fm import serving
from keras_fm.export import existing_versions, export_saved_model
from keras_fm.models import build_sparse_fm
from tests.layer_checklist import randomize_weights, run_fresh_python
from tests.models.test_models import SMALL, build

# Out-of-vocabulary on purpose: user 99 and -5 (vocabulary 20), genre "zz",
# a missing age (NaN), an empty genre list.
ROWS = [
    {"user": 3, "genre": ["a", "b"], "age": 31.0},
    {"user": 99, "genre": ["zz"], "age": float("nan")},
    {"user": -5, "genre": [], "age": 12.5},
    {"user": 7, "genre": ["c", "c", "a"], "age": 58.0},
]


def randomize_trainable(model, seed, scale=0.5):
    """Random non-zero trainable weights (batch-norm statistics kept valid)."""
    rng = np.random.default_rng(seed)
    for weight in model.trainable_weights:
        weight.assign(rng.normal(0.0, scale, size=weight.shape).astype("float32"))


def keras_inputs(rows):
    return {
        "user": tf.constant([[r["user"]] for r in rows], tf.int64),
        "genre": tf.ragged.constant([r["genre"] for r in rows], dtype=tf.string),
        "age": tf.constant([[r["age"]] for r in rows], tf.float32),
    }


def keras_outputs(model, rows):
    inputs = keras_inputs(rows)
    prediction = model(inputs).numpy().reshape(-1)
    logit = keras.Model(model.inputs, model.get_layer("logit").output)(inputs)
    return prediction, np.asarray(logit).reshape(-1)


def example_bytes(row):
    feature = {
        "user": tf.train.Feature(int64_list=tf.train.Int64List(value=[row["user"]])),
        "genre": tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[g.encode() for g in row["genre"]])
        ),
    }
    if not np.isnan(row["age"]):  # a missing value is left out of the example
        feature["age"] = tf.train.Feature(
            float_list=tf.train.FloatList(value=[row["age"]])
        )
    return tf.train.Example(
        features=tf.train.Features(feature=feature)
    ).SerializeToString()


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """``exported(name)``: the zoo model ``name``, weights randomized, and its
    export as version 1 of its base; made on first use, so each pytest-xdist
    worker exports only the models its tests use."""
    folder = tmp_path_factory.mktemp("models")
    made = {}

    def export(name):
        if name not in made:
            model = build(name)
            randomize_trainable(model, seed=3)
            path = export_saved_model(model, folder / name, warmup_rows=ROWS)
            made[name] = (model, path)
        return made[name]

    return export


@pytest.mark.parametrize(
    "names",
    [("deepfm", "fm", "xdeepfm"),  # the models the other tests export too
     pytest.param(sorted(SMALL), marks=pytest.mark.long)],
    ids=["ci", "every_model"],
)  # fmt: skip
def test_zoo_models_serve_in_a_fresh_tensorflow_process(exported, tmp_path, names):
    """Loaded by a fresh process that imports TensorFlow only, each export's
    signatures give the Keras model's predictions; CI checks three models
    (each export costs seconds), the long set every one."""
    (tmp_path / "rows.json").write_text(json.dumps(ROWS))
    examples = [example_bytes(row).hex() for row in ROWS]
    (tmp_path / "examples.json").write_text(json.dumps(examples))
    every = {name: exported(name) for name in names}
    paths = {name: str(path) for name, (_, path) in every.items()}
    script = f"""
        import json, math
        import tensorflow as tf
        rows = json.load(open("rows.json"))
        examples = [bytes.fromhex(e) for e in json.load(open("examples.json"))]
        out = {{}}
        for name, path in {paths!r}.items():
            loaded = tf.saved_model.load(path)
            serve = loaded.signatures["serving_default"]
            length = max(len(r["genre"]) for r in rows)
            inputs = {{
                "user": tf.constant([r["user"] for r in rows], tf.int64),
                "genre": tf.constant(
                    [r["genre"] + [""] * (length - len(r["genre"])) for r in rows]
                ),
                "age": tf.constant([r["age"] for r in rows], tf.float32),
            }}
            served = serve(**inputs)
            parsed = loaded.signatures["examples"](examples=tf.constant(examples))
            out[name] = {{
                "serve": {{k: v.numpy().tolist() for k, v in served.items()}},
                "examples": {{k: v.numpy().tolist() for k, v in parsed.items()}},
            }}
        print(json.dumps(out))
    """
    results = json.loads(run_fresh_python(script, tmp_path).splitlines()[-1])
    for name, (model, _) in every.items():
        prediction, logit = keras_outputs(model, ROWS)
        assert np.all(np.isfinite(prediction)), name
        assert np.ptp(prediction) > 1e-4, name  # not a constant
        for signature in ("serve", "examples"):
            got = results[name][signature]
            np.testing.assert_allclose(got["prediction"], prediction, atol=1e-5)
            np.testing.assert_allclose(got["logit"], logit, atol=1e-5)


def saved_model_cli(*args):
    tool = Path(sys.executable).with_name("saved_model_cli")
    assert tool.exists(), f"saved_model_cli (of tensorflow) not beside {sys.executable}"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [str(tool), *args], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_saved_model_cli_shows_the_documented_signatures(exported):
    _, path = exported("deepfm")
    shown = saved_model_cli("show", "--dir", str(path), "--all")
    serving_default = shown[shown.index("signature_def['serving_default']") :]
    for name, dtype, shape in [
        ("user", "DT_INT64", "(-1)"),
        ("genre", "DT_STRING", "(-1, -1)"),
        ("age", "DT_FLOAT", "(-1)"),
    ]:
        block = serving_default[serving_default.index(f"inputs['{name}']") :][:120]
        assert f"dtype: {dtype}" in block and f"shape: {shape}" in block
    assert "outputs['prediction']" in serving_default
    assert "outputs['logit']" in serving_default
    examples = shown[shown.index("signature_def['examples']") :]
    assert "inputs['examples']" in examples and "DT_STRING" in examples[:300]


def test_saved_model_cli_run_reproduces_keras(exported, tmp_path):
    model, path = exported("xdeepfm")
    rows = ROWS[:1] + ROWS[3:]
    np.savez(
        tmp_path / "inputs.npz",
        user=np.array([3, 7], "int64"),
        age=np.array([31.0, 58.0], "float32"),
        genre=np.array([[b"a", b"b", b""], [b"c", b"c", b"a"]]),
    )
    npz = tmp_path / "inputs.npz"
    printed = saved_model_cli(
        "run", "--dir", str(path), "--tag_set", "serve",
        "--signature_def", "serving_default",
        "--inputs", f"user={npz}[user];age={npz}[age];genre={npz}[genre]",
    )  # fmt: skip
    found = re.search(r"output key prediction:\s*\[([^\]]*)\]", printed)
    assert found, printed
    served = np.array(found.group(1).split(), dtype=float)
    np.testing.assert_allclose(served, keras_outputs(model, rows)[0], atol=1e-5)


def test_warmup_records_and_request_helpers_run_through_the_signature(exported):
    model, path = exported("fm")
    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures["serving_default"]
    prediction, logit = keras_outputs(model, ROWS)
    warmup = path / "assets.extra" / "tf_serving_warmup_requests"
    requests = []
    for record in tf.data.TFRecordDataset(str(warmup)):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        requests.append(log.predict_log.request)
    assert [len(tf.make_ndarray(r.inputs["user"])) for r in requests] == [1, 4]

    signature = serving.Signature.load(path)
    requests.append(serving.predict_request(ROWS, signature, "fm"))
    for request in requests:
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        served = serve(**{k: tf.constant(v) for k, v in inputs.items()})
        count = len(inputs["user"])
        np.testing.assert_allclose(served["prediction"], prediction[:count], atol=1e-5)

    for form in serving.requests.REST_FORMS:
        body = json.loads(serving.rest_body(ROWS, signature, form=form))
        if form == "instances":
            columns = {
                k: [row[k] for row in body["instances"]] for k in body["instances"][0]
            }
        else:
            columns = body["inputs"]
        columns["age"] = [float(v) for v in columns["age"]]  # "NaN" as in TF Serving
        inputs = {
            spec.name: tf.constant(np.array(columns[spec.name], spec.numpy_dtype))
            for spec in signature.inputs
        }
        served = serve(**inputs)
        np.testing.assert_allclose(served["prediction"], prediction, atol=1e-5)
        np.testing.assert_allclose(served["logit"], logit, atol=1e-5)


def test_versions_are_numbered_atomic_and_never_overwritten(tmp_path):
    model = build("fm")
    first = export_saved_model(model, tmp_path / "fm")
    second = export_saved_model(model, tmp_path / "fm")
    assert (first.name, second.name) == ("1", "2")
    assert existing_versions(tmp_path / "fm") == [1, 2]
    with pytest.raises(FileExistsError, match="overwrite"):
        export_saved_model(model, tmp_path / "fm", version=2)
    replacement = build("fm")
    randomize_trainable(replacement, seed=5)
    again = export_saved_model(replacement, tmp_path / "fm", version=2, overwrite=True)
    served = tf.saved_model.load(str(again)).signatures["examples"](
        examples=tf.constant([example_bytes(row) for row in ROWS])
    )
    np.testing.assert_allclose(
        served["prediction"], keras_outputs(replacement, ROWS)[0], atol=1e-5
    )
    assert again == second
    assert sorted(os.listdir(tmp_path / "fm")) == [".keras_fm_export.lock", "1", "2"]
    with pytest.raises(ValueError, match="version"):
        export_saved_model(model, tmp_path / "fm", version=-1)


def test_a_failed_export_leaves_no_version(tmp_path, monkeypatch):
    from keras_fm.export import saved_model

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(saved_model, "write_warmup_requests", fail)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(build("fm"), tmp_path / "fm")
    assert os.listdir(tmp_path / "fm") == []


def test_sparse_fm_takes_padded_ids_and_values(tmp_path):
    model = build_sparse_fm(30, embedding_dim=4)
    randomize_weights(model, seed=1)
    path = export_saved_model(model, tmp_path / "sparse")
    signature = serving.Signature.load(path)
    assert [(s.name, s.is_list, s.pad_value, s.mask_of) for s in signature.inputs] == [
        ("ids", True, -1, None),
        ("values", True, 0.0, "ids"),
    ]
    rows = [
        {"ids": [1, 5, 29], "values": [1.0, 0.5, 2.0]},
        {"ids": [7], "values": [3.0]},
    ]
    want = (
        model(
            {
                "ids": tf.ragged.constant([r["ids"] for r in rows], tf.int64),
                "values": tf.ragged.constant([r["values"] for r in rows], tf.float32),
            }
        )
        .numpy()
        .reshape(-1)
    )
    served = tf.saved_model.load(str(path)).signatures["serving_default"](
        **{k: tf.constant(v) for k, v in signature.batch(rows).items()}
    )
    np.testing.assert_allclose(served["prediction"], want, atol=1e-6)


def test_tensorflow_model_server_answers_rest_and_grpc(exported, tmp_path):
    binary = shutil.which("tensorflow_model_server")
    if binary is None:
        pytest.skip(
            "tensorflow_model_server is not on PATH (TF Serving cannot be installed "
            "on these machines); export/README.md has the commands"
        )
    import socket
    import time
    import urllib.request

    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    model, path = exported("deepfm")
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    server = subprocess.Popen(
        [binary, f"--port={ports[0]}", f"--rest_api_port={ports[1]}",
         "--model_name=deepfm", f"--model_base_path={path.parent}"],
    )  # fmt: skip
    try:
        signature = serving.Signature.load(path)
        url = f"http://127.0.0.1:{ports[1]}/v1/models/deepfm:predict"
        body = serving.rest_body(ROWS, signature).encode()
        answer = None
        deadline = time.monotonic() + 60
        while answer is None and time.monotonic() < deadline:
            assert server.poll() is None, f"the server exited ({server.returncode})"
            try:
                answer = urllib.request.urlopen(url, body, timeout=5).read()
            except OSError:
                time.sleep(1)
        assert answer is not None, "TF Serving did not answer within 60 s"
        prediction = keras_outputs(model, ROWS)[0]
        rest = serving.parse_rest_response(answer)
        np.testing.assert_allclose(rest["prediction"], prediction, atol=1e-5)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{ports[0]}")
        )
        response = stub.Predict(serving.predict_request(ROWS, signature, "deepfm"))
        grpc_out = serving.parse_predict_response(response)
        np.testing.assert_allclose(grpc_out["prediction"], prediction, atol=1e-5)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
