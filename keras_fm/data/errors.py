"""Reporting malformed input lines: raise with their location, or skip and count."""

import sys
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

ON_ERROR = ("raise", "skip")

# Number patterns accepted in text files (what tf.strings.to_number parses,
# without nan and inf, which are reported on their own).
NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
NON_FINITE = r"(?i)[+-]?(?:nan|inf|infinity)"
INDEX = r"\d{1,18}"
# Whitespace between tokens: what tf.strings.split and str.split() of ASCII
# text split on (RE2's \s lacks the vertical tab).
SPACE = r"[ \t\v\f\r]"
# The longest excerpt of a line quoted in an error message.
EXCERPT = 120


def out_of_range(text: Any) -> Any:
    """True where ``text`` is a number (``NUMBER``) beyond float32's range
    (``1e39``, a 400-digit integer): it would be read as inf."""
    numeric = tf.strings.regex_full_match(text, NUMBER)
    value = tf.strings.to_number(tf.where(numeric, text, "0"), tf.float32)
    return tf.logical_and(numeric, tf.logical_not(tf.math.is_finite(value)))


def printable(text: Any) -> Any:
    """``text`` fit for a message: invalid UTF-8 as U+FFFD, control
    characters as ``?`` (a raw byte would make Python fail to decode the
    error itself)."""
    text = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace")
    return tf.strings.regex_replace(text, "[[:cntrl:]]", "?")


def check_on_error(on_error: str) -> None:
    if on_error not in ON_ERROR:
        raise ValueError(
            f"`on_error` must be one of {ON_ERROR}. Received: on_error={on_error!r}"
        )


class LineErrors:
    """Builds per-line error codes and messages for one text format.

    ``reasons`` lists the messages of the codes 1, 2, ...; code 0 is "no
    error". A parser computes, for each line of a batch, a code and the
    offending token; `apply` then either stops the pipeline with the first bad
    line's location or drops the bad lines, counting them in ``counter``.
    """

    def __init__(
        self,
        reasons: dict[str, str],
        on_error: str,
        counter: Any,
        files: Sequence[str],
    ) -> None:
        check_on_error(on_error)
        self.files = tf.constant(list(files))
        self.codes = self.codes_of(reasons)
        self.messages = tf.constant(["", *reasons.values()])
        self.on_error = on_error
        self.counter = counter

    @staticmethod
    def codes_of(reasons: dict[str, str]) -> dict[str, int]:
        """The code of each reason: 1, 2, ... in order (0 is "no error")."""
        return {name: index + 1 for index, name in enumerate(reasons)}

    def code(self, name: str) -> int:
        return self.codes[name]

    def describe(self, files: Any, numbers: Any, codes: Any, tokens: Any) -> Any:
        """``file:line: reason: `token``` for each line (backquotes survive
        TensorFlow's escaping of error messages)."""
        return tf.strings.join(
            [
                tf.gather(self.files, files),
                ":",
                tf.strings.as_string(numbers),
                ": ",
                tf.gather(self.messages, codes),
                ": `",
                printable(tf.strings.substr(tokens, 0, EXCERPT)),
                "`",
            ]
        )

    def apply(
        self, files: Any, numbers: Any, codes: Any, tokens: Any
    ) -> tuple[Any, Any]:
        """Returns ``(keep, guard)``: the lines to keep and an op to depend on.

        With ``on_error="raise"``, ``guard`` fails with the first bad line's
        location when the batch holds one. With ``"skip"`` it adds the number
        of bad lines to the counter and prints each of them to stderr.
        """
        bad = codes > 0
        messages = self.describe(files, numbers, codes, tokens)
        if self.on_error == "raise":
            first = tf.strings.reduce_join(tf.boolean_mask(messages, bad)[:1])
            guard = tf.debugging.Assert(
                tf.logical_not(tf.reduce_any(bad)),
                [tf.strings.join(["keras_fm: malformed input: ", first])],
                summarize=1,
            )
            return tf.ones_like(bad), guard
        skipped = tf.boolean_mask(messages, bad)
        count = tf.size(skipped, out_type=tf.int64)
        total = self.counter.assign_add(count)

        def report() -> Any:
            lines = tf.strings.join(["keras_fm: skipped malformed line ", skipped])
            summary = tf.strings.join(
                ["keras_fm: lines skipped so far: ", tf.strings.as_string(total)]
            )
            return tf.print(
                tf.strings.reduce_join(
                    tf.concat([lines, [summary]], 0), separator="\n"
                ),
                output_stream=sys.stderr,
            )

        guard = tf.cond(count > 0, report, tf.no_op)
        return tf.logical_not(bad), guard


def first_bad_token(codes: Any, tokens: Any) -> tuple[Any, Any]:
    """Per row of ragged ``codes`` / ``tokens``: the first bad token's code and text.

    Rows with no bad token get code 0 and an empty token.
    """
    flat_codes = codes.flat_values
    rows = codes.value_rowids()
    positions = tf.range(tf.size(flat_codes, out_type=tf.int64)) - tf.gather(
        codes.row_starts(), rows
    )
    never = tf.constant(tf.int64.max, tf.int64)
    key = tf.where(flat_codes > 0, positions, never)
    first = tf.math.unsorted_segment_min(key, rows, codes.nrows())
    has_bad = first < never
    # Index into the flat values, or one past the end (a padding entry).
    index = tf.where(
        has_bad,
        codes.row_starts() + tf.where(has_bad, first, 0),
        tf.size(flat_codes, out_type=tf.int64),
    )
    code = tf.gather(tf.concat([flat_codes, [0]], 0), index)
    token = tf.gather(tf.concat([tokens.flat_values, [""]], 0), index)
    return code, token
