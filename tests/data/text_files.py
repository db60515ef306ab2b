"""Writers of small text files in each format, from known arrays (test side)."""

import gzip

import numpy as np


def write_lines(path, lines):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8", newline="") as handle:
        handle.write("".join(line + "\n" for line in lines))


def random_sparse_rows(
    num_rows, seed, with_fields=False, num_features=50, num_fields=6
):
    """Rows of (label, [(field,) id, value]) with 0 to 7 non-zeros each."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(num_rows):
        nnz = int(rng.integers(0, 8))
        ids = rng.integers(0, num_features, size=nnz).tolist()
        values = np.round(rng.normal(size=nnz), 3).tolist()
        fields = rng.integers(0, num_fields, size=nnz).tolist()
        label = float(rng.choice([-1.0, 1.0]))
        rows.append((label, fields if with_fields else None, ids, values))
    return rows


def sparse_line(label, fields, ids, values):
    if fields is None:
        pairs = [f"{i}:{v}" for i, v in zip(ids, values, strict=True)]
    else:
        pairs = [f"{f}:{i}:{v}" for f, i, v in zip(fields, ids, values, strict=True)]
    return " ".join([f"{label:g}", *pairs])
