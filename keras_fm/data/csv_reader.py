"""Reader of delimited text files (CSV, TSV) with numeric and categorical columns."""

import csv
import gzip
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import tensorflow as tf

from keras_fm.data.errors import NON_FINITE, NUMBER, LineErrors, out_of_range
from keras_fm.data.files import (
    PathLike,
    check_line_ends,
    numbered_line_batches,
    resolve_paths,
)
from keras_fm.data.pipeline import (
    Cache,
    cache_batches,
    cache_key,
    check_batch_size,
    check_cache,
    check_task,
    line_shuffle,
    new_counter,
    parse_batches,
    task_labels,
)

_REASONS = {
    "empty": "empty line",
    "columns": "wrong number of columns",
    "label_non_finite": "NaN or inf label",
    "label": "unparseable label",
    "label_range": "label beyond the float32 range",
    "value_non_finite": "NaN or inf value",
    "value": "non-numeric value",
    "value_range": "value beyond the float32 range",
    "integer": "non-integer value",
}
_INTEGER = r"[+-]?\d{1,18}"


def _first_line(path: str) -> str:
    opener: Any = gzip.open if path.endswith(".gz") else open
    # utf-8-sig: a byte-order mark is not part of the first column's name.
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        return handle.readline().rstrip("\r\n")


def _line_pattern(num_columns: int, delimiter: str) -> str:
    """RE2 pattern of a line with exactly ``num_columns`` (quote-aware) cells."""
    d = re.escape(delimiter)
    cell = f'(?:"(?:[^"]|"")*"|[^{d}"]*)'
    return f"{cell}(?:{d}{cell}){{{num_columns - 1}}}"


