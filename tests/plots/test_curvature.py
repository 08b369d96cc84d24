"""Plots of the curvature lens."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import nn  # noqa: E402

from deepscope.errors import DeepscopeTypeError  # noqa: E402
from deepscope.lenses.curvature import hessian_density, hessian_eigs  # noqa: E402
from deepscope.plots import plot_hessian_density, plot_hessian_eigs  # noqa: E402

F = torch.nn.functional


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    g = torch.Generator().manual_seed(0)
    return model, (torch.randn(20, 4, generator=g, dtype=torch.float64),
                   torch.randint(0, 3, (20,), generator=g))


def test_density_plot(net):
    model, data = net
    dens = hessian_density(model, F.cross_entropy, data, n_runs=2, n_iter=10, n_grid=200)
    fig, ax = plot_hessian_density(dens, label="tanh")
    assert isinstance(fig, Figure) and ax.get_yscale() == "log"
    xs, ys = ax.lines[0].get_data()
    assert len(xs) == 200 and (ys > 0).all() and ys.max() == pytest.approx(dens.density.max())
    assert "Hessian" in ax.get_xlabel() and ax.get_legend() is not None
    fig2 = Figure()
    ax2 = fig2.add_subplot()
    out_fig, out_ax = plot_hessian_density(dens, ax2, log=False)
    assert out_fig is fig2 and out_ax is ax2 and ax2.get_yscale() == "linear"
    fig.savefig(__import__("io").BytesIO(), format="png")


def test_eigs_plot(net):
    model, data = net
    eigs = hessian_eigs(model, F.cross_entropy, data, k=3, which="both")
    fig, ax = plot_hessian_eigs(eigs)
    xs, ys = ax.lines[-1].get_data() if not bool(eigs.converged.all()) else ax.lines[0].get_data()
    assert list(xs) == [1, 2, 3, 4, 5, 6]
    assert ys == pytest.approx(eigs.eigenvalues.tolist())


def test_plot_rejects_other_objects():
    with pytest.raises(DeepscopeTypeError, match="'result' parameter of plot_hessian_density"):
        plot_hessian_density({"grid": 1})
    with pytest.raises(DeepscopeTypeError, match="'result'"):
        plot_hessian_eigs(3)
