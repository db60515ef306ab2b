"""Relation blocks: the learners on rows that share feature lists give what
they give on the same rows written out in full."""

import numpy as np
import pytest

from keras_fm.bayes import Relation, SparseRows, color_features, fit_mcmc
from keras_fm.bayes.gibbs import GibbsSweep
from tests.bayes.test_learners import naive_als_sweep, ragged, rmse


def relational_data(seed=0, num_rows=40):
    """Own features 0..5; relation A (5 table rows of features 6..15, which
    share table rows) and relation B (3 table rows of features 16..19)."""
    rng = np.random.default_rng(seed)
    ids = [
        sorted(rng.choice(6, rng.integers(1, 3), replace=False))
        for _ in range(num_rows)
    ]
    values = [list(rng.normal(1.0, 0.5, len(row))) for row in ids]
    data = SparseRows.from_lists(ids, values, rng.normal(0, 1, num_rows), 21)

    def relation(first, count, table_rows, longest):
        lists = [
            sorted(
                first + rng.choice(count, rng.integers(1, longest + 1), replace=False)
            )
            for _ in range(table_rows)
        ]
        weights = [list(rng.normal(0.8, 0.3, len(row))) for row in lists]
        return Relation.from_lists(
            rng.integers(0, table_rows, num_rows), lists, weights
        )

    # Feature 20 is in no row nor table: drawn from its prior.
    return data.with_relations([relation(6, 10, 5, 7), relation(16, 4, 3, 3)])


def listed(data):
    return [
        list(zip(data.ids[data.rows == r], data.values[data.rows == r], strict=True))
        for r in range(data.num_rows)
    ]


def test_expand_writes_each_rows_table_row_into_it():
    data = relational_data()
    full = data.expand()
    assert not full.relations
    for r, row in enumerate(listed(full)):
        expected = dict(listed(SparseRows.checked(
            data.rows, data.ids, data.values, data.labels, 21))[r])  # fmt: skip
        for relation in data.relations:
            mine = relation.rows == relation.index[r]
            expected.update(zip(relation.ids[mine], relation.values[mine], strict=True))
        assert dict(row) == expected


def test_scores_with_relations_equal_the_expanded_rows():
    data = relational_data()
    full = data.expand()
    chain = GibbsSweep(data, np.zeros(21, np.int64), 3, "regression",
                       color_features(data), seed=2)  # fmt: skip
    chain.w.assign(np.random.default_rng(1).normal(0, 1, 21))
    scores, q = chain.scores(chain.rows, chain.ids, chain.values, data.num_rows,
                             chain.relations)  # fmt: skip
    expected, expected_q = chain.scores(
        *(np.asarray(a) for a in (full.rows, full.ids, full.values)), full.num_rows
    )
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(q, expected_q, rtol=0, atol=1e-12)


