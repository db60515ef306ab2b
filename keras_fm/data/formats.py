"""How a model's data is read from files: one description, saved with the model."""

import dataclasses
import gzip
import os
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
from keras_fm.data.files import (
    PathLike,
    compression_of,
    count_lines,
    resolve_paths,
)
from keras_fm.data.padding import pad_rows
from keras_fm.data.pipeline import (
    Cache,
    cache_batches,
    cache_key,
    line_shuffle,
    shuffle_rows,
)
from keras_fm.data.sparse_text import read_libffm, read_libsvm
from keras_fm.data.tfrecord import (
    LABEL_KEY,
    infer_schema,
    read_tfrecord,
    schema_from_json,
)
from keras_fm.features import Feature, LookupFeature, NumericFeature, adapt

FORMATS = ("libsvm", "libffm", "csv", "tfrecord")


@dataclasses.dataclass
class DataFormat:
    """A file format and the choices that turn its rows into model inputs.

    Attributes:
        format: `"libsvm"`, `"libffm"`, `"csv"` or `"tfrecord"` (tf.Example
            records, e.g. from `keras_fm.data.convert_to_tfrecord`).
        num_features: size of the feature space (libsvm, libffm).
        num_fields: fields of libffm rows, or of libsvm rows read by position.
        fields_by_position: libsvm only: pair ``k`` of every row is field
            ``k`` (frappe, the NFM MovieLens files), for field models.
        label_column: CSV: the label's column; TFRecord: the label's feature
            (default ``"label"``).
        numeric_columns: CSV only: real-valued columns (the others are
            categorical strings, looked up in a vocabulary built from the
            training data).
        field_delim: CSV only: the delimiter.
        schema: TFRecord only: ``{name: {"dtype", "ragged"}}`` as from
            `keras_fm.data.infer_schema` (filled by `infer_sizes`). Float
            features are numeric inputs, except ``X_value`` next to an int
            feature ``X``, which weighs ``X``'s ids (the layout
            `convert_to_tfrecord` writes for libsvm and libffm rows); int and
            string features are looked up in a vocabulary built from the
            training data, lists as multivalent features.
        min_count: CSV and TFRecord: the fewest occurrences a categorical
            value needs in the training data to get its own row (rarer values
            share the out-of-vocabulary row).
        padded: libsvm rows without fields only: `read` yields them as dense
            rows (`keras_fm.data.pad_rows`), for a model built with
            ``build_sparse_fm(..., padded=True)``, whose steps XLA compiles.
    """

    format: str
    num_features: int | None = None
    num_fields: int | None = None
    fields_by_position: bool = False
    label_column: str | None = None
    numeric_columns: list[str] = dataclasses.field(default_factory=list)
    field_delim: str = ","
    schema: dict[str, dict[str, Any]] | None = None
    min_count: int = 2
    padded: bool = False

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {self.format!r}")
        if self.format == "csv" and not self.label_column:
            raise ValueError("CSV data needs a label column (--label-column)")
        if self.fields_by_position and self.layout not in ("libsvm", "tfrecord"):
            raise ValueError("fields by position apply to libsvm rows only")

    @property
    def layout(self) -> str:
        """How rows hold features: `"libsvm"`, `"libffm"` or `"columns"`.

        A TFRecord file written by `convert_to_tfrecord` from libsvm or libffm
        text keeps that text's layout (``ids``, ``values`` and ``fields``
        lists) and is read as that text would be; other TFRecords (one
        feature per column) and CSV files are `"columns"`. `"tfrecord"`
        while the schema is not known yet.
        """
        if self.format == "csv":
            return "columns"
        if self.format != "tfrecord":
            return self.format
        if self.schema is None:
            return "tfrecord"
        names = set(self.schema)
        if names == {"ids", "values"}:
            return "libsvm"
        if names == {"fields", "ids", "values"}:
            return "libffm"
        return "columns"

    @property
    def has_fields(self) -> bool:
        return self.layout != "libsvm" or self.fields_by_position

    def _rows(
        self, paths: PathLike | Sequence[PathLike], cache: Cache, **common: Any
    ) -> tf.data.Dataset:
        """The file's batches as its reader gives them (no fields split out)."""
        if self.format == "tfrecord":
            if self.schema is None:
                raise ValueError("TFRecord data needs a schema: call infer_sizes")
            return read_tfrecord(
                paths,
                schema=schema_from_json(self.schema),
                label_column=self.label_column or LABEL_KEY,
                cache=cache,
                **common,
            )
        if self.format == "csv":
            return read_csv(
                paths,
                label_column=self.label_column or "",
                numeric_columns=self.numeric_columns,
                field_delim=self.field_delim,
                cache=cache,
                **common,
            )
        if self.format == "libffm":
            return read_libffm(
                paths,
                num_fields=self.num_fields,
                num_features=self.num_features,
                cache=cache,
                **common,
            )
        by_position = self.fields_by_position and self.num_fields is not None
        return read_libsvm(
            paths,
            num_features=self.num_features,
            cache=cache,
            pairs_per_row=self.num_fields if by_position else None,
            **common,
        )

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
        batches, finish = self._batches(
            paths, task, batch_size, shuffle_buffer, seed, cache
        )
        return finish(batches)

    def read_stream(
        self,
        paths: PathLike | Sequence[PathLike],
        task: str,
        batch_size: int = 4096,
        shuffle_buffer: int = 0,
        seed: int | None = None,
        cache: Cache = False,
    ) -> tuple[tf.data.Dataset, tf.data.Dataset]:
        """The rows of ``paths`` over and over, shuffled, in batches of
        exactly ``batch_size``; and one pass over them, as `read` gives it
        without a shuffle.

        The stream is for ``model.fit(stream, steps_per_epoch=...)``
        (`keras_fm.training.epoch_steps`): the parsed (cached) rows repeat,
        then are shuffled through ``shuffle_buffer`` rows
        (`keras_fm.data.pipeline.shuffle_rows`; rows near the end of a pass
        mix with the next pass's first) and batched, so that every batch is
        full (none is dropped), every step takes the same shape and XLA
        compiles it once. The pass is not shuffled; both datasets share one
        cache, so that iterating the pass (to size the data or adapt
        vocabularies) fills it for the stream.

        Returns:
            ``(stream, one_pass)``.
        """
        batches, finish = self._batches(paths, task, batch_size, 0, seed, cache)
        repeated = batches.repeat()
        if shuffle_buffer:
            stream = shuffle_rows(repeated, shuffle_buffer, batch_size, seed)
        else:
            stream = repeated.rebatch(batch_size)
        return finish(stream.prefetch(tf.data.AUTOTUNE)), finish(batches)

    def _batches(
        self,
        paths: PathLike | Sequence[PathLike],
        task: str,
        batch_size: int,
        shuffle_buffer: int,
        seed: int | None,
        cache: Cache,
    ) -> tuple[tf.data.Dataset, Any]:
        """The reader's batches, and the step that makes them model inputs
        (padding raw rows, or nothing)."""
        common: dict[str, Any] = {"task": task, "batch_size": batch_size, "seed": seed}
        if not self.has_fields or self.layout == "columns":
            rows = self._rows(paths, cache, shuffle_buffer=shuffle_buffer, **common)
            if self.padded and self.layout == "libsvm" and not self.has_fields:
                return rows, _pad
            return rows, _as_is
        dataset = self._rows(
            paths, False, shuffle_buffer=line_shuffle(shuffle_buffer, cache), **common
        )
        if self.layout == "libffm":
            regroup = split_fields(self.num_fields or 0)
        else:
            regroup = split_positions(self.num_fields or 0)
        regrouped = dataset.map(regroup, num_parallel_calls=tf.data.AUTOTUNE)
        regrouped.skipped_lines = getattr(dataset, "skipped_lines", None)
        key = cache_key(resolve_paths(paths), [self.to_dict(), task, batch_size])
        cached = cache_batches(regrouped, cache, key, shuffle_buffer, batch_size, seed)
        return cached, _as_is

    def count_rows(self, paths: PathLike | Sequence[PathLike]) -> int:
        """The rows ``paths`` hold, without parsing them: lines of text
        (after each CSV file's header), or TFRecord records. A malformed
        line counts; the readers raise on it."""
        files = resolve_paths(paths)
        if self.format == "tfrecord":
            return sum(
                int(
                    tf.data.TFRecordDataset(path, compression_of(path)).reduce(
                        tf.constant(0, tf.int64), lambda n, _: n + 1
                    )
                )
                for path in files
            )
        header = 1 if self.format == "csv" else 0
        return sum(max(count_lines(path) - header, 0) for path in files)

    def check_not_empty(self, paths: PathLike | Sequence[PathLike]) -> None:
        """Raises a ValueError naming ``paths`` when they hold no example:
        no line but blank ones (after a CSV header), or no TFRecord byte."""
        for path in resolve_paths(paths):
            if self.format == "tfrecord":
                if os.path.getsize(path) > 0:
                    return
                continue
            with open_text(path) as handle:
                if self.format == "csv":
                    handle.readline()
                if any(line.strip() for line in handle):
                    return
        files = resolve_paths(paths)
        raise ValueError(f"no examples in {files}: the files hold no data line")

    def infer_sizes(self, paths: PathLike | Sequence[PathLike]) -> "DataFormat":
        """Fills ``num_features``, ``num_fields`` or the TFRecord schema from data."""
        if self.format == "tfrecord" and self.schema is None:
            schema = infer_schema(paths, label_column=self.label_column or LABEL_KEY)
            return dataclasses.replace(self, schema=schema).infer_sizes(paths)
        if self.fields_by_position and self.layout != "libsvm":
            raise ValueError(
                "fields by position apply to libsvm rows (ids and values) only"
            )
        if self.layout == "columns" or (
            self.num_features is not None
            and (self.num_fields is not None or not self.has_fields)
        ):
            return self
        max_id, max_field, max_length = -1, -1, 0
        for features, _ in self._rows(paths, False, task="regression", batch_size=8192):
            ids = features["ids"]
            if int(tf.size(ids.flat_values)):
                max_id = max(max_id, int(tf.reduce_max(ids.flat_values)))
            max_length = max(max_length, int(tf.reduce_max(ids.row_lengths())))
            if "fields" in features and int(tf.size(features["fields"].flat_values)):
                max_field = max(
                    max_field, int(tf.reduce_max(features["fields"].flat_values))
                )
        num_fields = self.num_fields
        if num_fields is None and self.layout == "libffm":
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

    @property
    def sized_by_reading(self) -> bool:
        """Whether `with_sizes_of` can size this format from its read batches:
        raw libsvm rows (no fields) of unknown ``num_features``, whose reader
        needs no size."""
        return (
            self.format == "libsvm"
            and not self.has_fields
            and self.num_features is None
        )

    def with_sizes_of(self, datasets: Sequence[tf.data.Dataset]) -> "DataFormat":
        """This format with ``num_features`` one past the largest id of
        ``datasets`` (batches of raw libsvm rows, as `read` gives them): the
        sizes `infer_sizes` would find, from data already read. A cached
        dataset's cache is filled by this pass, so its files are parsed once.
        """
        if not self.sized_by_reading:
            raise ValueError(f"sizes of {self.format} data come from infer_sizes")

        def largest(features: Any, labels: Any) -> Any:
            del labels
            ids = features["ids"]
            flat = ids.flat_values if isinstance(ids, tf.RaggedTensor) else ids
            return tf.reduce_max(tf.concat([[-1], tf.reshape(flat, [-1])], 0))

        top = -1
        for dataset in datasets:
            ids = dataset.map(largest, num_parallel_calls=tf.data.AUTOTUNE)
            top = max(top, int(ids.reduce(tf.constant(-1, tf.int64), tf.maximum)))
        return dataclasses.replace(self, num_features=top + 1)

    def feature_specs(self, train: tf.data.Dataset) -> list[Feature]:
        """Feature specs for field models (vocabularies adapted on ``train``)."""
        if self.layout == "libffm":
            return libffm_features(self.num_fields or 0, self.num_features or 0)
        if self.layout == "libsvm":
            return position_features(self.num_fields or 0, self.num_features or 0)
        if self.format == "tfrecord":
            return adapt(self._tfrecord_specs(), train)
        columns = [name for name in train.element_spec[0]]
        specs: list[Feature] = [
            NumericFeature(c, transform="log", normalize=True)
            if c in self.numeric_columns
            else LookupFeature(c, min_count=self.min_count)
            for c in columns
        ]
        return adapt(specs, train)

    def _tfrecord_specs(self) -> list[Feature]:
        schema = self.schema or {}
        specs: list[Feature] = []
        for name, entry in schema.items():
            base = name.removesuffix("_value")
            if (
                entry["dtype"] == "float32"
                and base != name
                and schema.get(base, {}).get("dtype") == "int64"
            ):
                continue  # the weights of ``base``'s ids
            if entry["dtype"] == "float32":
                if entry["ragged"]:
                    raise ValueError(
                        f"TFRecord feature {name!r} holds lists of floats; only int "
                        "and string lists (or the X_value weights of an int feature "
                        "X) can be model inputs"
                    )
                specs.append(NumericFeature(name, normalize=True))
                continue
            weights = f"{name}_value"
            specs.append(
                LookupFeature(
                    name,
                    dtype=entry["dtype"],
                    min_count=self.min_count,
                    multivalent=entry["ragged"],
                    weight_feature=weights
                    if schema.get(weights, {}).get("dtype") == "float32"
                    else None,
                )
            )
        if not specs:
            raise ValueError("the TFRecord data holds no feature besides the label")
        return specs

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``DataFormat(**d)`` rebuilds it."""
        return dataclasses.asdict(self)


def _pad(batches: tf.data.Dataset) -> tf.data.Dataset:
    padded = batches.map(pad_rows, num_parallel_calls=tf.data.AUTOTUNE)
    padded.skipped_lines = getattr(batches, "skipped_lines", None)
    return padded.prefetch(tf.data.AUTOTUNE)


def _as_is(batches: tf.data.Dataset) -> tf.data.Dataset:
    return batches


def open_text(path: str) -> Any:
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def labels_of(dataset: tf.data.Dataset) -> np.ndarray:
    return np.concatenate([labels.numpy() for _, labels in dataset])
