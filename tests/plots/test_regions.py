"""plot_regions draws every region, the decision boundary and the marked points."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure

from deepscope.errors import DeepscopeError
from deepscope.lenses import regions as R
from deepscope.nets import MLP
from deepscope.plots import plot_regions


@pytest.fixture(scope="module")
def part():
    torch.manual_seed(0)
    net = MLP((2, 8, 8, 1), activation="relu")
    with torch.no_grad():
        net.fc3.bias -= net(torch.zeros(1, 2))[0]
    return R.regions_in_plane(net, torch.zeros(2), torch.eye(2), (-2, 2, -2, 2))


@pytest.mark.parametrize("color", ["random", "class", "area"])
def test_draws_every_region_and_the_boundary(part, color):
    fig, ax = plot_regions(part, points=[[0.0, 0.0], [1.0, 1.0]], color=color)
    assert isinstance(fig, Figure)
    polys = [c for c in ax.collections if isinstance(c, PolyCollection)]
    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(polys[0].get_paths()) == part.count
    assert len(lines[0].get_segments()) == sum(len(b) for b in part.boundary) > 0
    assert ax.get_xlim() == (-2.0, 2.0) and f"{part.count:,}" in ax.get_title()
    fig.savefig(__import__("io").BytesIO(), format="png")


def test_existing_axes_and_no_boundary(part):
    fig = Figure()
    ax = fig.add_subplot()
    out_fig, out_ax = plot_regions(part, ax, boundary=False, title="t")
    assert out_ax is ax and out_fig is fig and ax.get_title() == "t"
    assert not [c for c in ax.collections if isinstance(c, LineCollection)]


def test_bad_arguments(part):
    with pytest.raises(DeepscopeError, match="'result' parameter of plot_regions"):
        plot_regions(np.zeros(3))
    with pytest.raises(DeepscopeError, match="'color' parameter"):
        plot_regions(part, color="rainbow")
    with pytest.raises(DeepscopeError, match="'points' parameter"):
        plot_regions(part, points=[1.0, 2.0, 3.0])
    with pytest.raises(DeepscopeError, match="'ax' parameter"):
        plot_regions(part, ax="axes")
