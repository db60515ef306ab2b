import sys

import numpy as np
import pytest

from keras_fm.explain import Attributions
from keras_fm.plots import (
    field_bars,
    interaction_heatmap,
    reliability_diagram,
    run_report,
    waterfall,
)

PNG = b"\x89PNG"


def result():
    rng = np.random.default_rng(0)
    pairs = rng.normal(size=(5, 3, 3))
    pairs = pairs + pairs.transpose(0, 2, 1)
    pairs[:, range(3), range(3)] = 0
    fields = rng.normal(size=(5, 3))
    return Attributions(np.array(["a", "b", "c"]), np.full(5, 0.1), fields, pairs,
                        np.zeros(5), 0.1 + fields.sum(1))  # fmt: skip


def test_each_picture_is_a_png(tmp_path):
    paths = [
        interaction_heatmap(result(), str(tmp_path / "i.png")),
        field_bars(result(), str(tmp_path / "f.png")),
        waterfall(result(), 2, str(tmp_path / "w.png")),
        reliability_diagram(
            np.array([0, 1, 1]), np.array([0.2, 0.6, 0.9]), str(tmp_path / "r.png")
        ),
    ]
    history = tmp_path / "history.csv"
    history.write_text(
        "epoch,auc,learning_rate,loss,val_auc,val_loss\n"
        "0,0.8,0.01,0.5,0.79,0.52\n1,0.85,0.01,0.4,0.8,0.5\n2,0.86,0.001,0.38,0.81,0.49\n"
    )
    paths.append(run_report(history, tmp_path / "report.png"))
    for path in paths:
        with open(path, "rb") as handle:
            data = handle.read()
        assert data.startswith(PNG) and len(data) > 5000, path


def test_the_report_reads_what_keras_writes(tmp_path, monkeypatch):
    """``NA`` in the ``val_`` columns of a run without validation data, and
    an epoch logged twice around a resume: the last line of each epoch is
    drawn, empty columns are not."""
    history = tmp_path / "history.csv"
    history.write_text(
        "epoch,auc,loss,val_auc,val_loss\n"
        "0,0.8,0.5,NA,NA\n1,0.81,0.45,NA,NA\n1,0.82,0.4,NA,NA\n2,0.86,0.38,NA,NA\n"
    )
    axes = pytest.importorskip("matplotlib.axes")
    drawn = []
    plot = axes.Axes.plot
    monkeypatch.setattr(
        axes.Axes, "plot",
        lambda self, x, y, **kw: drawn.append((list(x), list(y))) or plot(self, x, y),
    )  # fmt: skip
    assert run_report(history, tmp_path / "report.png").endswith("report.png")
    assert drawn == [([1, 2, 3], [0.5, 0.4, 0.38]), ([1, 2, 3], [0.8, 0.82, 0.86])]


def test_missing_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'keras-fm\[plots\]'"):
        field_bars(result(), str(tmp_path / "f.png"))


def test_a_model_without_pairs_has_no_heatmap(tmp_path):
    plain = result()
    plain = Attributions(plain.field_names, plain.bias, plain.fields, None,
                         plain.rest, plain.logit)  # fmt: skip
    with pytest.raises(ValueError, match="no pairwise terms"):
        interaction_heatmap(plain, str(tmp_path / "i.png"))
