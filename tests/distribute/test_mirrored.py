"""Every model under `MirroredStrategy` on 2 logical CPU devices trains as on
one device (`tests/distribute/mirrored_cases.py`, one process for the cases
this session selected)."""

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.models.test_models import SMALL

ROW_SPARSE = ("lazy_adam", "sparse_adagrad", "sparse_ftrl")
IN_CI = {"deepfm:adam", "fm:lazy_adam"}
EXACT = [
    *(f"{name}:adam" for name in sorted(SMALL)),
    *(f"fm:{optimizer}" for optimizer in ROW_SPARSE),
    *(f"deepfm:{optimizer}" for optimizer in ROW_SPARSE),
]


def cases(names):
    """Each case as a long test: CI checks its own cases in one test
    (`test_in_one_test_for_ci`), which pytest-xdist cannot split."""
    return [pytest.param(name, marks=pytest.mark.long) for name in names]


@pytest.fixture(scope="session")
def results(request, tmp_path_factory):
    """The selected cases' results, from one process for the whole run.

    With pytest-xdist, both workers run tests of this module (pytest 9 with
    xdist 3.8 ignores ``xdist_group``), so the first worker to get here runs
    the process and the other reads its results from a file they share.
    """
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run_id is None:
        return run_cases(request)
    shared = tmp_path_factory.getbasetemp().parent / f"mirrored-{run_id}.json"
    with open(shared.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits here
        if not shared.exists():
            shared.write_text(json.dumps(run_cases(request)))
        return json.loads(shared.read_text())


def run_cases(request):
    selected = []
    for item in request.session.items:
        if getattr(getattr(item, "module", None), "__name__", None) != __name__:
            continue
        if hasattr(item, "callspec"):
            selected.append(item.callspec.params["case"])
        else:
            selected.extend(item.get_closest_marker("case").args)
    selected = list(dict.fromkeys(selected))
    done = subprocess.run(
        [sys.executable, "-m", "tests.distribute.mirrored_cases", *selected],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line[:1] == "{"]
    return {
        f"{r['model']}:{r['optimizer']}" if r["case"] == "exact" else r["case"]: r
        for r in lines
    }


@pytest.mark.case(
    *sorted(IN_CI), "every_model", "global_batch_norm", "defaults", "outside_scope"
)
def test_in_one_test_for_ci(results):
    """CI's cases, checked as the long tests below check them: every zoo
    model trains on 2 replicas with the defaults, and the exactness of two
    (every model and optimizer in the long set)."""
    for case in sorted(IN_CI):
        check_exact(results[case])
    check_every_model(results["every_model"])
    check_batch_norm(results["global_batch_norm"])
    check_defaults(results["defaults"])
    check_outside_scope(results["outside_scope"])


@pytest.mark.parametrize("case", cases(EXACT))
def test_two_replicas_leave_the_weights_of_one_device(results, case):
    check_exact(results[case])


def check_exact(result):
    """4 steps at a global batch of 16 on 2 replicas (8 rows each) against one
    device at 16 leave the same weights, to the rounding that one device shows
    with each batch's rows in reverse order (Adam turns the rounding of a
    near-zero gradient into a step of up to the learning rate)."""
    assert result["replicas"] == 2
    assert result["moved"] > 1e-3
    tolerance = 1e-6 + 1e-5 * result["moved"] + 3 * result["rounding"]
    assert result["difference"] <= tolerance, result
    one, two = result["losses"]
    assert two == pytest.approx(one, rel=1e-5)


def check_every_model(result):
    """Each model's loss was finite and its weights moved."""
    assert sorted(result["moved"]) == sorted(SMALL)
    for name, moved in result["moved"].items():
        assert moved > 1e-4, name


@pytest.mark.long
@pytest.mark.case("global_batch_norm")
def test_batch_norm_takes_the_global_batchs_statistics(results):
    check_batch_norm(results["global_batch_norm"])


def check_batch_norm(result):
    """A feature of mean 1e4 and spread 1 on 2 replicas: the same outputs as
    one device on the whole batch, where Keras's ``synchronized=True``
    (``E[x^2] - E[x]^2`` in float32) loses the variance entirely."""
    assert result["global"] < 1e-3
    assert result["keras_synchronized"] > 10


@pytest.mark.long
@pytest.mark.case("defaults")
def test_defaults_train_evaluate_save_and_export_under_the_strategy(results):
    check_defaults(results["defaults"])


def check_defaults(result):
    assert (result["jit_compile"], result["steps_per_execution"]) == (False, 1)
    assert 0.0 <= result["auc"] <= 1.0
    assert result["finite"]
    assert result["reloaded_difference"] == 0.0
    assert result["signature_inputs"] == ["age", "genre", "user"]


@pytest.mark.long
@pytest.mark.case("outside_scope")
def test_an_optimizer_from_outside_the_scope_is_refused_by_name(results):
    check_outside_scope(results["outside_scope"])


def check_outside_scope(result):
    """Keras's Adam and the row-sparse optimizers alike: made outside the
    model's scope, TensorFlow would fail in fit with "Mixing different
    tf.distribute.Strategy objects"; compile_for_task says what to do. With no
    optimizer it makes the default one in the model's scope. Grouped steps
    would fail in fit (keras-team/keras#19246): refused by name, while an
    explicit one step per call trains."""
    assert result["refused"] == dict.fromkeys(
        ("adam", "lazy_adam", "sparse_adagrad", "sparse_ftrl"), True
    )
    assert result["replicas"] == 2
    assert result["grouped_steps"].startswith(
        "steps_per_execution=32 under MirroredStrategy: Keras 3's fit fails"
    )
    assert "keras-team/keras#19246" in result["grouped_steps"]
    first, second = result["losses"]
    assert second < first
