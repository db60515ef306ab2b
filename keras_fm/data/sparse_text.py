"""Readers of libsvm / libFM (``label index:value ...``) and libffm
(``label field:index:value ...``) text files."""

import functools
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from keras_fm.data.errors import (
    EXCERPT,
    INDEX,
    NON_FINITE,
    NUMBER,
    SPACE,
    LineErrors,
    first_bad_token,
    out_of_range,
)
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

_LABEL_REASONS = {
    "empty": "empty line",
    "label_non_finite": "NaN or inf label",
    "label_range": "label beyond the float32 range",
    "label": "unparseable label",
}


def _line_reasons(pairs_per_row: int | None) -> dict[str, str]:
    """Errors of a whole line: a wrong pair count, and the catch-all."""
    reasons = {"line": "unparseable line"}
    if pairs_per_row is not None:
        reasons["pairs"] = (
            f"expected {pairs_per_row} pairs (one per field, by position), got"
        )
    return reasons


def _token_reasons(with_fields: bool) -> dict[str, str]:
    layout = "field:index:value" if with_fields else "index:value"
    reasons = {"colon": f"missing colon (expected {layout})"}
    if with_fields:
        reasons.update(
            {
                "field_negative": "negative field index",
                "field_long": "field index of more than 18 digits",
                "field": "non-numeric field index",
                "field_range": "field index out of range (>= num_fields)",
            }
        )
    reasons.update(
        {
            "index_negative": "negative feature index",
            "index_long": "feature index of more than 18 digits",
            "index": "non-numeric feature index",
            "index_range": "feature index beyond num_features",
            "value_non_finite": "NaN or inf value",
            "value_range": "value beyond the float32 range",
            "value": "non-numeric value",
        }
    )
    return reasons


def _matches(strings: Any, pattern: str) -> Any:
    return tf.strings.regex_full_match(strings, pattern)


def _first_true(conditions: Sequence[tuple[Any, int]], shape_like: Any) -> Any:
    """The code of the first true condition, 0 where none holds."""
    codes = tf.zeros_like(shape_like, dtype=tf.int32)
    for condition, code in reversed(conditions):
        codes = tf.where(condition, code, codes)
    return codes


def _index_checks(
    text: Any, limit: int | None, codes: dict[str, int], prefix: str
) -> list[tuple[Any, int]]:
    """Error conditions of one integer column (field or feature index)."""
    numeric = _matches(text, INDEX)
    parsed = tf.strings.to_number(tf.where(numeric, text, "0"), tf.int64)
    conditions = [
        (_matches(text, r"-\d+"), codes[f"{prefix}_negative"]),
        (_matches(text, r"\d{19,}"), codes[f"{prefix}_long"]),
        (tf.logical_not(numeric), codes[prefix]),
    ]
    if limit is not None:
        conditions.append((parsed >= limit, codes[f"{prefix}_range"]))
    return conditions


def _reasons(with_fields: bool, pairs_per_row: int | None) -> dict[str, str]:
    """Every error a line of this layout can have, in code order."""
    return {
        **_LABEL_REASONS,
        **_token_reasons(with_fields),
        **_line_reasons(pairs_per_row),
    }


