"""Seeded fuzzing of the text readers: every generated line is a located
error, a counted skip, or parsed exactly as a small reference parser of the
documented grammar parses it (nothing else, e.g. a silent drop or an inf)."""

import csv
import io
import re

import numpy as np
import pytest
import tensorflow as tf

from keras_fm.data import read_csv, read_libffm, read_libsvm

NUM_FEATURES, NUM_FIELDS, VARIANTS = 50, 6, 240
NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
SPACE = rb"[ \t\v\f]+"
# Tokens that replace a good one: junk, non-finite and overflowing numbers,
# huge and negative indices, unicode and binary bytes.
JUNK = [
    b"", b"nan", b"inf", b"-Infinity", b"1e39", b"-1e39", b"1" * 400, b"x",
    b"3::1", b":1", b"3:", b"-3:1", b"99999999999999999999:1", b"3:1:1",
    b"1:2:3:4", b"0x1:1", b"+3:1", b"3:+1", b"3:.5", b"3:5.", b"3:1e-3",
    b"3:1e-60", b"\xc3\xa9", b"3:\xc3\xa9", b"\x00", b"3:1\x00", b"\x7f",
    b"\x1c", b"3:1,5", b"3:1e", b"4:2:0.5", b"7:49:1", b"5:50:1", b"6:1:1",
    "\u00a0".encode(), b"3:\xff\xfe", b"1" * 19 + b":1", b"0:0",
]  # fmt: skip
SEPARATORS = [b" ", b"\t", b"\v", b"\f", b"  \t ", b"\x1c", b"\x85", b""]
LABELS = [b"1", b"-1", b"0", b"+1", b"-0.5", b"3.25", b"nan", b"1e39", b"abc",
          b"", b"1e-50", b".5", b"1.", b"\xef\xbb\xbf1"]  # fmt: skip


def finite32(text: bytes) -> float | None:
    """The float32 value of a ``NUMBER``, or None if it is not finite."""
    if not NUMBER.fullmatch(text):
        return None
    with np.errstate(over="ignore"):
        value = np.float32(float(text))
    return float(value) if np.isfinite(value) else None


def reference_sparse(line: bytes, width: int) -> tuple | None:
    """``(label, fields, ids, values)`` of a libsvm (width 2) or libffm
    (width 3) line, or None where the line is malformed."""
    tokens = re.split(SPACE, line.strip(b" \t\v\f"))
    label = finite32(tokens[0])
    if label is None:
        return None
    limits = [NUM_FIELDS, NUM_FEATURES][-(width - 1) :]
    fields, ids, values = [], [], []
    for token in tokens[1:]:
        parts = token.split(b":")
        if len(parts) != width or finite32(parts[-1]) is None:
            return None
        if not all(re.fullmatch(rb"\d{1,18}", p) for p in parts[:-1]):
            return None
        numbers = [int(p) for p in parts[:-1]]
        if any(n >= limit for n, limit in zip(numbers, limits, strict=True)):
            return None
        fields += numbers[:-1]
        ids.append(numbers[-1])
        values.append(finite32(parts[-1]))
    return label, fields, ids, values


def sparse_variants(seed: int, width: int) -> list[bytes]:
    """Good lines, then each corrupted in one or two ways."""
    rng = np.random.default_rng(seed)

    def pick(options):
        return options[int(rng.integers(len(options)))]

    lines = []
    for _ in range(VARIANTS):
        count = int(rng.integers(0, 6))
        pairs = [
            b":".join(
                [str(int(rng.integers(NUM_FIELDS))).encode()] * (width == 3)
                + [str(int(rng.integers(NUM_FEATURES))).encode(),
                   str(round(float(rng.normal()), 3)).encode()]
            )
            for _ in range(count)
        ]  # fmt: skip
        tokens = [pick(LABELS), *pairs]
        for _ in range(int(rng.integers(0, 3))):
            kind = int(rng.integers(4))
            position = int(rng.integers(len(tokens)))
            if kind == 0:
                tokens[position] = pick(JUNK)
            elif kind == 1:
                tokens.insert(position, pick(JUNK))
            elif kind == 2:
                tokens[position] = tokens[position].replace(b":", b"", 1)
            else:
                tokens += [b"1:1"] * int(rng.integers(1, 3000))  # long lines
        line = tokens[0]
        for token in tokens[1:]:
            line += pick(SEPARATORS) + token
        lines.append(pick([b"", b" ", b"\t", b"\v"]) + line + pick([b"", b" "]))
    return lines


