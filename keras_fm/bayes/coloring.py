"""Groups of features that never share a row, sampled together."""

import numpy as np

from keras_fm.bayes.rows import SparseRows


def color_features(data: SparseRows) -> np.ndarray:
    """A color per feature such that two features of a row differ in color.

    Given everything else, the parameters of features that never share a
    row depend on disjoint rows, so a Gibbs sampler may draw all of one
    color's at once and stay exact. Greedy, in the order of the ids: a
    feature takes the smallest color that no other feature of its rows has.
    The features of a one-hot field share no row, so data of F one-hot
    fields with field-contiguous ids gets F colors; a multi-valued field
    (genres, an implicit-feedback list) needs as many as its longest list.

    Args:
        data: the training rows.

    Returns:
        int64 `(num_features,)`: the color of each feature, -1 for features
        with no non-zero in ``data``.
    """
    order = np.argsort(data.ids, kind="stable")
    ids, rows = data.ids[order], data.rows[order]
    starts = np.searchsorted(ids, np.arange(data.num_features + 1))
    colors = np.full(data.num_features, -1, np.int64)
    taken = np.zeros((data.num_rows, 1), np.uint64)  # bit c: color c is used
    for feature in range(data.num_features):
        its_rows = rows[starts[feature] : starts[feature + 1]]
        if not its_rows.size:
            continue
        used = np.bitwise_or.reduce(taken[its_rows], axis=0)
        word = int(np.argmax(used != np.uint64(2**64 - 1)))
        if used[word] == np.uint64(2**64 - 1):  # every word full: one more
            taken = np.hstack([taken, np.zeros((data.num_rows, 1), np.uint64)])
            word = taken.shape[1] - 1
            free = 0
        else:
            free = _lowest_zero_bit(int(used[word]))
        colors[feature] = 64 * word + free
        taken[its_rows, word] |= np.uint64(1 << free)
    return colors


def _lowest_zero_bit(word: int) -> int:
    return ((~word) & (word + 1)).bit_length() - 1
