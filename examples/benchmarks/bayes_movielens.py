"""Bayesian FM (`keras_fm.bayes.fit_mcmc`) on MovieLens 100K: test RMSE on
the five official folds and seconds per sweep, next to libFM's MCMC.

Each fold trains on ``uK.base`` (user and movie one-hot, each its own prior
group, as myFM groups fields; with ``--features side`` also the user's age
bucket, gender, occupation and zip code's first digit, and the movie's
genres at 1/n each and release decade, a group per field; with
``side+implicit`` also SVD++'s implicit feedback: the movies each user rated
and the users who rated each movie, in ``uK.base``) and reports the RMSE of
the posterior mean on ``uK.test``, after ``--sweeps`` sweeps of which the
first ``--burn-in`` are dropped, in each of ``--chains`` chains (seeds
``--seed``, ``--seed + 1``, ...) whose samples are averaged together.
With ``--tables`` (always with ``side+implicit``), the user's and the
movie's features are two relation blocks (`keras_fm.bayes.Relation`)
rather than columns of every row.
Seconds: ``fit s`` is the whole `fit_mcmc` call (coloring, the two XLA
compilations, every sweep, the model), ``s/sweep`` the median of 20 more
sweeps once compiled. With ``--libfm PATH`` (a libFM binary), libFM's MCMC
runs the same number of iterations on the same rows (``-meta`` with the same
two groups) and its RMSE and whole run time (reading its files included)
print beside ours, then its seconds per iteration; ``ratio`` is our
``fit s`` over libFM's run.

Published figures (mean test RMSE over u1..u5 or one fold, no side
features): libFM MCMC 0.8981 at k = 32 and 0.9007 at k = 8 (run here by an
earlier session); myFM 0.8944 on u3 at rank 10 (myFM's documentation).
With side features and implicit feedback: myFM 0.8833 on u1 at rank 10
(its examples/ml-100k-extended.ipynb, with also the rating's date).

Usage: python examples/benchmarks/bayes_movielens.py [--data DIR]
       [--dims 8,32] [--folds 1,2,3,4,5] [--sweeps 200] [--burn-in 20]
       [--thin 1] [--chains 1] [--seed 0]
       [--features ids|side|side+implicit] [--tables] [--libfm PATH]
"""

import argparse
import re
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from keras_fm.bayes import SparseRows, color_features, fit_mcmc
from keras_fm.bayes.gibbs import GibbsSweep
from keras_fm.bayes.relations import Relation

USERS, MOVIES = 943, 1682
# Side features after the user and movie ids, in two encodings.
# ``coarse``: age bucket (MovieLens 1M's bounds), gender, occupation and the
# zip code's first character; the movie's genres at 1/n each and its release
# decade. ``myfm``: myFM's tutorial's encoding (doc/source/movielens.rst,
# "Adding side information"): age in 5-year buckets, gender, occupation,
# zip code's first character; the movie's release year and its genres at 1.
AGE_BOUNDS = (18, 25, 35, 45, 50, 56)