def reported_lines(capfd, name: str) -> list[int]:
    """The line numbers of the skipped lines, as printed to stderr."""
    err = capfd.readouterr().err
    found = re.findall(rf"skipped malformed line \S*{name}:(\d+): ", err)
    return sorted(int(n) for n in found)  # batches are parsed in parallel


def bad_line_numbers(expected: list, first: int) -> list[int]:
    return [first + i for i, row in enumerate(expected) if row is None]


def write(path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def read_sparse(path, width: int, on_error: str) -> tf.data.Dataset:
    if width == 3:
        return read_libffm(
            path, task="regression", num_fields=NUM_FIELDS,
            num_features=NUM_FEATURES, on_error=on_error, batch_size=64,
        )  # fmt: skip
    return read_libsvm(
        path, task="regression", num_features=NUM_FEATURES, on_error=on_error,
        batch_size=64,
    )  # fmt: skip


@pytest.mark.parametrize("width", [2, 3], ids=["libsvm", "libffm"])
@pytest.mark.parametrize("seed", [0, 1])
def test_every_sparse_line_is_parsed_exactly_or_counted(tmp_path, capfd, width, seed):
    # The mark is part of a line here (not at the start of the file).
    lines = [b"1 1:1", *sparse_variants(seed, width)]
    expected = [reference_sparse(line, width) for line in lines]
    write(tmp_path / "fuzz.txt", lines)
    dataset = read_sparse(tmp_path / "fuzz.txt", width, "skip")
    got = []
    for features, labels in dataset:
        for index, label in enumerate(labels.numpy().tolist()):
            fields = features["fields"][index].numpy().tolist() if width == 3 else []
            got.append(
                (
                    label,
                    fields,
                    features["ids"][index].numpy().tolist(),
                    features["values"][index].numpy().tolist(),
                )
            )
    good = [row for row in expected if row is not None]
    bad = len(expected) - len(good)
    assert int(dataset.skipped_lines.numpy()) == bad
    assert reported_lines(capfd, "fuzz.txt") == bad_line_numbers(expected, 1)
    assert 0.25 * len(lines) < bad < 0.9 * len(lines)  # both kinds well covered
    assert len(got) == len(good)
    for row, want in zip(got, good, strict=True):
        assert row[1:3] == want[1:3]
        np.testing.assert_allclose(row[3], want[3], rtol=1e-6)
        np.testing.assert_allclose(row[0], want[0], rtol=1e-6)


@pytest.mark.parametrize("width", [2, 3], ids=["libsvm", "libffm"])
def test_every_malformed_sparse_line_is_a_located_error(tmp_path, width):
    lines = sparse_variants(7, width)
    bad = [line for line in lines if reference_sparse(line, width) is None][:10]
    path = tmp_path / "bad.txt"
    for line in bad:
        write(path, [b"1 1:1" if width == 2 else b"1 1:1:1", line])
        with pytest.raises(tf.errors.InvalidArgumentError) as raised:
            list(read_sparse(path, width, "raise"))
        assert f"keras_fm: malformed input: {path}:2: " in raised.value.message


CSV_COLUMNS = ["label", "x", "n", "c", "g"]
CSV_CELLS = [b"1", b"-2.5", b"", b"nan", b"inf", b"1e39", b"9" * 400, b"abc",
             b'"q"', b'"a,b"', b'"x""y"', b'a"b', b"\xc3\xa9", b"\x00", b"7",
             b"-3", b"1" * 19, b" 1", b"a|b|", b"\v", b"1e-50", b"\x1c"]  # fmt: skip


def reference_csv(line: bytes) -> tuple | None:
    """``(label, x, n, c, g)`` of a CSV line under RFC 4180's grammar
    (quoted cells, no quote in an unquoted one), or None if malformed."""
    cell = rb'"(?:[^"]|"")*"|[^,"]*'
    if not re.fullmatch(rb"(?:%s)(?:,(?:%s)){4}" % (cell, cell), line):
        return None
    cells = next(csv.reader(io.StringIO(line.decode("utf-8", "surrogateescape"))))
    cells = [c.encode("utf-8", "surrogateescape") for c in cells]
    label, x, n, c, g = cells
    label_value = finite32(label)
    if label_value is None or (x and finite32(x) is None):
        return None
    if n and not re.fullmatch(rb"[+-]?\d{1,18}", n):
        return None
    return (
        label_value,
        finite32(x) if x else float("nan"),
        int(n) if n else -1,
        c,
        [part for part in g.split(b"|") if part],
    )


def csv_variants(seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(VARIANTS):
        cells = [b"1", b"0.5", b"3", b"a", b"u|v"]
        for _ in range(int(rng.integers(0, 3))):
            cells[int(rng.integers(5))] = CSV_CELLS[int(rng.integers(len(CSV_CELLS)))]
        if rng.random() < 0.1:
            cells = cells[: int(rng.integers(5))]  # too few columns
        lines.append(b",".join(cells))
    return lines


def test_every_csv_line_is_parsed_exactly_or_counted(tmp_path, capfd):
    lines = csv_variants(3)
    expected = [reference_csv(line) for line in lines]
    write(tmp_path / "fuzz.csv", [b",".join(n.encode() for n in CSV_COLUMNS), *lines])
    dataset = read_csv(
        tmp_path / "fuzz.csv", label_column="label", task="regression",
        numeric_columns=["x"], integer_columns=["n"],
        multivalent_columns={"g": "|"}, on_error="skip", batch_size=64,
    )  # fmt: skip
    got = []
    for features, labels in dataset:
        columns = {k: v.numpy().tolist() for k, v in features.items()}
        columns["g"] = features["g"].to_list()
        for index, label in enumerate(labels.numpy().tolist()):
            got.append((label, *(columns[k][index] for k in ["x", "n", "c", "g"])))
    good = [row for row in expected if row is not None]
    assert int(dataset.skipped_lines.numpy()) == len(lines) - len(good)
    assert reported_lines(capfd, "fuzz.csv") == bad_line_numbers(expected, 2)
    assert 0.2 * len(lines) < len(lines) - len(good) < 0.9 * len(lines)
    assert len(got) == len(good)
    for row, want in zip(got, good, strict=True):
        np.testing.assert_allclose(row[:2], want[:2], rtol=1e-6)
        assert row[2:] == want[2:]


@pytest.mark.parametrize("reader", ["libsvm", "csv"])
@pytest.mark.parametrize(
    ("ending", "bad_line"),
    [(b"\n", 0), (b"\r\n", 0), (b"\r", 1), (b"\n\r", 2)],
    ids=["lf", "crlf", "cr", "lfcr"],
)
def test_line_endings_and_byte_order_mark(tmp_path, reader, ending, bad_line):
    rows = [b"label,x", b"1,2", b"0,3"] if reader == "csv" else [b"1 2:1", b"0 3:1"]
    path = tmp_path / "ends.txt"
    path.write_bytes(b"\xef\xbb\xbf" + b"".join(row + ending for row in rows))

    def read():
        if reader == "csv":
            return read_csv(path, label_column="label", task="binary")
        return read_libsvm(path, task="binary")

    if bad_line:
        with pytest.raises(ValueError, match=rf"{path}:{bad_line}: carriage return"):
            read()
        return
    labels = [float(x) for _, batch in read() for x in batch.numpy()]
    assert labels == [1.0, 0.0]
    features = next(iter(read()))[0]
    assert set(features) == ({"x"} if reader == "csv" else {"ids", "values"})


def test_lone_carriage_return_inside_a_line_is_located(tmp_path):
    # TensorFlow's line reader deletes "\r": this would read as pair 3:10.
    path = tmp_path / "joined.txt"
    path.write_bytes(b"1 2:1\n1 3:1\r0 4:1\n")
    with pytest.raises(ValueError, match=rf"{path}:2: carriage return"):
        read_libsvm(path, task="binary")


def test_pairs_per_row_is_a_located_error(tmp_path):
    path = tmp_path / "positions.txt"
    path.write_bytes(b"1 2:1 3:1\n0 4:1\n")
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        list(read_libsvm(path, task="binary", pairs_per_row=2))
    assert f"{path}:2: expected 2 pairs (one per field, by position), got: `1`" in (
        raised.value.message
    )
