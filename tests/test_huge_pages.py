"""Large tables in transparent huge pages: values kept, pages really huge."""

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fm import huge_pages
from keras_fm.huge_pages import advise_huge_pages

ROWS = 1 << 20  # x 4 float32 = 16 MB


@pytest.fixture
def small_minimum(monkeypatch):
    monkeypatch.setattr(huge_pages, "MIN_BYTES", 4 << 20)
    monkeypatch.delenv("KERAS_FM_HUGE_PAGES", raising=False)


needs_thp = pytest.mark.skipif(
    not huge_pages.offered(), reason="transparent huge pages not in madvise mode"
)


def anon_huge_kb():
    text = Path("/proc/self/smaps_rollup").read_text()
    line = next(x for x in text.splitlines() if x.startswith("AnonHugePages:"))
    return int(line.split()[1])


@needs_thp
def test_zeros_are_kept_and_writes_fault_in_huge_pages(small_minimum):
    variable = tf.Variable(tf.zeros((ROWS, 4)))
    advised = advise_huge_pages(variable)
    assert advised >= (16 << 20) - 2 * huge_pages.HUGE_PAGE
    assert advised % huge_pages.HUGE_PAGE == 0
    np.testing.assert_array_equal(variable.numpy(), 0)
    before = anon_huge_kb()
    variable.scatter_update(tf.IndexedSlices(tf.ones((ROWS, 4)), tf.range(ROWS)))
    assert anon_huge_kb() - before >= advised // 1024 // 2
    np.testing.assert_array_equal(variable.numpy(), 1)


@needs_thp
def test_a_repeated_value_other_than_zero_is_written_back(small_minimum):
    variable = keras.Variable(np.full((ROWS, 4), 0.1, "float32"))
    assert advise_huge_pages(variable) > 0
    np.testing.assert_array_equal(variable.numpy(), np.float32(0.1))
    counts = tf.Variable(tf.fill((ROWS * 4,), 7))
    assert advise_huge_pages(counts) > 0
    np.testing.assert_array_equal(counts.numpy(), 7)


def test_varied_values_small_variables_and_opting_out_change_nothing(
    small_minimum, monkeypatch
):
    values = np.random.default_rng(0).normal(size=(ROWS, 4)).astype("float32")
    variable = tf.Variable(values)
    assert advise_huge_pages(variable) == 0
    np.testing.assert_array_equal(variable.numpy(), values)
    assert advise_huge_pages(tf.Variable(tf.zeros((1000, 4)))) == 0
    assert advise_huge_pages(tf.Variable(1.0)) == 0
    monkeypatch.setenv("KERAS_FM_HUGE_PAGES", "0")
    assert not huge_pages.offered()
    assert advise_huge_pages(tf.Variable(tf.zeros((ROWS, 4)))) == 0


@pytest.mark.parametrize(
    ("mode", "offered"),
    [
        ("always madvise [never]\n", False),
        ("[always] madvise never\n", False),
        ("always [madvise] never\n", True),
    ],
)
def test_offered_only_in_madvise_mode(tmp_path, monkeypatch, mode, offered):
    monkeypatch.delenv("KERAS_FM_HUGE_PAGES", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    path = tmp_path / "enabled"
    path.write_text(mode)
    monkeypatch.setattr(huge_pages, "THP_MODE", path)
    assert huge_pages.offered() is offered
    monkeypatch.setattr(huge_pages, "THP_MODE", tmp_path / "absent")
    assert huge_pages.offered() is False


def test_not_while_tracing_a_function(small_minimum):
    variable = tf.Variable(tf.zeros((ROWS, 4)))
    traced = tf.function(lambda: advise_huge_pages(variable))
    assert traced() == 0


def _trained_fm(monkeypatch, enabled):
    from keras_fm.features import IdFeature
    from keras_fm.models import build_fm
    from keras_fm.optimizers import LazyAdam

    monkeypatch.setenv("KERAS_FM_HUGE_PAGES", "1" if enabled else "0")
    calls = []
    original = huge_pages.advise_huge_pages

    def spy(variable):
        calls.append(original(variable))
        return calls[-1]

    monkeypatch.setattr("keras_fm.layers.tables.advise_huge_pages", spy)
    monkeypatch.setattr("keras_fm.optimizers.sparse_rows.advise_huge_pages", spy)
    keras.utils.set_random_seed(1)
    model = build_fm([IdFeature("a", 600_000), IdFeature("b", 600_000)], task="binary")
    model.compile(LazyAdam(0.05), "binary_crossentropy")
    rng = np.random.default_rng(0)
    x = {name: rng.integers(0, 600_000, 512) for name in ("a", "b")}
    model.fit(x, rng.integers(0, 2, 512), batch_size=128, epochs=2, verbose=0)
    return model, calls


def test_training_is_the_same_with_and_without_huge_pages(small_minimum, monkeypatch):
    model, calls = _trained_fm(monkeypatch, enabled=True)
    reference, _ = _trained_fm(monkeypatch, enabled=False)
    # the latent and first-order tables, two slots each and a scratch
    if huge_pages.offered():
        assert sum(c > 0 for c in calls) == 7
    for got, expected in zip(model.weights, reference.weights, strict=True):
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
