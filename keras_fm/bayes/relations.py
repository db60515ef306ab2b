"""Relation blocks: features that many training rows share, stored once.

SVD++-style implicit feedback gives every rating of a user the list of all
the movies that user rated: hundreds of non-zeros per row, the same for all
the user's rows. Rendle (2013, "Scaling factorization machines to relational
data") stores such a block once per user, with an index from each row to its
user, and shows that a sweep can then cost the size of the block rather than
of its expansion into the rows; myFM calls the same idea `RelationBlock`.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np


def flatten(
    ids: list[list[int]], values: list[list[float]], what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lists of ids and of values, one list per row, as the flat arrays
    ``(rows, ids, values)``; ``what`` names a row in the error."""
    lengths = np.array([len(row) for row in ids], dtype=np.int64)
    if [len(row) for row in values] != lengths.tolist():
        raise ValueError(f"each {what} needs as many values as ids")
    flat_ids = np.fromiter((i for row in ids for i in row), np.int64)
    flat_values = np.fromiter((x for row in values for x in row), np.float64)
    return np.repeat(np.arange(len(lengths)), lengths), flat_ids, flat_values


@dataclass(frozen=True)
class Relation:
    """A table of feature rows, and which of them each training row holds.

    Training row ``r`` holds, besides its own non-zeros, every non-zero of
    table row ``index[r]``. Its features are ordinary features of the model
    (ids in the same feature space, with their own prior groups), used only
    through this table.

    Attributes:
        index: int64 `(num_rows,)`, the table row of each training row.
        rows: int64 `(nnz,)`, the table row of each non-zero (sorted).
        ids: int64 `(nnz,)`, its feature id.
        values: float64 `(nnz,)`, its value.
        num_table_rows: the number of table rows.

    Example:

    >>> # users 0 and 1; rows 0, 1 are user 0's, row 2 is user 1's. User 0
    >>> # rated movies 5 and 6, user 1 movie 6: features 10 + movie.
    >>> implicit = Relation.from_lists(
    ...     [0, 0, 1], [[15, 16], [16]], [[0.7, 0.7], [1.0]]
    ... )
    """

    index: np.ndarray
    rows: np.ndarray
    ids: np.ndarray
    values: np.ndarray
    num_table_rows: int

    @classmethod
    def from_lists(
        cls, index: Any, ids: list[list[int]], values: list[list[float]]
    ) -> "Relation":
        """A relation from its table given as lists, one list per table row.

        Args:
            index: the table row of each training row.
            ids: the feature ids of each table row.
            values: their values.

        Returns:
            The `Relation`.

        Raises:
            ValueError: for lists of different lengths, an index outside the
                table, a negative id, a feature twice in a table row, or a
                non-finite value.
        """
        rows, flat_ids, flat_values = flatten(ids, values, "table row")
        return cls.checked(index, rows, flat_ids, flat_values, len(ids))

    @classmethod
    def checked(
        cls, index: Any, rows: Any, ids: Any, values: Any, num_table_rows: int
    ) -> "Relation":
        """The arrays, checked (see `from_lists`)."""
        index = np.asarray(index, np.int64).reshape(-1)
        rows, ids = np.asarray(rows, np.int64), np.asarray(ids, np.int64)
        values = np.asarray(values, np.float64)
        if index.size and (index.min() < 0 or index.max() >= num_table_rows):
            bad = int(index[(index < 0) | (index >= num_table_rows)][0])
            raise ValueError(
                f"relation index {bad} is outside the table's {num_table_rows} rows"
            )
        if ids.size and ids.min() < 0:
            raise ValueError(f"feature id {int(ids.min())} is negative")
        if not np.isfinite(values).all():
            raise ValueError("a feature value of a relation is NaN or infinite")
        pairs = np.unique(rows * (int(ids.max(initial=0)) + 1) + ids)
        if pairs.size != ids.size:
            raise ValueError("a relation's table row holds a feature twice")
        return cls(index, rows, ids, values, int(num_table_rows))

    @property
    def features(self) -> np.ndarray:
        """The distinct feature ids of the table."""
        return np.unique(self.ids)

    def take(self, index: Any) -> "Relation":
        """The same table, for other training rows (e.g. the test rows)."""
        return Relation.checked(
            index, self.rows, self.ids, self.values, self.num_table_rows
        )

    def expanded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rows, ids, values)``: the non-zeros it adds to the training rows."""
        order = np.argsort(self.rows, kind="stable")
        starts = np.searchsorted(self.rows[order], np.arange(self.num_table_rows + 1))
        lengths = np.diff(starts)[self.index]
        rows = np.repeat(np.arange(len(self.index)), lengths)
        # Non-zero ``n`` of training row ``r`` is table entry starts[index[r]] + n.
        within = np.arange(lengths.sum()) - np.repeat(
            np.cumsum(lengths) - lengths, lengths
        )
        entries = order[np.repeat(starts[:-1][self.index], lengths) + within]
        return rows, self.ids[entries], self.values[entries]
