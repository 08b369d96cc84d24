import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from deepscope.errors import DeepscopeError
from deepscope.lenses import landscape as L
from deepscope.nets import MLP
from deepscope.plots import plot_loss_contour, plot_loss_line, plot_loss_surface


@pytest.fixture(scope="module")
def results():
    torch.manual_seed(0)
    a, b = MLP((4, 6, 3)), MLP((4, 6, 3))
    x, y = torch.randn(20, 4), torch.randint(0, 3, (20,))
    d1, d2 = L.random_direction(a, 0), L.random_direction(a, 1)
    plane = L.loss_plane(a, F.cross_entropy, (x, y), d1, d2, steps=5)
    line = L.loss_line(a, F.cross_entropy, (x, y), d1, steps=5)
    path = L.interpolate(a, b, F.cross_entropy, (x, y), steps=5)
    return plane, line, path


def test_plots_return_figure_and_axes(results):
    plane, line, path = results
    fig, ax = plot_loss_contour(plane, title="t")
    assert isinstance(fig, Figure) and ax.get_title() == "t"
    fig, ax = plot_loss_surface(plane)
    assert ax.name == "3d"
    fig, ax = plot_loss_line(line, label="line")
    np.testing.assert_allclose(ax.lines[0].get_ydata(), line.loss)
    fig, ax = plot_loss_line(path)
    assert any("barrier" in t.get_text() for t in ax.texts)
    fig2 = Figure()
    ax2 = fig2.add_subplot()
    assert plot_loss_line(path, ax=ax2, accuracy=True)[1] is ax2


def test_plots_reject_wrong_inputs(results):
    plane, line, _ = results
    with pytest.raises(DeepscopeError, match="'result' parameter of plot_loss_contour"):
        plot_loss_contour(line)
    with pytest.raises(DeepscopeError, match="'result' parameter of plot_loss_line"):
        plot_loss_line(plane)
    with pytest.raises(DeepscopeError, match="3-D Axes"):
        plot_loss_surface(plane, ax=Figure().add_subplot())
