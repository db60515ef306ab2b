"""The Bayesian learners against naive references: ALS against coordinate
descent written with explicit loops, the Gibbs sampler's draws against a
posterior known in closed form, and both against data from a known FM."""

import numpy as np
import pytest
import tensorflow as tf

from keras_fm.bayes import SparseRows, color_features, fit_als, fit_mcmc
from keras_fm.bayes.gibbs import GibbsSweep


def naive_score(w0, w, v, row):
    """Rendle's Eq. (1), pair by pair."""
    total = w0 + sum(w[i] * x for i, x in row)
    for a in range(len(row)):
        for b in range(a + 1, len(row)):
            (i, xi), (j, xj) = row[a], row[b]
            total += v[i] @ v[j] * xi * xj
    return total


def naive_als_sweep(params, rows, labels, order, l2):
    """One sweep of coordinate descent in the given order of the features
    (w0; each w_i; then, factor by factor, each v_if), every coordinate set
    to its minimizer from two full evaluations of the model (the score is
    linear in each single parameter)."""
    w0, w, v = params

    def set_best(put, penalty):
        put(0.0)
        base = np.array([naive_score(w0[0], w, v, row) for row in rows])
        put(1.0)
        slope = np.array([naive_score(w0[0], w, v, row) for row in rows]) - base
        put(float(slope @ (labels - base)) / (slope @ slope + penalty))

    def set_w0(value):
        w0[0] = value

    set_w0(w0[0] + np.mean(labels - [naive_score(w0[0], w, v, r) for r in rows]))
    for i in order:
        set_best(lambda x, i=i: w.__setitem__(i, x), l2[0])
    for f in range(v.shape[1]):
        for i in order:
            set_best(lambda x, i=i, f=f: v.__setitem__((i, f), x), l2[1])
    return w0, w, v


def tiny_data(seed=0, num_rows=12, num_features=7):
    rng = np.random.default_rng(seed)
    ids = [
        sorted(rng.choice(num_features - 1, rng.integers(0, 4), replace=False))
        for _ in range(num_rows)
    ]  # feature 6 appears in no row
    values = [list(rng.normal(1.0, 0.5, len(row))) for row in ids]
    labels = rng.normal(0, 1, num_rows)
    return SparseRows.from_lists(ids, values, labels, num_features)