@functools.lru_cache(maxsize=64)
def _line_steps(
    with_fields: bool,
    task: str,
    num_features: int | None,
    num_fields: int | None,
    pairs_per_row: int | None,
) -> tuple[Any, Any]:
    """``(parse_well_formed, diagnose)`` for lines of these settings, as
    `tf.function`s of a string vector traced once per process.

    Every reader of the same settings (a run's training, validation and test
    files) calls the same traced functions from its `map`, whose own tracing
    then costs little: tracing these took about 0.7 s per reader on 2 cores.
    """
    width = 3 if with_fields else 2
    codes = LineErrors.codes_of(_reasons(with_fields, pairs_per_row))
    line_spec = [tf.TensorSpec([None], tf.string)]

    @tf.function(input_signature=line_spec, autograph=False)
    def parse_well_formed(lines: Any) -> tuple[dict[str, Any], Any, Any]:
        """Parses lines that match the well-formed pattern; also returns
        whether each line's numbers are finite in float32 (``1e39`` matches
        but is not).

        The label is given a ``-1:`` (libffm: ``-1:-1:``) prefix so that every
        token of the line is ``[field:]index:value`` and one `decode_csv` on
        ``:`` converts them all; the label is the value of each row's first
        token, and the tokens with index -1 are dropped.
        """
        prefix = "-1:" * (width - 1)
        tokens = tf.strings.split(tf.strings.join([prefix, tf.strings.strip(lines)]))
        defaults = [tf.constant([], tf.int64)] * (width - 1) + [
            tf.constant([], tf.float32)
        ]
        columns = tf.io.decode_csv(tokens.flat_values, defaults, field_delim=":")
        labels = tf.gather(columns[-1], tokens.row_starts())
        is_pair = columns[-2] >= 0
        lengths = tokens.row_lengths() - 1

        def rows(values: Any) -> Any:
            return tf.RaggedTensor.from_row_lengths(
                tf.boolean_mask(values, is_pair), lengths
            )

        features = {"ids": rows(columns[-2]), "values": rows(columns[-1])}
        if with_fields:
            features["fields"] = rows(columns[0])
        finite = tf.math.is_finite(labels) & tf.reduce_all(
            tf.math.is_finite(features["values"]), axis=1
        )
        return features, task_labels(labels, task), finite

    @tf.function(input_signature=line_spec, autograph=False)
    def diagnose(lines: Any) -> tuple[Any, Any]:
        """The error code and offending token of each line (0 and "" if fine)."""
        tokens = tf.strings.split(lines)  # (B, None)
        label_text = tokens.to_tensor(default_value="", shape=[None, 1])[:, 0]
        pairs = tokens[:, 1:]  # (B, None)
        flat = pairs.flat_values
        parts = tf.strings.split(flat, ":")
        fixed = parts.to_tensor(default_value="", shape=[None, width])  # (N, width)
        value_text = fixed[:, -1]
        conditions = [(parts.row_lengths() != width, codes["colon"])]
        if with_fields:
            conditions += _index_checks(fixed[:, 0], num_fields, codes, "field")
        conditions += _index_checks(fixed[:, -2], num_features, codes, "index")
        conditions += [
            (_matches(value_text, NON_FINITE), codes["value_non_finite"]),
            (tf.logical_not(_matches(value_text, NUMBER)), codes["value"]),
            (out_of_range(value_text), codes["value_range"]),
        ]
        token_codes = _first_true(conditions, flat)
        token_code, bad_token = first_bad_token(
            pairs.with_flat_values(token_codes), pairs
        )
        line_codes = _first_true(
            [
                (tokens.row_lengths() == 0, codes["empty"]),
                (_matches(label_text, NON_FINITE), codes["label_non_finite"]),
                (tf.logical_not(_matches(label_text, NUMBER)), codes["label"]),
                (out_of_range(label_text), codes["label_range"]),
            ],
            label_text,
        )
        line_code = tf.where(line_codes > 0, line_codes, token_code)
        token = tf.where(line_codes > 0, label_text, bad_token)
        if pairs_per_row is not None:
            count = pairs.row_lengths()
            wrong = (line_code == 0) & (count != pairs_per_row)
            line_code = tf.where(wrong, codes["pairs"], line_code)
            token = tf.where(wrong, tf.strings.as_string(count), token)
        # Every line sent here is bad: one no check names gets the catch-all.
        unnamed = line_code == 0
        line_code = tf.where(unnamed, codes["line"], line_code)
        return line_code, tf.where(unnamed, tf.strings.substr(lines, 0, EXCERPT), token)

    return parse_well_formed, diagnose


