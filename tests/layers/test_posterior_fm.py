import json
import math

import keras
import numpy as np
import pytest

from keras_fm.layers import PosteriorFM
from tests.bayes.test_learners import naive_score
from tests.layers.test_sparse_fm import ROWS, as_inputs

SAMPLES, DIM, FEATURES = 3, 4, 10


def samples(seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(0, scale, SAMPLES),
        rng.normal(0, scale, (SAMPLES, FEATURES)),
        rng.normal(0, scale, (SAMPLES, FEATURES, DIM)),
    )


def built(link="identity", **kwargs):
    layer = PosteriorFM(FEATURES, DIM, SAMPLES, link, **kwargs)
    layer.set_samples(*samples())
    return layer


def fm_score(w0, w, v, row):
    """Rendle's Eq. (1), pair by pair; unknown ids are the zero OOV row."""
    return naive_score(w0, w, v, [(i, x) for i, x in row if 0 <= i < FEATURES])


def reference(link, rows=ROWS, clip=None):
    w0, w, v = samples()
    out = []
    for row in rows:
        scores = [fm_score(w0[s], w[s], v[s], row) for s in range(SAMPLES)]
        if clip:
            scores = [min(max(score, clip[0]), clip[1]) for score in scores]
        if link == "identity":
            out.append([np.mean(scores)])
            continue
        p = np.mean([0.5 * math.erfc(-y / math.sqrt(2)) for y in scores])
        out.append([math.log(p / (1 - p))])
    return np.array(out)


@pytest.mark.parametrize("kind", ["ragged", "sparse", "dense"])
@pytest.mark.parametrize("link", ["identity", "probit"])
def test_averages_the_samples_fms(kind, link):
    layer = built(link)
    np.testing.assert_allclose(
        layer(as_inputs(kind)), reference(link), rtol=1e-5, atol=1e-5
    )


def test_clip_bounds_each_samples_score_before_the_mean():
    layer = built(clip=(-0.5, 0.4))
    want = reference("identity", clip=(-0.5, 0.4))
    np.testing.assert_allclose(layer(as_inputs("ragged")), want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(want, np.clip(reference("identity"), -0.5, 0.4))
    with pytest.raises(ValueError, match="`clip` takes"):
        PosteriorFM(FEATURES, DIM, SAMPLES, "probit", clip=(0.0, 1.0))


def test_probit_logit_stays_finite_for_extreme_scores():
    layer = PosteriorFM(FEATURES, DIM, SAMPLES, "probit")
    w0, w, v = samples()
    layer.set_samples(w0 * 0 + 1e4, w, v)
    high = np.asarray(layer(as_inputs("ragged")))
    layer.set_samples(w0 * 0 - 1e4, w, v)
    low = np.asarray(layer(as_inputs("ragged")))
    assert np.isfinite(high).all() and np.isfinite(low).all()
    assert (high > 60).all() and (low < -60).all()
    assert float(keras.ops.sigmoid(high).numpy().min()) == 1.0


def test_set_samples_checks_shapes():
    layer = PosteriorFM(FEATURES, DIM, SAMPLES)
    w0, w, v = samples()
    with pytest.raises(ValueError, match="do not fit"):
        layer.set_samples(w0, w, v[:, :, :2])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_samples": 0}, "`num_samples` must be a positive int"),
        ({"link": "logit"}, "`link` must be one of"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PosteriorFM(**{"num_features": 3, "embedding_dim": 2, "num_samples": 2,
                       **kwargs})  # fmt: skip


def test_config_round_trip_and_keras_file(tmp_path):
    clipped = built(clip=(0.0, 2.0))
    assert PosteriorFM.from_config(clipped.get_config()).clip == (0.0, 2.0)
    layer = built("probit")
    revived = PosteriorFM.from_config(json.loads(json.dumps(layer.get_config())))
    assert revived.get_config() == layer.get_config()
    ids = keras.Input((None,), dtype="int64", ragged=True, name="ids")
    values = keras.Input((None,), dtype="float32", ragged=True, name="values")
    inputs = {"ids": ids, "values": values}
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(
        loaded.predict(as_inputs("ragged"), verbose=0), reference("probit"),
        rtol=1e-5, atol=1e-5,
    )  # fmt: skip


def test_erfc_is_within_its_documented_relative_error():
    from keras_fm.layers.posterior_fm import erfc

    x = np.linspace(-6.0, 9.0, 3001)
    want = np.array([math.erfc(value) for value in x])
    got = erfc(np.asarray(x, "float64")).numpy()
    assert np.max(np.abs(got - want) / want) < 1.2e-7