def read_csv(
    paths: PathLike | Sequence[PathLike],
    *,
    label_column: str,
    task: str,
    column_names: Sequence[str] | None = None,
    header: bool | None = None,
    field_delim: str = ",",
    numeric_columns: Sequence[str] = (),
    integer_columns: Sequence[str] = (),
    multivalent_columns: Mapping[str, str] | None = None,
    ignore_columns: Sequence[str] = (),
    numeric_default: float = math.nan,
    integer_default: int = -1,
    batch_size: int = 256,
    shuffle_buffer: int = 0,
    seed: int | None = None,
    drop_remainder: bool = False,
    on_error: str = "raise",
    num_parallel_calls: int = tf.data.AUTOTUNE,
    cache: Cache = False,
) -> tf.data.Dataset:
    """Reads delimited text files into ``(features, labels)`` batches.

    Every column but the label and the ignored ones becomes a feature named
    after it: float32 for ``numeric_columns``, int64 for ``integer_columns``,
    a ragged list of strings for ``multivalent_columns`` (split on the given
    separator) and a string otherwise — raw values, for the lookups and
    hashing of `keras_fm.features` to map in the graph. Quoted cells (RFC
    4180) are understood.

    Empty cells are allowed: an empty numeric cell reads as
    ``numeric_default`` (NaN by default, which `NumericFeature` and
    `BucketizedFeature` treat as a missing value, contributing nothing); an
    empty categorical cell is the string ``""`` (a value like any other: it
    gets its own vocabulary entry, hash bucket or the OOV row); an empty list
    is an empty list. An explicit ``nan`` or ``inf``, or a number beyond
    float32's range (``1e39``), is an error. Lines end in ``\\n`` or
    ``\\r\\n``; a file with a carriage return elsewhere (as in old Mac files)
    is refused, naming the file and line, and a UTF-8 byte-order mark at the
    start of a file is ignored.

    The Criteo layout (tab-separated, no header: label, 13 integer count
    columns, 26 hashed categorical columns, any of them possibly empty) is
    `keras_fm.data.read_criteo`.

    Args:
        paths: a path, a glob pattern, or a list of them.
        label_column: str. The label's column.
        task: `"binary"` (labels <= 0 become 0, the others 1) or
            `"regression"`.
        column_names: Optional list of column names. Defaults to `None`: the
            names are read from the first line of the first file.
        header: Optional bool. Whether every file starts with a header line
            (skipped). Defaults to `None`: true when `column_names` is None.
            Every file's header must match the first one's.
        field_delim: str. The delimiter. Defaults to `","`.
        numeric_columns: columns read as float32.
        integer_columns: columns read as int64.
        multivalent_columns: dict from column to the separator of its list
            (e.g. ``{"genres": "|"}``), read as ragged strings.
        ignore_columns: columns left out (e.g. row ids).
        numeric_default: float. Value of an empty numeric cell. Defaults to
            NaN (a missing value).
        integer_default: int. Value of an empty integer cell. Defaults to
            `-1`, which `IdFeature` sends to its out-of-vocabulary row.
        batch_size, shuffle_buffer, seed, drop_remainder, on_error,
            num_parallel_calls, cache: as `keras_fm.data.read_libsvm`.

    Returns:
        A `tf.data.Dataset` of ``(features, labels)``: ``features`` maps
        column name to a `(batch,)` tensor (or `(batch, None)` ragged), and
        ``labels`` is float32 `(batch,)`. Malformed lines (wrong number of
        columns, a non-numeric or non-finite number, a bad label, an empty
        line) raise an error naming the file, line and cell, or are skipped
        with `on_error="skip"`.
    """
    check_task(task)
    check_batch_size(batch_size)
    check_cache(cache)
    if len(field_delim) != 1:
        raise ValueError(
            f"`field_delim` must be one character. Received: {field_delim!r}"
        )
    files = resolve_paths(paths)
    check_line_ends(files)
    if header is None:
        header = column_names is None
    if column_names is None:
        if not header:
            raise ValueError("Pass `column_names` when the files have no header.")
        column_names = _split_header(_first_line(files[0]), field_delim)
    column_names = list(column_names)
    if header:
        first = _split_header(_first_line(files[0]), field_delim)
        for path in files:
            found = _split_header(_first_line(path), field_delim)
            if found != first:
                raise ValueError(
                    f"{path}:1: header {found} differs from {files[0]}'s header {first}"
                )
    multivalent = dict(multivalent_columns or {})
    known = set(column_names)
    for arg, names in (
        ("label_column", [label_column]),
        ("numeric_columns", numeric_columns),
        ("integer_columns", integer_columns),
        ("multivalent_columns", list(multivalent)),
        ("ignore_columns", ignore_columns),
    ):
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                f"`{arg}` names columns {unknown} that the files do not have. "
                f"Columns: {column_names}"
            )
    if len(set(column_names)) != len(column_names):
        raise ValueError(f"Column names repeat: {column_names}")

    counter = new_counter()
    errors = LineErrors(_REASONS, on_error, counter, files)
    pattern = _line_pattern(len(column_names), field_delim)
    blank = field_delim * (len(column_names) - 1)
    label_index = column_names.index(label_column)
    numeric, integer, ignored = (
        set(numeric_columns),
        set(integer_columns),
        set(ignore_columns),
    )

    def parse(files_: Any, numbers: Any, lines: Any) -> tuple[dict[str, Any], Any]:
        lines = tf.strings.regex_replace(lines, "\r$", "")
        shaped = tf.strings.regex_full_match(lines, pattern)
        empty = tf.equal(tf.strings.strip(lines), "")
        cells = tf.io.decode_csv(
            tf.where(shaped, lines, blank),
            [""] * len(column_names),
            field_delim=field_delim,
        )
        conditions = [
            (empty, errors.code("empty"), lines),
            (
                tf.logical_not(shaped),
                errors.code("columns"),
                tf.strings.substr(lines, 0, 120),
            ),
        ]
        label_text = cells[label_index]
        conditions += [
            (
                tf.strings.regex_full_match(label_text, NON_FINITE),
                errors.code("label_non_finite"),
                label_text,
            ),
            (
                tf.logical_not(tf.strings.regex_full_match(label_text, NUMBER)),
                errors.code("label"),
                label_text,
            ),
            (out_of_range(label_text), errors.code("label_range"), label_text),
        ]
        for name, text in zip(column_names, cells, strict=True):
            if name in numeric or name in integer:
                filled = tf.not_equal(text, "")
                good = _INTEGER if name in integer else NUMBER
                named = tf.strings.join([name, "=", text])
                conditions += [
                    (
                        tf.logical_and(
                            filled, tf.strings.regex_full_match(text, NON_FINITE)
                        ),
                        errors.code("value_non_finite"),
                        named,
                    ),
                    (
                        tf.logical_and(
                            filled,
                            tf.logical_not(tf.strings.regex_full_match(text, good)),
                        ),
                        errors.code("integer" if name in integer else "value"),
                        named,
                    ),
                ]
                if name in numeric:
                    conditions.append(
                        (out_of_range(text), errors.code("value_range"), named)
                    )
        codes = tf.zeros_like(numbers, dtype=tf.int32)
        tokens = tf.fill(tf.shape(lines), "")
        for condition, code, token in reversed(conditions):
            codes = tf.where(condition, code, codes)
            tokens = tf.where(condition, token, tokens)
        keep, guard = errors.apply(files_, numbers, codes, tokens)
        with tf.control_dependencies([guard]):
            features: dict[str, Any] = {}
            for name, text in zip(column_names, cells, strict=True):
                if name == label_column or name in ignored:
                    continue
                text = tf.boolean_mask(text, keep)
                if name in numeric or name in integer:
                    valid = tf.strings.regex_full_match(
                        text, _INTEGER if name in integer else NUMBER
                    )
                    dtype = tf.int64 if name in integer else tf.float32
                    value = tf.strings.to_number(tf.where(valid, text, "0"), dtype)
                    default = integer_default if name in integer else numeric_default
                    features[name] = tf.where(valid, value, tf.cast(default, dtype))
                elif name in multivalent:
                    parts = tf.strings.split(text, multivalent[name])
                    features[name] = tf.ragged.boolean_mask(
                        parts, tf.not_equal(parts, "")
                    )
                else:
                    features[name] = text
            label_text_kept = tf.boolean_mask(label_text, keep)
            labels = tf.strings.to_number(
                tf.where(
                    tf.strings.regex_full_match(label_text_kept, NUMBER),
                    label_text_kept,
                    "0",
                )
            )
            return features, task_labels(labels, task)

    batches = numbered_line_batches(
        files,
        batch_size,
        skip_header=bool(header),
        shuffle_buffer=line_shuffle(shuffle_buffer, cache),
        seed=seed,
        drop_remainder=drop_remainder,
    )
    settings = [
        "csv", label_column, task, column_names, bool(header), field_delim,
        sorted(numeric), sorted(integer), multivalent, sorted(ignored),
        numeric_default, integer_default, batch_size, drop_remainder, on_error,
    ]  # fmt: skip
    return cache_batches(
        parse_batches(batches, parse, num_parallel_calls, counter),
        cache, cache_key(files, settings), shuffle_buffer, batch_size, seed,
    )  # fmt: skip


def _split_header(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter))
