"""Every model under `MirroredStrategy` on 2 logical CPU devices trains as on
one device (`tests/distribute/mirrored_cases.py`, one process for the cases
this session selected)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.models.test_models import SMALL

pytestmark = pytest.mark.xdist_group("mirrored")  # one worker runs the process

ROW_SPARSE = ("lazy_adam", "sparse_adagrad", "sparse_ftrl")
IN_CI = {"deepfm:adam", "fm:lazy_adam"}
EXACT = [
    *(f"{name}:adam" for name in sorted(SMALL)),
    *(f"fm:{optimizer}" for optimizer in ROW_SPARSE),
    *(f"deepfm:{optimizer}" for optimizer in ROW_SPARSE),
]


def cases(names):
    return [
        name if name in IN_CI else pytest.param(name, marks=pytest.mark.long)
        for name in names
    ]


@pytest.fixture(scope="module")
def results(request):
    """The selected cases' results, from one process."""
    selected = [
        item.callspec.params["case"]
        if hasattr(item, "callspec")
        else item.get_closest_marker("case").args[0]
        for item in request.session.items
        if getattr(item, "module", None) is request.module
    ]
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


@pytest.mark.parametrize("case", cases(EXACT))
def test_two_replicas_leave_the_weights_of_one_device(results, case):
    """4 steps at a global batch of 16 on 2 replicas (8 rows each) against one
    device at 16 leave the same weights, to the rounding that one device shows
    with each batch's rows in reverse order (Adam turns the rounding of a
    near-zero gradient into a step of up to the learning rate)."""
    result = results[case]
    assert result["replicas"] == 2
    assert result["moved"] > 1e-3
    tolerance = 1e-6 + 1e-5 * result["moved"] + 3 * result["rounding"]
    assert result["difference"] <= tolerance, result
    one, two = result["losses"]
    assert two == pytest.approx(one, rel=1e-5)


@pytest.mark.case("global_batch_norm")
def test_batch_norm_takes_the_global_batchs_statistics(results):
    """A feature of mean 1e4 and spread 1 on 2 replicas: the same outputs as
    one device on the whole batch, where Keras's ``synchronized=True``
    (``E[x^2] - E[x]^2`` in float32) loses the variance entirely."""
    result = results["global_batch_norm"]
    assert result["global"] < 1e-3
    assert result["keras_synchronized"] > 10


@pytest.mark.case("defaults")
def test_defaults_train_evaluate_save_and_export_under_the_strategy(results):
    result = results["defaults"]
    assert (result["jit_compile"], result["steps_per_execution"]) == (False, 1)
    assert 0.0 <= result["auc"] <= 1.0
    assert result["finite"]
    assert result["reloaded_difference"] == 0.0
    assert result["signature_inputs"] == ["age", "genre", "user"]


@pytest.mark.case("outside_scope")
def test_an_optimizer_from_outside_the_scope_is_refused_by_name(results):
    """Keras's Adam and the row-sparse optimizers alike: made outside the
    model's scope, TensorFlow would fail in fit with "Mixing different
    tf.distribute.Strategy objects"; compile_for_task says what to do. With no
    optimizer it makes the default one in the model's scope."""
    result = results["outside_scope"]
    assert result["refused"] == dict.fromkeys(
        ("adam", "lazy_adam", "sparse_adagrad", "sparse_ftrl"), True
    )
    assert result["replicas"] == 2
    first, second = result["losses"]
    assert second < first