def _make_parser(
    with_fields: bool,
    task: str,
    num_features: int | None,
    num_fields: int | None,
    pairs_per_row: int | None,
    errors: LineErrors,
) -> Any:
    width = 3 if with_fields else 2
    pair = ":".join([INDEX] * (width - 1) + [NUMBER])
    well_formed_line = rf"{SPACE}*{NUMBER}(?:{SPACE}+{pair})*{SPACE}*"
    limits = {"ids": num_features, "fields": num_fields}
    parse_well_formed, diagnose = _line_steps(
        with_fields, task, num_features, num_fields, pairs_per_row
    )

    def parse(files: Any, numbers: Any, lines: Any) -> tuple[dict[str, Any], Any]:
        """One regex per line, then a diagnosis of the malformed lines only."""
        well_formed = tf.strings.regex_full_match(lines, well_formed_line)
        # A malformed line is parsed as "0" (a label-only row) and dropped or
        # reported below; this keeps every conversion safe.
        features, labels, finite = parse_well_formed(tf.where(well_formed, lines, "0"))
        bad = tf.logical_not(well_formed & finite)
        if pairs_per_row is not None:
            bad |= features["ids"].row_lengths() != pairs_per_row
        for name, limit in limits.items():
            if limit is not None and name in features:
                bad = tf.logical_or(bad, tf.reduce_any(features[name] >= limit, axis=1))
        suspects = tf.where(bad)[:, 0]
        codes, tokens = diagnose(tf.gather(lines, suspects))
        keep, guard = errors.apply(
            tf.gather(files, suspects), tf.gather(numbers, suspects), codes, tokens
        )
        del keep
        with tf.control_dependencies([guard]):
            if errors.on_error == "raise":
                return {k: tf.identity(v) for k, v in features.items()}, tf.identity(
                    labels
                )
            good = tf.logical_not(bad)
            features = {k: tf.ragged.boolean_mask(v, good) for k, v in features.items()}
            return features, tf.boolean_mask(labels, good)

    return parse


def _read(
    paths: PathLike | Sequence[PathLike],
    with_fields: bool,
    task: str,
    batch_size: int,
    num_features: int | None,
    num_fields: int | None,
    shuffle_buffer: int,
    seed: int | None,
    drop_remainder: bool,
    on_error: str,
    num_parallel_calls: int,
    cache: Cache,
    pairs_per_row: int | None = None,
) -> tf.data.Dataset:
    check_task(task)
    check_batch_size(batch_size)
    check_cache(cache)
    for arg, value in (
        ("num_features", num_features),
        ("num_fields", num_fields),
        ("pairs_per_row", pairs_per_row),
    ):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(
                f"`{arg}` must be a positive int or None. Received: {value!r}"
            )
    files = resolve_paths(paths)
    check_line_ends(files)
    counter = new_counter()
    errors = LineErrors(_reasons(with_fields, pairs_per_row), on_error, counter, files)
    parse = _make_parser(
        with_fields, task, num_features, num_fields, pairs_per_row, errors
    )
    batches = numbered_line_batches(
        files, batch_size, shuffle_buffer=line_shuffle(shuffle_buffer, cache),
        seed=seed, drop_remainder=drop_remainder,
    )  # fmt: skip
    settings = ["libffm" if with_fields else "libsvm", task, batch_size,
                num_features, num_fields, drop_remainder, on_error,
                pairs_per_row]  # fmt: skip
    return cache_batches(
        parse_batches(batches, parse, num_parallel_calls, counter),
        cache, cache_key(files, settings), shuffle_buffer, batch_size, seed,
    )  # fmt: skip


