import numpy as np
import pytest

from keras_fm.bayes import SparseRows, color_features


def random_rows(seed, num_rows=100, num_features=30, longest=8):
    rng = np.random.default_rng(seed)
    return [
        sorted(rng.choice(num_features, rng.integers(1, longest), replace=False))
        for _ in range(num_rows)
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_features_of_a_row_never_share_a_color(seed):
    ids = random_rows(seed)
    data = SparseRows.from_lists(ids, [[1.0] * len(r) for r in ids], [0] * 100, 40)
    colors = color_features(data)
    for row in ids:
        assert len(set(colors[row])) == len(row)
    assert (colors[30:] == -1).all()  # features of no row
    assert (colors[:30] >= 0).sum() == len({i for row in ids for i in row})


def test_one_hot_fields_get_one_color_each():
    ids = [[user, 10 + item, 15 + item % 2] for user in range(10) for item in range(5)]
    data = SparseRows.from_lists(ids, [[1.0] * 3] * 50, [0] * 50, 17)
    assert color_features(data).tolist() == [0] * 10 + [1] * 5 + [2] * 2


def test_a_long_list_gets_as_many_colors_as_its_length():
    data = SparseRows.from_lists([list(range(130))], [[1.0] * 130], [1.0], 130)
    assert sorted(color_features(data)) == list(range(130))


def test_rows_make_implicit_values_one_and_refuse_bad_input():
    data = SparseRows.from_lists([[2, 0], [1]], [[float("nan"), 0.5], [3.0]], [1, 0], 3)
    assert data.rows.tolist() == [0, 0, 1]
    assert data.values.tolist() == [1.0, 0.5, 3.0]
    with pytest.raises(ValueError, match="row 1 holds feature 2 twice"):
        SparseRows.from_lists([[0], [2, 2]], [[1.0], [1.0, 1.0]], [0, 1], 3)
    with pytest.raises(
        ValueError, match=r"feature id 3 is outside \[0, num_features=3\)"
    ):
        SparseRows.from_lists([[3]], [[1.0]], [0], 3)
    with pytest.raises(ValueError, match="a label is NaN"):
        SparseRows.from_lists([[0]], [[1.0]], [float("nan")], 3)
    with pytest.raises(ValueError, match="as many values as ids"):
        SparseRows.from_lists([[0, 1]], [[1.0]], [0], 3)
