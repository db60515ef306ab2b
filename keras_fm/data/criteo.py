"""The Criteo display-advertising layout: 13 count columns, 26 hashed categories."""

from collections.abc import Sequence

import tensorflow as tf

from keras_fm.data.csv_reader import read_csv
from keras_fm.data.files import PathLike
from keras_fm.data.pipeline import Cache
from keras_fm.features import Feature, HashedFeature, NumericFeature

CRITEO_NUMERIC_COLUMNS = tuple(f"I{i}" for i in range(1, 14))
CRITEO_CATEGORICAL_COLUMNS = tuple(f"C{i}" for i in range(1, 27))
CRITEO_COLUMNS = ("label", *CRITEO_NUMERIC_COLUMNS, *CRITEO_CATEGORICAL_COLUMNS)


def read_criteo(
    paths: PathLike | Sequence[PathLike],
    *,
    header: bool = False,
    field_delim: str = "\t",
    batch_size: int = 256,
    shuffle_buffer: int = 0,
    seed: int | None = None,
    drop_remainder: bool = False,
    on_error: str = "raise",
    cache: Cache = False,
) -> tf.data.Dataset:
    """Reads Criteo-layout files: label, I1..I13, C1..C26, any cell may be empty.

    The Kaggle/Criteo releases are tab-separated with no header (the
    defaults); DeepCTR's ``criteo_sample.txt`` is comma-separated with a
    header (``header=True, field_delim=","``). I1..I13 are read as float32
    (empty: NaN, a missing value), C1..C26 as strings (empty: ``""``), and the
    task is binary.

    Args:
        paths: a path, a glob pattern, or a list of them.
        header: bool. Whether the files start with a header line. Defaults to
            `False`.
        field_delim: str. Defaults to tab.
        batch_size, shuffle_buffer, seed, drop_remainder, on_error, cache: as
            `keras_fm.data.read_csv`.

    Returns:
        The `read_csv` dataset: 39 features and binary labels.
    """
    return read_csv(
        paths,
        label_column="label",
        task="binary",
        column_names=CRITEO_COLUMNS,
        header=header,
        field_delim=field_delim,
        numeric_columns=CRITEO_NUMERIC_COLUMNS,
        batch_size=batch_size,
        shuffle_buffer=shuffle_buffer,
        seed=seed,
        drop_remainder=drop_remainder,
        on_error=on_error,
        cache=cache,
    )


def criteo_features(num_bins: int = 1 << 20) -> list[Feature]:
    """Specs for the Criteo layout: log-scaled counts and hashed categories.

    I1..I13 become `NumericFeature(transform="log")` (counts are heavy-tailed;
    a missing count contributes nothing) and C1..C26
    `HashedFeature(num_bins=num_bins)` each.

    Args:
        num_bins: int. Hash bins of each categorical column. Defaults to
            `2**20`.

    Returns:
        39 feature specs: ``I1`` ... ``I13``, then ``C1`` ... ``C26``.
    """
    return [
        NumericFeature(name, transform="log") for name in CRITEO_NUMERIC_COLUMNS
    ] + [HashedFeature(name, num_bins=num_bins) for name in CRITEO_CATEGORICAL_COLUMNS]
