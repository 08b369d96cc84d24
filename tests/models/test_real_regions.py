"""Regions on real CNN patterns: the blocking module named, reshaping ops, budgets."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from deepscope.errors import DeepscopeError
from deepscope.lenses.regions import regions_on_segment
from tests.models import zoo


class Reshaping(nn.Module):
    """A ReLU CNN whose graph permutes, transposes, pads, slices, averages and reshapes."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.mix = nn.Linear(4, 4)
        self.head = nn.Linear(4 * 2, 3)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g))

    def forward(self, x):
        h = self.conv(x).permute(0, 2, 3, 1)          # NHWC
        h = torch.relu(self.mix(h)).transpose(1, 3)    # N C W H
        h = F.pad(h, (1, 1, 1, 1))[:, :, 1:-1, 1:-1]
        h = torch.cat([h.mean((2, 3)), h.reshape(h.shape[0], 4, -1).mean(-1)], dim=1)
        return self.head(torch.relu(h))


def _grid_changes(model: nn.Module, a: torch.Tensor, b: torch.Tensor, n: int = 4001) -> int:
    """Pattern changes of every ReLU along a fine grid of the segment (brute force)."""
    t = torch.linspace(0, 1, n, dtype=torch.float64)
    x = (a + t[:, None, None, None] * (b - a)).to(torch.float64)
    codes = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: codes.append(o > 0))
             for m in model.modules() if isinstance(m, nn.ReLU)]
    model = model.double()
    try:
        with torch.no_grad():
            h = model.conv(x).permute(0, 2, 3, 1)
            p1 = model.mix(h) > 0
            h = torch.relu(model.mix(h)).transpose(1, 3)
            h = F.pad(h, (1, 1, 1, 1))[:, :, 1:-1, 1:-1]
            h = torch.cat([h.mean((2, 3)), h.reshape(h.shape[0], 4, -1).mean(-1)], dim=1)
            p2 = h > 0
    finally:
        for hk in hooks:
            hk.remove()
    pat = torch.cat([p1.flatten(1), p2.flatten(1)], dim=1)
    return int((pat[1:] != pat[:-1]).any(1).sum())


def test_linear_reshaping_ops_are_walked_exactly():
    net = Reshaping()
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(2, 2, 5, 5, generator=g)
    seg = regions_on_segment(net, a, b)
    assert seg.complete
    assert seg.count - 1 == _grid_changes(Reshaping(), a[None], b[None])


@pytest.mark.parametrize("name, module, op", [
    ("convnext_timm", "'stem.1' (LayerNorm2d)", "layer_norm"),
    ("mobilenetv3_timm", "'act1'", "Hardswish"),
])
def test_the_blocking_module_and_op_are_named(name, module, op):
    model, (x, _), _ = zoo.build(name)
    with pytest.raises(DeepscopeError) as err:
        regions_on_segment(model, x[0], x[1])
    assert module in str(err.value) and op in str(err.value)
    assert "permute" not in str(err.value).split("Got")[1]


def test_budgets_stop_with_a_partial_result():
    net = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                        nn.Linear(64, 2))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    a, b = torch.randn(2, 8, generator=g) * 5
    full = regions_on_segment(net, a, b)
    part = regions_on_segment(net, a, b, max_regions=5)
    assert full.complete and not part.complete and part.stopped_at == "1"
    assert 5 < part.count <= full.count and part.pieces == -1
    assert set(part.breakpoints) <= set(full.breakpoints)
    fast = regions_on_segment(net, a, b, time_limit=1e-9)
    assert not fast.complete
    with pytest.raises(DeepscopeError, match="'max_regions'"):
        regions_on_segment(net, a, b, max_regions=0)


def test_information_plane_flags_degenerate_layers_and_pooling_helps():
    import numpy as np

    from deepscope.lenses.information import information_plane

    g = torch.Generator().manual_seed(0)
    conv = torch.randn(64, 8, 6, 6, generator=g)            # every sample its own code
    y = torch.randint(0, 2, (64,), generator=g)
    with pytest.warns(UserWarning, match="'conv'"):
        plane = information_plane({"conv": conv, "const": torch.zeros(64, 3)}, y)
    assert plane.degenerate.tolist() == [True, False]
    assert plane.i_xt[0] == pytest.approx(np.log2(64))
    pooled = information_plane({"conv": conv}, y, pool=True, project=2, bins=4,
                               range=(-3.0, 3.0))
    assert not pooled.degenerate[0] and pooled.i_xt[0] < np.log2(64)
    again = information_plane({"conv": conv}, y, pool=True, project=2, bins=4,
                              range=(-3.0, 3.0))
    assert again.i_xt[0] == pooled.i_xt[0]


def test_a_model_fx_cannot_trace_is_exported_and_walked_exactly():
    """transformers' ResNet branches on its input, so fx cannot trace it; an eval-mode copy
    is exported instead. The exact affine map of every region reproduces a float64 copy of
    the model at points inside the regions, every pattern change on a fine grid is a
    breakpoint, and the user's model is left as it was (train mode, same weights)."""
    import copy

    import numpy as np

    from deepscope.lenses.regions import activation_patterns

    pytest.importorskip("transformers")
    model, (x, _), _ = zoo.build("resnet")
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    a, b = x["pixel_values"][:2]
    seg = regions_on_segment(model, a, b)
    assert seg.complete and seg.count > 100
    from deepscope.lenses.regions import segment_cost

    cost = segment_cost(model, a, b)                           # the same way in
    assert cost.low <= seg.count <= cost.high
    assert seg.layers[0].startswith("resnet.embedder")            # named by the owning module
    assert model.training and all(torch.equal(before[k], v) for k, v in
                                  model.state_dict().items())
    twin = copy.deepcopy(model).double().eval()
    ends = np.append(seg.starts[1:], 1.0)
    pick = np.linspace(0, seg.count - 1, 40).astype(int)
    t = torch.tensor((seg.starts[pick] + ends[pick]) / 2, dtype=torch.float64)
    with torch.no_grad():
        out = twin(a.double() + t[:, None, None, None] * (b - a).double()).logits.numpy()
    aff = seg.affine[pick]
    pred = aff[:, :, 0] * t.numpy()[:, None] + aff[:, :, 1]
    np.testing.assert_allclose(pred, out, rtol=1e-7, atol=1e-7 * np.abs(out).max())
    pats = activation_patterns(model, (a + torch.linspace(0, 1, 2001)[:, None, None, None]
                                       * (b - a)))
    changes = int((pats.codes[1:] != pats.codes[:-1]).any(1).sum())
    assert changes <= seg.count - 1                          # a grid sees a subset


@pytest.mark.parametrize("name, module, op", [
    ("mobilenetv2", "conv_stem.first_conv.activation", "hardtanh"),
    ("convnext", "convnext.embeddings.layernorm", "layer_norm"),
])
def test_exported_models_name_the_blocking_op(name, module, op):
    pytest.importorskip("transformers")
    model, (x, _), _ = zoo.build(name)
    with pytest.raises(DeepscopeError) as err:
        regions_on_segment(model, x["pixel_values"][0], x["pixel_values"][1])
    assert module in str(err.value) and op in str(err.value)
