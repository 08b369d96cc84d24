"""Tests of the generalization plots."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.lenses import generalization as gen
from deepscope.plots import plot_layer_norms, plot_margins


def _net():
    g = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(),
                        nn.Linear(2 * 16, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return net


def test_plot_margins_marks_the_quantile():
    x = torch.randn(40, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    r = gen.margin(_net(), (x, torch.arange(40) % 3))
    fig, ax = plot_margins(r)
    assert isinstance(fig, Figure) and len(ax.patches) == 50
    assert ax.lines[0].get_xdata()[0] == pytest.approx(r.value)


def test_plot_layer_norms_spectral_and_frobenius():
    s = gen.spectral(_net(), input_shape=(1, 4, 4))
    fig, ax = plot_layer_norms(s)
    assert len(ax.patches) == 4  # matrix and operator norm per layer
    fig2, ax2 = plot_layer_norms(gen.frobenius(_net()))
    assert len(ax2.patches) == 2
    with pytest.raises(DeepscopeError, match="'result' parameter of plot_layer_norms"):
        plot_layer_norms(object())
    with pytest.raises(DeepscopeError, match="'ax' parameter of plot_margins"):
        plot_margins(gen.margin(_net(), (torch.zeros(3, 1, 4, 4), torch.zeros(3).long())),
                     ax=1)