def read_libsvm(
    paths: PathLike | Sequence[PathLike],
    *,
    task: str,
    batch_size: int = 256,
    num_features: int | None = None,
    shuffle_buffer: int = 0,
    seed: int | None = None,
    drop_remainder: bool = False,
    on_error: str = "raise",
    num_parallel_calls: int = tf.data.AUTOTUNE,
    cache: Cache = False,
    pairs_per_row: int | None = None,
) -> tf.data.Dataset:
    """Reads libsvm / libFM files (``label index:value ...``) for `model.fit`.

    Each line is a label followed by any number of ``index:value`` pairs,
    separated by ASCII whitespace (space, tab, vertical tab, form feed).
    Lines end in ``\\n`` or ``\\r\\n``; a file with a carriage return
    elsewhere is refused, naming the file and line, and a UTF-8 byte-order
    mark at the start of a file is ignored. Indices are kept as they are (0-
    or 1-based), so ``num_features`` must exceed the largest one. Every
    number must be finite in float32: ``nan``, ``inf`` and overflowing
    numbers (``1e39``) are malformed. Files are read in order; ``.gz`` files
    are decompressed.

    Args:
        paths: a path, a glob pattern, or a list of them.
        task: `"binary"` (labels <= 0 become 0, the others 1; so {-1, 1} and
            {0, 1} both work) or `"regression"` (labels as they are).
        batch_size: int. Examples per batch. Defaults to `256`.
        num_features: Optional int. Size of the feature space; an index at or
            beyond it is an error. Defaults to `None` (no check).
        shuffle_buffer: int. Permute the lines anew every epoch within
            windows of this many lines, each moving at most about that far
            (`keras_fm.data.shuffle.shuffle_in_windows`; 0: keep file
            order); with `cache`, the cached batches are shuffled after the
            first epoch instead (see `cache`). Defaults to `0`.
        seed: Optional int. Seed of the shuffle.
        drop_remainder: bool. Drop the last, smaller batch.
        on_error: `"raise"` (stop at the first malformed line with an error
            naming its file, line number and offending token) or `"skip"`
            (leave malformed lines out, print each to stderr, and count them
            in the dataset's ``skipped_lines`` variable). Defaults to
            `"raise"`.
        num_parallel_calls: parallelism of the batch parser. Defaults to
            `tf.data.AUTOTUNE`.
        cache: `False`, `True` or a path prefix. Keep the parsed batches (in
            memory, or in files ``{cache}-{digest}.*`` where the digest
            covers the input files' paths, sizes and times and the reader's
            settings) so that every epoch after the first skips text parsing
            — the fast path for multi-epoch training (parsing costs about
            2-3 us of CPU per frappe row, which a small model's training
            feels on a 2-core machine). The cache is written during the
            first complete pass. With a cache, ``shuffle_buffer`` does not
            shuffle the lines: every pass, the first included, permutes the
            cached rows within windows of ``shuffle_buffer`` rows into new
            batches (`keras_fm.data.shuffle.shuffle_in_windows`;
            `keras_fm.data.formats.DataFormat` remixes the rows of fields
            split out through a row buffer). Defaults to `False`.
        pairs_per_row: Optional int. Every row must hold exactly this many
            pairs (files read by position, one pair per field, as
            `keras_fm.data.split_positions` needs); another count is a
            malformed line. Defaults to `None` (any count).

    Returns:
        A `tf.data.Dataset` of ``(features, labels)``: ``features`` is
        ``{"ids": int64, "values": float32}``, both `tf.RaggedTensor` of shape
        `(batch, None)` (one entry per pair, in file order), and ``labels`` is
        float32 `(batch,)`. Feed it to `keras_fm.layers.SparseFM`.

    Raises:
        FileNotFoundError: if a path or pattern names no file.
        tf.errors.InvalidArgumentError: while iterating, for a malformed line
            with `on_error="raise"`; the message reads
            ``keras_fm: malformed input: FILE:LINE: REASON: `TOKEN```.
    """
    return _read(
        paths, False, task, batch_size, num_features, None, shuffle_buffer, seed,
        drop_remainder, on_error, num_parallel_calls, cache, pairs_per_row,
    )  # fmt: skip


def read_libffm(
    paths: PathLike | Sequence[PathLike],
    *,
    task: str,
    batch_size: int = 256,
    num_fields: int | None = None,
    num_features: int | None = None,
    shuffle_buffer: int = 0,
    seed: int | None = None,
    drop_remainder: bool = False,
    on_error: str = "raise",
    num_parallel_calls: int = tf.data.AUTOTUNE,
    cache: Cache = False,
) -> tf.data.Dataset:
    """Reads libffm files (``label field:index:value ...``) for `model.fit`.

    As `read_libsvm`, with a field index before each feature index; a field
    at or beyond ``num_fields`` is an error. Use `keras_fm.data.split_fields`
    to turn the rows into one multivalent feature per field for
    `keras_fm.layers.FieldEmbedding` / `FieldAwareEmbedding`.

    Args:
        paths, task, batch_size, num_features, shuffle_buffer, seed,
            drop_remainder, on_error, num_parallel_calls, cache: as
            `read_libsvm`.
        num_fields: Optional int. Number of fields. Defaults to `None` (no
            check).

    Returns:
        A `tf.data.Dataset` of ``(features, labels)`` with ``features`` =
        ``{"fields": int64, "ids": int64, "values": float32}``, ragged
        `(batch, None)`, and float32 ``labels`` `(batch,)`.
    """
    return _read(
        paths, True, task, batch_size, num_features, num_fields, shuffle_buffer, seed,
        drop_remainder, on_error, num_parallel_calls, cache,
    )  # fmt: skip