def test_als_with_relations_equals_naive_coordinate_descent_on_expanded_rows():
    """The relation draws use per-table-row sums (Rendle, 2013); the naive
    reference evaluates the model on every expanded row, in the same order."""
    data = relational_data()
    groups = np.repeat([0, 1, 2, 0], [6, 10, 4, 1])
    chain = GibbsSweep(data, groups, 3, "regression", color_features(data),
                       seed=4, sample=False, l2=(0.3, 0.7))  # fmt: skip
    order = chain.draw_order()
    np.testing.assert_array_equal(np.sort(order), np.arange(21))
    w0, w, v = chain.parameters()
    start = (np.array([w0]), w.copy(), v.copy())
    params = tuple(a.copy() for a in start)
    other = tuple(a.copy() for a in start)  # the relations' features reversed
    reordered = [*order[:7], *order[7:][::-1]]
    rows, labels = listed(data.expand()), data.labels
    for _ in range(3):
        chain.sweep()
        params = naive_als_sweep(params, rows, labels, order, (0.3, 0.7))
        other = naive_als_sweep(other, rows, labels, reordered, (0.3, 0.7))
    w0, w, v = chain.parameters()
    np.testing.assert_allclose(w0, params[0][0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(w, params[1], rtol=0, atol=1e-10)
    np.testing.assert_allclose(v, params[2], rtol=0, atol=1e-10)
    # The order matters here, so the comparison above is a sharp one.
    assert np.abs(other[2] - params[2]).max() > 1e-4
    assert w[20] == 0.0 and (v[20] == 0.0).all()  # no data: the prior mean


def implicit_fm_data(num_rows, seed, rated=None):
    """Users x items, a known FM with SVD++'s implicit feedback: each user's
    rated items (features 100 + item, at 1/sqrt(n)) add to the score."""
    truth = np.random.default_rng(100)
    users, items = 60, 40
    v = truth.normal(0, 0.5, (140, 3))
    w = truth.normal(0, 0.3, 140)
    if rated is None:
        rated = [sorted(truth.choice(items, truth.integers(3, 15), replace=False))
                 for _ in range(users)]  # fmt: skip
    rng = np.random.default_rng(seed)
    user, item = rng.integers(0, users, num_rows), rng.integers(0, items, num_rows)
    lists = [[100 + i for i in r] for r in rated]
    weights = [[1 / np.sqrt(len(r))] * len(r) for r in rated]
    relation = Relation.from_lists(user, lists, weights)
    own = SparseRows.checked(
        np.repeat(np.arange(num_rows), 2), np.stack([user, users + item], 1).ravel(),
        np.ones(2 * num_rows), np.zeros(num_rows), 140,
    ).with_relations([relation])  # fmt: skip
    full = own.expand()
    scores = [0.5 + sum(w[i] * x for i, x in row)
              + sum(v[a] @ v[b] * xa * xb for n, (a, xa) in enumerate(row)
                    for b, xb in row[n + 1:])
              for row in listed(full)]  # fmt: skip
    labels = np.asarray(scores) + rng.normal(0, 0.3, num_rows)
    data = SparseRows.checked(own.rows, own.ids, own.values, labels, 140)
    return data.with_relations([relation]), rated


def test_mcmc_with_relations_learns_data_from_a_known_fm_with_implicit_feedback():
    train, rated = implicit_fm_data(2000, seed=1)
    test = implicit_fm_data(1000, seed=2, rated=rated)[0].expand()
    groups = np.repeat([0, 1, 2], [60, 40, 40])
    model = fit_mcmc(train, embedding_dim=3, num_sweeps=80, burn_in=20,
                     groups=groups, seed=0)  # fmt: skip
    # The draws equal the expanded rows' (the ALS test above); here the
    # chain reaches the noise floor.
    assert rmse(model, test) < 0.37  # noise 0.3
    scores = model.predict(ragged(test), verbose=0)[:, 0]
    assert np.isfinite(scores).all()


def test_relations_refuse_bad_input_with_the_reason():
    data = relational_data()
    own = SparseRows.checked(data.rows, data.ids, data.values, data.labels, 21)
    table = Relation.from_lists([0] * 40, [[6, 7]], [[1.0, 1.0]])
    with pytest.raises(ValueError, match="relation 0 indexes 39 rows; the data has 40"):
        own.with_relations([table.take([0] * 39)])
    with pytest.raises(ValueError, match="relation 1: feature 6 is also"):
        own.with_relations([table, table])
    with pytest.raises(ValueError, match="relation 0: feature 3 is also a row's own"):
        own.with_relations([Relation.from_lists([0] * 40, [[3]], [[1.0]])])
    with pytest.raises(ValueError, match="feature id 30 is outside"):
        own.with_relations([Relation.from_lists([0] * 40, [[30]], [[1.0]])])
    with pytest.raises(
        ValueError, match="relation index 2 is outside the table's 1 rows"
    ):
        Relation.from_lists([0, 2], [[6]], [[1.0]])
    with pytest.raises(ValueError, match="holds a feature twice"):
        Relation.from_lists([0], [[6, 6]], [[1.0, 1.0]])
    with pytest.raises(ValueError, match="NaN or infinite"):
        Relation.from_lists([0], [[6]], [[np.inf]])
