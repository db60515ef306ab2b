"""How a model's data is read from files: one description, saved with the model."""

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from keras_fm.data.csv_reader import read_csv
from keras_fm.data.fields import (
    libffm_features,
    position_features,
    split_fields,
    split_positions,
)
from keras_fm.data.files import PathLike, resolve_paths
from keras_fm.data.pipeline import Cache, cache_batches, cache_key, line_shuffle
from keras_fm.data.sparse_text import read_libffm, read_libsvm
from keras_fm.features import Feature, LookupFeature, NumericFeature, adapt

FORMATS = ("libsvm", "libffm", "csv")


@dataclasses.dataclass
class DataFormat:
    """A file format and the choices that turn its rows into model inputs.

    Attributes:
        format: `"libsvm"`, `"libffm"` or `"csv"`.
        num_features: size of the feature space (libsvm, libffm).
        num_fields: fields of libffm rows, or of libsvm rows read by position.
        fields_by_position: libsvm only: pair ``k`` of every row is field
            ``k`` (frappe, the NFM MovieLens files), for field models.
        label_column: CSV only: the label's column.
        numeric_columns: CSV only: real-valued columns (the others are
            categorical strings, looked up in a vocabulary built from the
            training data).
        field_delim: CSV only: the delimiter.
    """

    format: str
    num_features: int | None = None
    num_fields: int | None = None
    fields_by_position: bool = False
    label_column: str | None = None
    numeric_columns: list[str] = dataclasses.field(default_factory=list)
    field_delim: str = ","

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {self.format!r}")
        if self.format == "csv" and not self.label_column:
            raise ValueError("CSV data needs a label column (--label-column)")
        if self.fields_by_position and self.format != "libsvm":
            raise ValueError("fields by position apply to libsvm files only")

    @property
    def has_fields(self) -> bool:
        return self.format != "libsvm" or self.fields_by_position

    def read(
        self,
        paths: PathLike | Sequence[PathLike],
        task: str,
        batch_size: int = 4096,
        shuffle_buffer: int = 0,
        seed: int | None = None,
        cache: Cache = False,
    ) -> tf.data.Dataset:
        """The ``(features, labels)`` batches of ``paths``, ready for the model.

        ``shuffle_buffer``, ``seed`` and ``cache`` are as in
        `keras_fm.data.read_libsvm`; the cache holds the batches as the model
        takes them (fields split out included).
        """
        common: dict[str, Any] = {
            "task": task,
            "batch_size": batch_size,
            "seed": seed,
        }
        if self.format == "csv":
            return read_csv(
                paths,
                label_column=self.label_column or "",
                numeric_columns=self.numeric_columns,
                field_delim=self.field_delim,
                shuffle_buffer=shuffle_buffer,
                cache=cache,
                **common,
            )
        if self.format == "libsvm" and not self.fields_by_position:
            return read_libsvm(
                paths,
                num_features=self.num_features,
                shuffle_buffer=shuffle_buffer,
                cache=cache,
                **common,
            )
        common["shuffle_buffer"] = line_shuffle(shuffle_buffer, cache)
        if self.format == "libffm":
            dataset = read_libffm(
                paths,
                num_fields=self.num_fields,
                num_features=self.num_features,
                **common,
            )
            regroup = split_fields(self.num_fields or 0)
        else:
            dataset = read_libsvm(paths, num_features=self.num_features, **common)
            regroup = split_positions(self.num_fields or 0)
        regrouped = dataset.map(regroup, num_parallel_calls=tf.data.AUTOTUNE)
        regrouped.skipped_lines = dataset.skipped_lines
        key = cache_key(resolve_paths(paths), [self.to_dict(), task, batch_size])
        return cache_batches(regrouped, cache, key, shuffle_buffer, batch_size, seed)

    def infer_sizes(self, paths: PathLike | Sequence[PathLike]) -> "DataFormat":
        """Fills ``num_features`` / ``num_fields`` from the data where unset."""
        if self.format == "csv" or (
            self.num_features is not None
            and (self.num_fields is not None or not self.has_fields)
        ):
            return self
        reader = read_libffm if self.format == "libffm" else read_libsvm
        max_id, max_field, max_length = -1, -1, 0
        for features, _ in reader(paths, task="regression", batch_size=8192):
            ids = features["ids"]
            if int(tf.size(ids.flat_values)):
                max_id = max(max_id, int(tf.reduce_max(ids.flat_values)))
            max_length = max(max_length, int(tf.reduce_max(ids.row_lengths())))
            if "fields" in features and int(tf.size(features["fields"].flat_values)):
                max_field = max(
                    max_field, int(tf.reduce_max(features["fields"].flat_values))
                )
        num_fields = self.num_fields
        if num_fields is None and self.format == "libffm":
            num_fields = max_field + 1
        if num_fields is None and self.fields_by_position:
            num_fields = max_length
        return dataclasses.replace(
            self,
            num_features=self.num_features
            if self.num_features is not None
            else max_id + 1,
            num_fields=num_fields,
        )

    def feature_specs(self, train: tf.data.Dataset) -> list[Feature]:
        """Feature specs for field models (vocabularies adapted on ``train``)."""
        if self.format == "libffm":
            return libffm_features(self.num_fields or 0, self.num_features or 0)
        if self.format == "libsvm":
            return position_features(self.num_fields or 0, self.num_features or 0)
        columns = [name for name in train.element_spec[0]]
        specs: list[Feature] = [
            NumericFeature(c, transform="log", normalize=True)
            if c in self.numeric_columns
            else LookupFeature(c, min_count=2)
            for c in columns
        ]
        return adapt(specs, train)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``DataFormat(**d)`` rebuilds it."""
        return dataclasses.asdict(self)


def labels_of(dataset: tf.data.Dataset) -> np.ndarray:
    return np.concatenate([labels.numpy() for _, labels in dataset])
