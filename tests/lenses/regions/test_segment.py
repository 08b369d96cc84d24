"""The breakpoint path of the segment lens agrees with the per-region path (an independent
oracle: every interval carries its affine map, every unit cuts one at a time) on random
small nets of every supported kind, and with dense sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from deepscope.lenses.regions import segment as line
from deepscope.lenses import regions as R
from deepscope.lenses.regions.trace import Walk
from deepscope.nets import MLP, SmallCNN


class Residual(nn.Module):
    def __init__(self, d: int = 4) -> None:
        super().__init__()
        self.inp = nn.Linear(d, 8)
        self.fc = nn.Linear(8, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        h = h + torch.nn.functional.relu(self.fc(h))     # the pre-activation h is read twice
        return self.out(h)


def _nets() -> dict[str, tuple[nn.Module, tuple[int, ...]]]:
    torch.manual_seed(0)
    bn = nn.Sequential(nn.Linear(3, 10), nn.BatchNorm1d(10), nn.LeakyReLU(0.2), nn.Dropout(0.5),
                       nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 2))
    bn[1].running_mean.uniform_(-1, 1)
    bn[1].running_var.uniform_(0.5, 2)
    conv1d = nn.Sequential(nn.Conv1d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2),
                           nn.Conv1d(3, 2, 2), nn.ReLU(), nn.AvgPool1d(2), nn.Flatten(),
                           nn.Linear(2, 1))
    return {
        "mlp": (MLP((5, 16, 16, 16, 3), activation="relu"), (5,)),
        "small-cnn": (SmallCNN(channels=(2, 3), hidden=6), (1, 8, 8)),
        "residual": (Residual(), (4,)),
        "batchnorm-leaky": (bn, (3,)),
        "conv1d-pools": (conv1d, (1, 8)),
    }


def _reference(net: nn.Module, a: torch.Tensor, b: torch.Tensor):
    walk = Walk(net, "reference", 1e-9)
    cells, res = line.per_region(walk, a.double(), b.double())
    pieces = line.count_pieces(cells.seg, res.out[:, 0], len(a))
    return cells, res, pieces.numpy()


@pytest.mark.parametrize("name", sorted(_nets()))
def test_breakpoints_agree_with_the_per_region_path(name):
    net, shape = _nets()[name]
    gen = torch.Generator().manual_seed(1)
    a = 2 * torch.randn(6, *shape, generator=gen)
    b = 2 * torch.randn(6, *shape, generator=gen)
    cells, res, ref_pieces = _reference(net, a, b)
    ref_counts = np.bincount(cells.seg.numpy(), minlength=6)
    assert ref_counts.sum() > 6 * 3                       # the segments do cross units
    many = R.regions_on_segments(net, a, b)
    np.testing.assert_array_equal(many.counts, ref_counts)
    np.testing.assert_array_equal(many.pieces, ref_pieces)
    names, units = res.column_owner()
    for i in range(6):
        one = R.regions_on_segment(net, a[i], b[i])
        rows = (cells.seg == i).numpy()
        assert (one.count, one.pieces) == (ref_counts[i], ref_pieces[i])
        np.testing.assert_allclose(one.starts, cells.t0[rows].numpy(), rtol=0, atol=1e-12)
        labels = cells.label[rows].numpy()[1:]
        assert one.layers == tuple(names[j] for j in labels)
        np.testing.assert_array_equal(one.units, [units[j] for j in labels])
        np.testing.assert_array_equal(one.codes, res.codes[rows].numpy())
        ref_aff = res.out[rows].permute(0, 2, 1).numpy()
        scale = np.abs(ref_aff).max() + 1.0
        np.testing.assert_allclose(one.affine, ref_aff, rtol=0, atol=1e-10 * scale)


@pytest.mark.parametrize("name", ["small-cnn", "residual"])
def test_breakpoints_match_dense_sampling(name):
    net, shape = _nets()[name]
    gen = torch.Generator().manual_seed(2)
    a, b = torch.randn(*shape, generator=gen), torch.randn(*shape, generator=gen)
    seg = R.regions_on_segment(net, a, b)
    t = torch.linspace(0, 1, 100001, dtype=torch.float64)
    x = a.double() + t.reshape(-1, *([1] * len(shape))) * (b - a).double()
    codes = R.activation_patterns(net, x).codes.numpy()
    changes = np.flatnonzero((codes[1:] != codes[:-1]).any(1))
    assert len(changes) + 1 == seg.count
    np.testing.assert_allclose(seg.breakpoints, t[changes + 1].numpy(), atol=1.1e-5)
    # on every region the code is the one the sampled points inside it have
    k = np.searchsorted(seg.starts, t.numpy(), side="right") - 1
    np.testing.assert_array_equal(seg.codes[k[1:-1]], codes[1:-1])


def test_coinciding_crossings_give_one_breakpoint():
    # units 0 and 2 are the same line; unit 1 is bias-free: all three cross at x = 0
    net = nn.Sequential(nn.Linear(1, 3), nn.ReLU(), nn.Linear(3, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0], [2.0], [1.0]]))
        net[0].bias.copy_(torch.tensor([0.0, 0.0, 0.0]))
    seg = R.regions_on_segment(net, [-1.0], [3.0])
    assert seg.breakpoints.tolist() == [0.25] and seg.units.tolist() == [0]
    cells, res, pieces = _reference(net, torch.tensor([[-1.0]]), torch.tensor([[3.0]]))
    assert cells.n == seg.count and pieces[0] == seg.pieces


def test_batches_of_segments_do_not_change_the_counts(monkeypatch):
    torch.manual_seed(3)
    net = MLP((6, 24, 24, 4), activation="relu")
    gen = torch.Generator().manual_seed(4)
    a, b = torch.randn(40, 6, generator=gen), torch.randn(40, 6, generator=gen)
    whole = R.regions_on_segments(net, a, b)
    monkeypatch.setattr(line, "_BATCH_ELEMENTS", 1)         # one segment per batch
    small = R.regions_on_segments(net, a, b)
    np.testing.assert_array_equal(whole.counts, small.counts)
    np.testing.assert_array_equal(whole.pieces, small.pieces)


def test_pieces_merge_where_the_output_ignores_a_unit():
    # half of the hidden units have zero output weight: their switches are no new piece
    torch.manual_seed(5)
    net = nn.Sequential(nn.Linear(2, 12), nn.ReLU(), nn.Linear(12, 1))
    with torch.no_grad():
        net[2].weight[:, ::2] = 0.0
    gen = torch.Generator().manual_seed(6)
    a, b = 3 * torch.randn(30, 2, generator=gen), 3 * torch.randn(30, 2, generator=gen)
    many = R.regions_on_segments(net, a, b)
    _, _, ref_pieces = _reference(net, a, b)
    np.testing.assert_array_equal(many.pieces, ref_pieces)
    assert (many.pieces < many.counts).any()


def test_slopes_of_tiny_intervals_are_recomputed_exactly(monkeypatch):
    # two units that switch 2e-8 apart, the first with zero output weight, under a large
    # output offset: the difference quotient over the tiny interval between them is rounding
    # noise far above the piece tolerance; the exact slope shows no new piece there
    net = nn.Sequential(nn.Linear(1, 3), nn.ReLU(), nn.Linear(3, 1)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0], [1.0], [-1.0]], dtype=torch.float64))
        net[0].bias.copy_(torch.tensor([-0.3, -0.3 - 2e-8, 0.7], dtype=torch.float64))
        net[2].weight.copy_(torch.tensor([[0.0, 1.0, 1.0]], dtype=torch.float64))
        net[2].bias.fill_(1e6)
    a = torch.full((3, 1), -1.0, dtype=torch.float64)
    b = torch.full((3, 1), 2.0, dtype=torch.float64)
    many = R.regions_on_segments(net, a, b)
    one = R.regions_on_segment(net, a[0], b[0])
    _, _, ref_pieces = _reference(net, a, b)
    assert many.counts.tolist() == [4, 4, 4] and one.count == 4
    assert many.pieces.tolist() == ref_pieces.tolist() == [one.pieces] * 3 == [3, 3, 3]
    monkeypatch.setattr(line, "_VALUE_NOISE", 0.0)           # trust the difference quotients
    assert R.regions_on_segments(net, a, b).pieces.tolist() == [4, 4, 4]


@pytest.mark.parametrize("depth", [1, 5, 12])
def test_sawtooth_batched_counts(depth):
    from deepscope.nets import sawtooth_net
    many = R.regions_on_segments(sawtooth_net(depth), torch.zeros(3, 1), torch.ones(3, 1))
    assert many.counts.tolist() == [2 ** depth] * 3 == many.pieces.tolist()


@pytest.mark.parametrize("name", sorted(_nets()))
def test_slopes_from_recorded_codes_equal_the_midpoint_walk(name, monkeypatch):
    """The one-column slope walk gated by the recorded codes (constants dropped, max-pool
    choices read from the codes) gives the midpoint walk's exact slopes on every interval."""
    net, shape = _nets()[name]
    gen = torch.Generator().manual_seed(2)
    a, b = 2 * torch.randn(2, *shape, generator=gen, dtype=torch.float64)
    monkeypatch.setattr(line, "_VALUE_NOISE", 1.0)           # every interval recomputed
    fast = R.regions_on_segment(net, a, b)
    walk = line.LineWalk(net, "test", 1e-9)
    cells, res = walk.run_points(a[None], b[None], codes=True)
    slow_slope, slow_inter = line.segment_maps(walk, cells, res.out[:, 0], a[None], b[None])
    assert fast.count == cells.n - 1 > 1
    scale = float(np.abs(fast.affine).max())
    np.testing.assert_allclose(fast.affine[:, :, 0], slow_slope.numpy(), rtol=0,
                               atol=1e-12 * scale)
    np.testing.assert_allclose(fast.affine[:, :, 1], slow_inter.numpy(), rtol=0,
                               atol=1e-12 * scale)
