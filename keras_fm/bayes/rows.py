"""Training data for the Bayesian learners: every non-zero of every row, at once."""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from keras_fm.bayes.relations import Relation, flatten


@dataclass(frozen=True)
class SparseRows:
    """Rows of (feature id, value) pairs, as flat arrays (coordinate form).

    The Bayesian learners sweep over all the data at every step, so they hold
    it whole, as the three arrays of its non-zeros.

    Attributes:
        rows: int64 `(nnz,)`, the row of each non-zero (sorted).
        ids: int64 `(nnz,)`, its feature id, in ``[0, num_features)``.
        values: float64 `(nnz,)`, its value ``x_i``.
        labels: float64 `(num_rows,)`, the targets (0/1 for binary tasks).
        num_features: the size of the feature space.
        relations: the `keras_fm.bayes.Relation` blocks whose table rows the
            rows also hold (`with_relations`).
    """

    rows: np.ndarray
    ids: np.ndarray
    values: np.ndarray
    labels: np.ndarray
    num_features: int
    relations: tuple[Relation, ...] = ()

    @property
    def num_rows(self) -> int:
        return len(self.labels)

    @classmethod
    def from_lists(
        cls,
        ids: list[list[int]],
        values: list[list[float]],
        labels: Any,
        num_features: int,
    ) -> "SparseRows":
        """Rows given as lists of ids and of values, one list per row.

        Args:
            ids: the feature ids of each row.
            values: their values (NaN: libsvm's implicit 1.0).
            labels: one target per row.
            num_features: the size of the feature space; every id must be
                below it.

        Returns:
            The `SparseRows`.

        Raises:
            ValueError: for rows of different lengths of ids and values, an
                id outside ``[0, num_features)``, or a non-finite value.
        """
        rows, flat_ids, flat_values = flatten(ids, values, "row")
        return cls.checked(rows, flat_ids, flat_values, labels, num_features)

    @classmethod
    def from_dataset(cls, dataset: Any, num_features: int) -> "SparseRows":
        """The rows of a `keras_fm.data.read_libsvm` dataset (all its batches).

        Args:
            dataset: batches of ``({"ids", "values"}, labels)`` with ragged
                ids and values.
            num_features: the size of the feature space.

        Returns:
            The `SparseRows`.
        """
        ids, values, labels = [], [], []
        for features, batch_labels in dataset:
            ids.extend(features["ids"].to_list())
            values.extend(features["values"].to_list())
            labels.append(np.asarray(batch_labels, np.float64).reshape(-1))
        all_labels = np.concatenate(labels) if labels else np.zeros(0)
        return cls.from_lists(ids, values, all_labels, num_features)

    @classmethod
    def checked(
        cls, rows: Any, ids: Any, values: Any, labels: Any, num_features: int
    ) -> "SparseRows":
        """The arrays, checked and with libsvm's implicit values made 1.0."""
        ids = np.asarray(ids, np.int64)
        values = np.asarray(values, np.float64)
        values = np.where(np.isnan(values), 1.0, values)
        labels = np.asarray(labels, np.float64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= num_features):
            bad = ids[(ids < 0) | (ids >= num_features)][0]
            raise ValueError(
                f"feature id {bad} is outside [0, num_features={num_features})"
            )
        if not np.isfinite(values).all():
            raise ValueError("a feature value is infinite")
        if not np.isfinite(labels).all():
            raise ValueError("a label is NaN or infinite")
        rows = np.asarray(rows, np.int64)
        pairs = rows * num_features + ids
        unique, counts = np.unique(pairs, return_counts=True)
        if (counts > 1).any():
            row, feature = divmod(int(unique[counts > 1][0]), num_features)
            raise ValueError(
                f"row {row} holds feature {feature} twice: the Bayesian "
                "learners need each feature at most once per row"
            )
        return cls(rows, ids, values, labels, num_features)

    def with_relations(self, relations: Sequence[Relation]) -> "SparseRows":
        """The same rows, also holding the table rows of ``relations``.

        Args:
            relations: `keras_fm.bayes.Relation` blocks, each indexing these
                rows; their features must be in ``[0, num_features)``, and
                no feature may be both a row's own and a relation's, or in
                two relations.

        Returns:
            A `SparseRows` whose Bayesian learners sweep the relations in
            the time of their tables (Rendle, 2013).

        Raises:
            ValueError: naming the relation and the feature, otherwise.
        """
        seen = np.zeros(self.num_features, bool)
        seen[self.ids] = True
        for number, relation in enumerate(relations):
            where = f"relation {number}"
            if len(relation.index) != self.num_rows:
                raise ValueError(
                    f"{where} indexes {len(relation.index)} rows; the data has "
                    f"{self.num_rows}"
                )
            features = relation.features
            if features.size and features.max() >= self.num_features:
                raise ValueError(
                    f"{where}: feature id {int(features.max())} is outside "
                    f"[0, num_features={self.num_features})"
                )
            if seen[features].any():
                raise ValueError(
                    f"{where}: feature {int(features[seen[features]][0])} is "
                    "also a row's own or another relation's"
                )
            seen[features] = True
        return replace(self, relations=tuple(relations))

    def expand(self) -> "SparseRows":
        """The same rows with every relation written into them (as a model
        serving them reads them), and no relations."""
        parts = [(self.rows, self.ids, self.values)]
        parts += [relation.expanded() for relation in self.relations]
        rows, ids, values = (
            np.concatenate(arrays) for arrays in zip(*parts, strict=True)
        )
        order = np.argsort(rows, kind="stable")
        return SparseRows(
            rows[order], ids[order], values[order], self.labels, self.num_features
        )