def test_als_sweeps_equal_naive_coordinate_descent():
    data = tiny_data()
    colors = color_features(data)
    groups = np.zeros(data.num_features, np.int64)
    sweep = GibbsSweep(data, groups, 3, "regression", colors, seed=4,
                       sample=False, l2=(0.3, 0.7))  # fmt: skip
    w0, w, v = sweep.parameters()
    params = (np.array([w0]), w.copy(), v.copy())
    # By color, the absent feature last.
    order = [i for c in range(colors.max() + 1) for i in np.flatnonzero(colors == c)]
    order += list(np.flatnonzero(colors < 0))
    np.testing.assert_array_equal(np.sort(sweep.draw_order()), np.arange(7))
    rows = [
        list(zip(data.ids[data.rows == r], data.values[data.rows == r], strict=True))
        for r in range(data.num_rows)
    ]
    for _ in range(3):
        rmse = float(sweep.sweep())
        params = naive_als_sweep(params, rows, data.labels, order, (0.3, 0.7))
    w0, w, v = sweep.parameters()
    np.testing.assert_allclose(w0, params[0][0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(w, params[1], rtol=0, atol=1e-10)
    np.testing.assert_allclose(v, params[2], rtol=0, atol=1e-10)
    assert w[6] == 0.0 and (v[6] == 0.0).all()  # no data: the prior mean
    # The sweep's RMSE is of the residuals before its own updates.
    assert rmse > 0


def test_bias_and_noise_draws_follow_their_closed_form_posterior():
    """Rows with no non-zero: y ~ N(w0, 1/alpha), a flat prior on w0 and
    Gamma(1/2, 1/2) on alpha. Integrating alpha out, w0 is Student-t with
    nu = n degrees of freedom (alpha_0 + n - 1), centered at mean(y), of
    variance (beta_0 + S) / (n (nu - 2)), S the sum of squares about the
    mean."""
    labels = np.array([0.3, -1.2, 2.0, 0.7, 1.1, -0.4, 0.9, 1.6, 0.0, 0.5])
    data = SparseRows.from_lists([[]] * 10, [[]] * 10, labels, 1)
    sweep = GibbsSweep(data, np.zeros(1, np.int64), 1, "regression",
                       color_features(data), seed=7)  # fmt: skip
    draws = []
    for _ in range(3000):
        sweep.sweep()
        draws.append(sweep.parameters()[0])
    draws = np.array(draws[100:])
    n, squares = len(labels), float(((labels - labels.mean()) ** 2).sum())
    variance = (1.0 + squares) / (n * (n - 2))
    assert abs(draws.mean() - labels.mean()) < 4 * np.sqrt(variance / len(draws) * 3)
    assert draws.var() == pytest.approx(variance, rel=0.1)


def test_als_sweeps_on_one_hot_fields_equal_naive_coordinate_descent():
    """Fields of one non-zero per row: their blocks read and write the
    row-wise arrays whole (dense), the sparse field's by gather/scatter."""
    rng = np.random.default_rng(3)
    users, items = rng.integers(0, 4, 15), 4 + rng.integers(0, 3, 15)
    ids = [
        [u, i] + ([7] if r % 3 else [])
        for r, (u, i) in enumerate(zip(users, items, strict=True))
    ]
    values = [list(rng.normal(1.0, 0.5, len(row))) for row in ids]
    data = SparseRows.from_lists(ids, values, rng.normal(0, 1, 15), 8)
    sweep = GibbsSweep(data, np.zeros(8, np.int64), 2, "regression",
                       color_features(data), sample=False, l2=(0.3, 0.7))  # fmt: skip
    assert [block.dense for block in sweep.blocks] == [True, True, False]
    w0, w, v = sweep.parameters()
    params = (np.array([w0]), w.copy(), v.copy())
    rows = [list(zip(row, x, strict=True)) for row, x in zip(ids, values, strict=True)]
    for _ in range(3):
        sweep.sweep()
        params = naive_als_sweep(
            params, rows, data.labels, sweep.draw_order(), (0.3, 0.7)
        )
    for ours, reference in zip(sweep.parameters(), params, strict=True):
        np.testing.assert_allclose(ours, np.ravel(reference) if np.ndim(ours) == 0
                                   else reference, rtol=0, atol=1e-10)  # fmt: skip


def fm_data(num_rows, seed, task="regression", noise=0.3):
    """Users x items from one known FM of rank 3, rows drawn from ``seed``
    (the true model's scores too)."""
    truth_rng = np.random.default_rng(100)
    users, items = 60, 40
    v = truth_rng.normal(0, 0.6, (users + items, 3))
    w = truth_rng.normal(0, 0.3, users + items)
    rng = np.random.default_rng(seed)
    user, item = (
        rng.integers(0, users, num_rows),
        users + rng.integers(0, items, num_rows),
    )
    truth = 0.5 + w[user] + w[item] + (v[user] * v[item]).sum(1)
    if task == "regression":
        labels = truth + rng.normal(0, noise, num_rows)
    else:
        labels = (truth + rng.normal(0, 1, num_rows) > 0.5).astype(float)
    ids = np.stack([user, item], 1)
    rows = np.repeat(np.arange(num_rows), 2)
    data = SparseRows.checked(rows, ids.ravel(), np.ones(2 * num_rows), labels, 100)
    return data, truth


def ragged(data):
    ids = tf.RaggedTensor.from_value_rowids(data.ids, data.rows, data.num_rows)
    values = tf.RaggedTensor.from_value_rowids(
        data.values.astype("float32"), data.rows, data.num_rows
    )
    return {"ids": ids, "values": values}


def rmse(model, data):
    scores = model.predict(ragged(data), verbose=0)[:, 0]
    return float(np.sqrt(np.mean((scores - data.labels) ** 2)))


def test_mcmc_reaches_the_noise_floor_of_data_from_a_known_fm():
    train, test = fm_data(4000, seed=1)[0], fm_data(2000, seed=2)[0]
    model = fit_mcmc(train, embedding_dim=3, num_sweeps=120, burn_in=30, seed=0)
    assert rmse(model, test) < 0.36  # noise 0.3
    poor = fit_als(train, embedding_dim=3, num_sweeps=30, l2=(100.0, 100.0))
    assert rmse(poor, test) > rmse(model, test) + 0.1


def test_binary_mcmc_ranks_as_the_true_model():
    train, _ = fm_data(20_000, seed=3, task="binary")
    test, truth = fm_data(3000, seed=4, task="binary")
    model = fit_mcmc(train, "binary", embedding_dim=3, num_sweeps=40, burn_in=15)
    scores = model.predict(ragged(test), verbose=0)[:, 0]
    assert ((scores > 0) & (scores < 1)).all()
    best = auc(test.labels > 0, truth)
    assert auc(test.labels > 0, scores) > best - 0.02
    # Calibrated: the mean predicted probability is the positives' share.
    assert abs(scores.mean() - test.labels.mean()) < 0.03


def auc(positive, scores):
    ranks = np.argsort(np.argsort(scores)) + 1
    count = positive.sum()
    return (ranks[positive].sum() - count * (count + 1) / 2) / (
        count * (len(scores) - count)
    )


def test_the_model_averages_the_kept_samples_of_the_chain():
    """burn_in 3, thin 2 of 9 sweeps: the samples of sweeps 5, 7 and 9."""
    train, _ = fm_data(300, seed=5)
    model = fit_mcmc(train, embedding_dim=2, num_sweeps=9, burn_in=3, thin=2, seed=8)
    chain = GibbsSweep(train, np.zeros(100, np.int64), 2, "regression",
                       color_features(train), seed=8)  # fmt: skip
    kept = []
    for index in range(9):
        chain.sweep()
        if index in (4, 6, 8):
            kept.append(chain.parameters())
    layer = model.get_layer("fm")
    np.testing.assert_allclose(layer.bias.numpy(), [s[0] for s in kept], rtol=1e-6)
    np.testing.assert_allclose(
        layer.embeddings.numpy()[:100], np.stack([s[2] for s in kept], 1), rtol=1e-6
    )
    assert (layer.embeddings.numpy()[100] == 0).all()  # out of vocabulary


@pytest.mark.parametrize("task", ["regression", "binary"])
def test_chains_are_the_chains_of_their_seeds_averaged_together(task):
    """Three chains from seed 4: the samples of single chains from seeds 4,
    5 and 6, in that order (the restarted sweep starts as a new one)."""
    train, _ = fm_data(300, seed=5, task=task)
    options = {"embedding_dim": 2, "num_sweeps": 6, "burn_in": 2, "thin": 2}
    pooled = fit_mcmc(train, task, num_chains=3, seed=4, **options)
    singles = [fit_mcmc(train, task, seed=seed, **options) for seed in (4, 5, 6)]
    layers = [model.get_layer("fm") for model in singles]
    layer = pooled.get_layer("fm")
    assert layer.bias.shape == (6,)  # 3 chains x 2 kept samples
    for name in ("bias", "linear_weights", "embeddings"):
        parts = [getattr(single, name).numpy() for single in layers]
        axis = 0 if name == "bias" else 1
        np.testing.assert_allclose(
            getattr(layer, name).numpy(), np.concatenate(parts, axis), rtol=1e-6
        )
    assert not np.allclose(parts[0], parts[1])  # the seeds differ
    test, _ = fm_data(200, seed=7, task=task)
    scores = [model.predict(ragged(test), verbose=0)[:, 0] for model in singles]
    np.testing.assert_allclose(
        pooled.predict(ragged(test), verbose=0)[:, 0],
        np.mean(scores, axis=0),
        atol=1e-5,
    )


def test_chains_progress_lines_name_the_chain_and_average_all(capsys):
    train, _ = fm_data(600, seed=5)
    valid, _ = fm_data(300, seed=6)
    model = fit_mcmc(train, embedding_dim=2, num_sweeps=10, burn_in=4,
                     num_chains=2, validation=valid, verbose=1)  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "chain 1/2, sweep 10",
        "chain 2/2, sweep 10",
    ]
    printed = float(lines[-1].split("validation rmse ")[1].split(",")[0])
    assert printed == pytest.approx(rmse(model, valid), abs=1e-4)


@pytest.mark.parametrize("chains", [0, -1])
def test_mcmc_refuses_fewer_than_one_chain(chains):
    train, _ = fm_data(50, seed=5)
    with pytest.raises(ValueError, match=f"num_chains={chains}"):
        fit_mcmc(train, num_sweeps=3, burn_in=1, num_chains=chains)


@pytest.mark.parametrize("task", ["regression", "binary"])
def test_saved_model_and_tflite_serve_the_posterior_mean(task, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from keras_fm.export import export_saved_model, to_tflite

    train, _ = fm_data(500, seed=6, task=task)
    model = fit_mcmc(train, task, embedding_dim=2, num_sweeps=12, burn_in=2)
    rows = [[3, 70], [5], [99, 0, 61], [1000]]  # 1000: beyond the features
    data = {
        "ids": tf.ragged.constant(rows, dtype="int64"),
        "values": tf.ragged.constant([[1.0] * len(r) for r in rows], "float32"),
    }
    want = model(data).numpy()[:, 0]
    path = export_saved_model(model, tmp_path / "serving")
    served = tf.saved_model.load(str(path)).signatures["serving_default"](
        ids=data["ids"].to_tensor(-1), values=data["values"].to_tensor(0.0)
    )
    np.testing.assert_allclose(
        served["prediction"].numpy().reshape(-1), want, atol=1e-5
    )
    to_tflite(model, tmp_path / "bayes.tflite")
    runner = Interpreter(
        model_path=str(tmp_path / "bayes.tflite")
    ).get_signature_runner("serving_default")
    padded = {"ids": data["ids"].to_tensor(-1), "values": data["values"].to_tensor(0.0)}
    got = runner(**{name: tensor.numpy() for name, tensor in padded.items()})
    got = got["prediction"]
    np.testing.assert_allclose(got.reshape(-1), want, atol=1e-5)
    assert np.ptp(want) > 1e-3


@pytest.mark.parametrize("learner", ["mcmc", "als"])
def test_the_printed_validation_rmse_is_the_models(learner, capsys):
    train, _ = fm_data(1500, seed=5)
    # Labels of the training rows in a narrow range, so that the model's
    # clipping to that range moves the validation scores.
    train.labels[:] = np.clip(train.labels, -0.5, 0.5)
    valid, _ = fm_data(500, seed=6)
    if learner == "mcmc":
        model = fit_mcmc(train, embedding_dim=3, num_sweeps=20, burn_in=5,
                         validation=valid, verbose=1)  # fmt: skip
    else:
        model = fit_als(train, embedding_dim=3, num_sweeps=20, validation=valid,
                        verbose=1)  # fmt: skip
    last = capsys.readouterr().out.splitlines()[-1]
    printed = float(last.split("validation rmse ")[1].split(",")[0])
    scores = model.predict(ragged(valid), verbose=0)[:, 0]
    assert np.isclose(scores, 0.5, atol=1e-6).any()  # the clip binds
    assert printed == pytest.approx(rmse(model, valid), abs=1e-4)


def test_chains_restart_relation_blocks_as_new_chains():
    from keras_fm.bayes import Relation

    rng = np.random.default_rng(0)
    users = rng.integers(0, 20, 200)
    rated = [list(rng.choice(np.arange(50, 60), 3, replace=False)) for _ in range(20)]
    relation = Relation.from_lists(
        index=users,
        ids=[[user, *movies] for user, movies in enumerate(rated)],
        values=[[1.0] + [3**-0.5] * 3 for _ in rated],
    )
    movies = [[int(20 + m)] for m in rng.integers(0, 30, 200)]
    rows = SparseRows.from_lists(movies, [[1.0]] * 200, rng.normal(size=200), 60)
    rows = rows.with_relations([relation])
    options = {"embedding_dim": 2, "num_sweeps": 6, "burn_in": 2}
    pooled = fit_mcmc(rows, num_chains=2, seed=3, **options)
    singles = [fit_mcmc(rows, seed=seed, **options) for seed in (3, 4)]
    np.testing.assert_allclose(
        pooled.get_layer("fm").embeddings.numpy(),
        np.concatenate([m.get_layer("fm").embeddings.numpy() for m in singles], 1),
        rtol=1e-6,
    )
