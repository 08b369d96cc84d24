"""Tests of deepscope.plots (information plane and MI over epochs)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure

from deepscope.errors import DeepscopeError
from deepscope.plots import plot_information_plane, plot_mi_over_epochs

LAYERS = ["fc1", "fc2", "fc3", "fc4"]
STEPS = [0, 1, 3, 10, 30, 100]


def _frame(seeds=(0,)) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        for k, layer in enumerate(LAYERS):
            for step in STEPS:
                t = np.log1p(step)
                rows.append({"step": step, "layer": layer, "seed": seed,
                             "i_xt": 10.0 - 2 * k + 0.1 * t + seed,
                             "i_ty": 0.1 * t - 0.05 * k + seed})
    return pd.DataFrame(rows)


class _Result:
    """Stands in for a lens result: anything with .to_frame()."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def to_frame(self) -> pd.DataFrame:
        return self._frame


def test_information_plane_over_steps():
    frame = _frame()
    fig, ax = plot_information_plane(frame)
    assert isinstance(fig, Figure) and ax in fig.axes
    assert len(ax.lines) == len(LAYERS)  # one curve per layer
    assert len(ax.collections) == 1  # one scatter of every point, coloured by epoch
    points = ax.collections[0]
    assert len(points.get_offsets()) == len(LAYERS) * len(STEPS)
    assert isinstance(points.norm, LogNorm) and points.norm.vmin == 1  # step 0 clipped to 1
    assert [t.get_text() for t in ax.texts] == LAYERS
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "epoch"  # the colour bar
    assert ax.get_xlabel() == "I(X;T) (bits)" and ax.get_ylabel() == "I(T;Y) (bits)"
    # each curve goes through its layer's points in step order
    x, y = ax.lines[1].get_data()
    np.testing.assert_allclose(x, frame[frame.layer == "fc2"].sort_values("step")["i_xt"])
    # the label sits at the last point
    assert ax.texts[1].xy == pytest.approx((x[-1], y[-1]))
    fig.savefig(io.BytesIO(), format="png")


def test_information_plane_one_point_per_layer_and_options():
    last = _frame()
    last = last[last.step == 100].drop(columns=["step", "seed"])
    fig, ax = plot_information_plane(_Result(last))
    assert len(ax.lines) == 1 and len(ax.lines[0].get_xdata()) == len(LAYERS)
    assert [t.get_text() for t in ax.texts] == LAYERS and len(fig.axes) == 1
    fig, ax = plot_information_plane(_frame(), color_by="layer")
    assert len(ax.lines) == len(LAYERS) and len(fig.axes) == 1  # no colour bar
    fig, ax = plot_information_plane(_frame(), log_color=False)
    assert type(ax.collections[0].norm) is Normalize
    base = Figure()
    own = base.add_subplot()
    fig, ax = plot_information_plane(_frame(), ax=own)
    assert ax is own and fig is base


def test_information_plane_tidy_rows_are_averaged_over_seeds():
    wide = _frame(seeds=(0, 1))
    tidy = wide.melt(id_vars=["step", "layer", "seed"], var_name="metric", value_name="value")
    tidy["lens"] = "information"
    fig, ax = plot_information_plane(tidy)
    assert len(ax.lines) == len(LAYERS)
    x, _ = ax.lines[0].get_data()
    expected = wide[wide.layer == "fc1"].groupby("step")["i_xt"].mean()
    np.testing.assert_allclose(x, expected.to_numpy())


def test_information_plane_errors():
    with pytest.raises(DeepscopeError, match="'color_by' parameter of plot_information_plane"):
        plot_information_plane(_frame(), color_by="seed")
    with pytest.raises(DeepscopeError, match="'result' parameter of plot_information_plane"):
        plot_information_plane(pd.DataFrame({"layer": ["a"], "i_xt": [1.0]}))
    with pytest.raises(DeepscopeError, match="'result' parameter"):
        plot_information_plane([1, 2, 3])


def test_mi_over_epochs():
    frame = _frame()
    fig, ax = plot_mi_over_epochs(frame, metric="i_ty")
    assert len(ax.lines) == len(LAYERS)
    assert [line.get_label() for line in ax.lines] == LAYERS
    assert ax.get_xscale() == "symlog"  # step 0 is present
    assert ax.get_ylabel() == "I(T;Y) (bits)" and ax.get_xlabel() == "epoch"
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), STEPS)
    fig, ax = plot_mi_over_epochs(frame[frame.step > 0])
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "I(X;T) (bits)"
    with pytest.raises(DeepscopeError, match="'result' parameter of plot_mi_over_epochs"):
        plot_mi_over_epochs(frame, metric="accuracy")
    with pytest.raises(DeepscopeError, match="'step' column"):
        plot_mi_over_epochs(frame.drop(columns="step"))
