import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from deepscope.errors import DeepscopeError  # noqa: E402
from deepscope.lenses import representations as rep  # noqa: E402
from deepscope.plots import (  # noqa: E402
    plot_cka_matrix,
    plot_embedding,
    plot_intrinsic_dimension,
    plot_invariance,
    plot_probe,
)


def _net():
    gen = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return net


def _x(n=80):
    return torch.randn(n, 1, 4, 4, generator=torch.Generator().manual_seed(1))


def test_plot_cka_matrix_annotates_cells():
    m = rep.cka_matrix(_net(), None, _x(), layers_a=["1", "2", "3"])
    fig, ax = plot_cka_matrix(m)
    assert isinstance(fig, Figure)
    assert len(ax.texts) == 9 and ax.texts[0].get_text() == "1.00"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "2", "3"]


def test_plot_intrinsic_dimension_from_mapping_and_groups():
    g = torch.Generator().manual_seed(0)
    res = {f"l{i}": rep.intrinsic_dimension(torch.randn(200, i + 2, generator=g),
                                            n_bootstrap=10) for i in range(3)}
    fig, ax = plot_intrinsic_dimension(res, label="net")
    assert len(ax.lines) == 1 and len(ax.collections) == 1
    df = pd.DataFrame({"layer": ["a", "b", "a", "b"], "dimension": [3.0, 2.0, 4.0, 5.0],
                       "group": ["true", "true", "random", "random"]})
    fig, ax = plot_intrinsic_dimension(df)
    assert len(ax.lines) == 2


def test_plot_probe_invariance_embedding():
    y = torch.arange(90) % 3
    x = torch.nn.functional.one_hot(y).double() * 3 + torch.randn(90, 3, dtype=torch.float64,
                                                                   generator=torch.Generator())
    fig, ax = plot_probe(rep.linear_probe({"a": x, "b": x * 2}, y))
    assert len(ax.lines) == 4
    inv = rep.invariance(_net(), _x(), rep.gaussian_noise(0.1), layers=["1", "3"])
    fig, ax = plot_invariance(inv)
    fig, ax = plot_invariance(inv, ax=ax, label="again")
    assert len(ax.lines) == 2
    e = rep.embed(x)
    fig, ax = plot_embedding(e, labels=y)
    assert ax.get_legend() is not None


def test_bad_arguments():
    with pytest.raises(DeepscopeError, match="'result' parameter of plot_cka_matrix"):
        plot_cka_matrix(np.eye(3))
    with pytest.raises(DeepscopeError, match="'results' parameter of plot_intrinsic"):
        plot_intrinsic_dimension([1, 2])
    with pytest.raises(DeepscopeError, match="'labels'"):
        plot_embedding(rep.embed(torch.randn(10, 3)), labels=[1, 2])
    with pytest.raises(DeepscopeError, match="'ax'"):
        plot_probe(rep.linear_probe(torch.randn(30, 2), torch.arange(30) % 2), ax=3)