def _user_fields(line, encoding):
    _, age, gender, job, code = line.split("|")
    if encoding == "myfm":
        age = str(int(age) // 5 * 5)
    else:
        age = str(int(np.searchsorted(AGE_BOUNDS, int(age), side="right")))
    return {"age": age, "gender": gender, "occupation": job, "zip": code[0]}


def _movie_fields(parts, encoding):
    year = parts[2][-4:] if parts[2][-4:].isdigit() else "unknown"
    if encoding == "coarse" and year != "unknown":
        year = str(min(max(int(year) // 10 * 10, 1920), 1990))
    genres = [str(g) for g, on in enumerate(parts[5:]) if on == "1"]
    return {"year": year}, genres


def side_features(folder, encoding="coarse"):
    """(users, movies, sizes): per user and per movie its side features as
    (ids, values), ids counted from 0 within the side features, and the
    number of values of each side field (only values that occur)."""
    user_rows = [
        (int(line.split("|")[0]), _user_fields(line, encoding))
        for line in (folder / "u.user").read_text().splitlines()
    ]
    movie_rows = [
        (int(parts[0]), *_movie_fields(parts, encoding))
        for parts in (
            line.split("|")
            for line in (folder / "u.item").read_bytes().decode("latin-1").splitlines()
        )
    ]
    fields = [*user_rows[0][1], *movie_rows[0][1], "genres"]
    seen = {field: set() for field in fields}
    for _, values in user_rows:
        for field, value in values.items():
            seen[field].add(value)
    for _, values, genres in movie_rows:
        seen["year"].add(values["year"])
        seen["genres"].update(genres)
    index, sizes, offset = {}, {}, 0
    for field in fields:
        for position, value in enumerate(sorted(seen[field])):
            index[field, value] = offset + position
        sizes[field] = len(seen[field])
        offset += sizes[field]
    users = {
        user: ([index[f, v] for f, v in values.items()], [1.0] * len(values))
        for user, values in user_rows
    }
    share = (lambda n: 1.0 / max(n, 1)) if encoding == "coarse" else (lambda n: 1.0)
    movies = {
        movie: (
            [index["year", values["year"]], *(index["genres", g] for g in genres)],
            [1.0, *[share(len(genres))] * len(genres)],
        )
        for movie, values, genres in movie_rows
    }
    return users, movies, sizes


def read(path, side=None, extra=0):
    """A fold file's rows: user and movie one-hot (and with ``side``, from
    `side_features`, theirs), the rating as the label; ``extra`` features
    more in the feature space (for relations)."""
    table = np.loadtxt(path, dtype=np.int64)
    ids, values = [], []
    for user, movie, _, _ in table:
        row, weights = [user - 1, USERS + movie - 1], [1.0, 1.0]
        if side is not None:
            for table_, key in ((side[0], user), (side[1], movie)):
                more, more_values = table_[key]
                row += [USERS + MOVIES + i for i in more]
                weights += more_values
        ids.append(row)
        values.append(weights)
    size = USERS + MOVIES + (sum(side[2].values()) if side is not None else 0)
    return SparseRows.from_lists(ids, values, table[:, 2], size + extra)


def relations_of(train, rows, side, offset, with_implicit=True):
    """The rows of ``rows`` as two `Relation`s (Rendle, 2013; myFM's
    relation blocks): a user table (the user's id, side features, and
    SVD++'s implicit feedback: every movie the user rated in ``train``, as
    features ``offset + movie``) and a movie table (its id, side features,
    and every user who rated it in ``train``, as ``offset + MOVIES +
    user``); the implicit lists at 1/sqrt(n) each, as myFM weighs them.
    ``side`` None: no side features; ``with_implicit`` False: no lists."""
    table = np.loadtxt(train, dtype=np.int64) - 1
    keys = np.loadtxt(rows, dtype=np.int64)[:, :2] - 1
    relations = []
    for key, size, first, own in (
        (0, USERS, offset, lambda u: u),
        (1, MOVIES, offset + MOVIES, lambda m: USERS + m),
    ):
        lists = [[] for _ in range(size)]
        for entry in table if with_implicit else ():
            lists[entry[key]].append(first + entry[1 - key])
        ids, values = [], []
        for index, rated in enumerate(lists):
            extra, weights = side[key][index + 1] if side else ([], [])
            ids.append(
                [own(index), *(USERS + MOVIES + i for i in extra), *sorted(rated)]
            )
            weight = 1 / np.sqrt(max(len(rated), 1))
            values.append([1.0, *weights, *[weight] * len(rated)])
        relations.append(Relation.from_lists(keys[:, key], ids, values))
    return relations


def groups_of(side, with_implicit=False):
    """One prior group per field: user, movie, each side feature and each
    implicit feedback."""
    sizes = [USERS, MOVIES, *(side[2].values() if side is not None else ())]
    sizes += [MOVIES, USERS] if with_implicit else []
    return np.repeat(np.arange(len(sizes)), sizes)


def ours(folder, fold, dim, args):
    """(test RMSE, fit seconds, seconds per compiled sweep) on one fold."""
    side = side_features(folder, args.side) if args.features != "ids" else None
    with_implicit = args.features == "side+implicit"
    base, held_out = folder / f"u{fold}.base", folder / f"u{fold}.test"
    extra = (USERS + MOVIES) * with_implicit
    train, test = read(base, side, extra), read(held_out, side, extra)
    if with_implicit or args.tables:  # the same features, as two tables
        offset = train.num_features - extra
        train, test = (
            SparseRows.checked([], [], [], data.labels, data.num_features)
            .with_relations(relations_of(base, path, side, offset, with_implicit))
            for data, path in ((train, base), (test, held_out))
        )  # fmt: skip
        test = test.expand()
    groups = groups_of(side, with_implicit)
    start = time.perf_counter()
    model = fit_mcmc(train, embedding_dim=dim, num_sweeps=args.sweeps,
                     burn_in=args.burn_in, thin=args.thin, groups=groups,
                     num_chains=args.chains, seed=args.seed)  # fmt: skip
    seconds = time.perf_counter() - start
    chain = GibbsSweep(train, groups, dim, "regression", color_features(train))
    for _ in range(2):  # both compilations (with and without recomputation)
        chain.sweep()
    sweeps = []
    for _ in range(20):
        start = time.perf_counter()
        chain.sweep()
        sweeps.append(time.perf_counter() - start)
    import tensorflow as tf

    inputs = {
        "ids": tf.RaggedTensor.from_value_rowids(test.ids, test.rows),
        "values": tf.RaggedTensor.from_value_rowids(
            test.values.astype("float32"), test.rows
        ),
    }
    scores = model.predict(inputs, batch_size=4096, verbose=0)[:, 0]
    rmse = float(np.sqrt(np.mean((scores - test.labels) ** 2)))
    return rmse, seconds, float(np.median(sweeps))


def libfm(binary, folder, fold, dim, args, work):
    """(test RMSE, seconds of the run) of libFM's MCMC on one fold."""
    files = {}
    for part in ("base", "test"):
        table = np.loadtxt(folder / f"u{fold}.{part}", dtype=np.int64)
        files[part] = work / f"u{fold}.{part}.libfm"
        files[part].write_text("".join(
            f"{r} {u - 1}:1 {USERS + m - 1}:1\n" for u, m, r, _ in table
        ))  # fmt: skip
    meta = work / "groups.txt"
    meta.write_text("0\n" * USERS + "1\n" * MOVIES)
    command = [
        binary, "-task", "r", "-train", str(files["base"]), "-test", str(files["test"]),
        "-dim", f"1,1,{dim}", "-iter", str(args.sweeps), "-method", "mcmc",
        "-init_stdev", "0.1", "-meta", str(meta),
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    last = re.findall(r"Test=([\d.]+)", done.stdout)[-1]
    return float(last), seconds


def row(fold, dim, result, args):
    rmse, seconds, sweep, their_rmse, their_seconds = result
    line = f"{dim:>3}{fold:>5}{rmse:>8.4f}{seconds:>7.1f}{sweep:>9.3f}"
    if args.libfm:
        line += f"{their_rmse:>12.4f}{their_seconds:>9.1f}"
        line += f"{their_seconds / args.sweeps:>7.3f}{seconds / their_seconds:>7.2f}"
    return line


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[3] / "shared" / "data"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--dims", default="8,32")
    parser.add_argument("--folds", default="1,2,3,4,5")
    parser.add_argument("--sweeps", type=int, default=200)
    parser.add_argument("--burn-in", type=int, default=20)
    parser.add_argument("--thin", type=int, default=1, help="keep every n-th sample")
    parser.add_argument("--chains", type=int, default=1, help="independent chains")
    parser.add_argument("--seed", type=int, default=0, help="the first chain's seed")
    parser.add_argument("--libfm", help="a libFM binary, run beside")
    parser.add_argument(
        "--tables",
        action="store_true",
        help="user and movie features as two relation blocks (always with "
        "side+implicit)",
    )
    parser.add_argument(
        "--features", choices=("ids", "side", "side+implicit"), default="ids"
    )
    parser.add_argument(
        "--side",
        choices=("coarse", "myfm"),
        default="coarse",
        help="the side features' encoding (see side_features)",
    )
    args = parser.parse_args()
    if args.libfm and args.features != "ids":
        raise SystemExit("--libfm runs with --features ids only")
    folder = args.data / "ml-100k"
    if not (folder / "u1.base").exists():
        raise SystemExit(f"MovieLens 100K is absent: {folder} (see its SOURCE.md)")
    work = Path(tempfile.mkdtemp(prefix="bayes_movielens_"))
    print(f"{'k':>3}{'fold':>5}{'RMSE':>8}{'fit s':>7}{'s/sweep':>9}"
          f"{'libFM RMSE':>12}{'libFM s':>9}{'s/it':>7}{'ratio':>7}",
          flush=True)  # fmt: skip
    for dim in map(int, args.dims.split(",")):
        results = []
        for fold in map(int, args.folds.split(",")):
            result = ours(folder, fold, dim, args)
            theirs = (np.nan, np.nan)
            if args.libfm:
                theirs = libfm(args.libfm, folder, fold, dim, args, work)
            results.append((*result, *theirs))
            print(row(str(fold), dim, results[-1], args), flush=True)
        print(row("mean", dim, np.mean(results, axis=0), args), flush=True)


if __name__ == "__main__":
    main()
