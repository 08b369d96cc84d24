"""Known answers of the regions lens: arrangements, bias-free nets, 1-D pieces, the sawtooth."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from deepscope.lenses import regions as R
from deepscope.nets import sawtooth_net


def one_layer(w: np.ndarray, b: np.ndarray | None, out: np.ndarray | None = None) -> nn.Module:
    """``Linear(d, n) -> ReLU -> Linear(n, 1)`` with the given first-layer weights."""
    n, d = w.shape
    net = nn.Sequential(nn.Linear(d, n, bias=b is not None), nn.ReLU(), nn.Linear(n, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.as_tensor(w))
        if b is not None:
            net[0].bias.copy_(torch.as_tensor(b))
        if out is not None:
            net[2].weight.copy_(torch.as_tensor(out).reshape(1, n))
    return net


def crossing_box(w: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float]:
    """A box holding every pairwise crossing of the lines ``w_i . x + b_i = 0``."""
    pts = [np.linalg.solve(w[[i, j]], -b[[i, j]]) for i, j in itertools.combinations(
        range(len(w)), 2)]
    r = float(np.abs(pts).max()) * 1.5 + 1.0
    return (-r, r, -r, r)


@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_arrangement_in_general_position(n):
    rng = np.random.default_rng(n)
    w, b = rng.normal(size=(n, 2)), rng.normal(size=n)
    part = R.regions_in_plane(one_layer(w, b), np.zeros(2), np.eye(2),
                              crossing_box(w, b) if n > 1 else (-5, 5, -5, 5))
    assert part.count == 1 + n + math.comb(n, 2)
    assert len({c.tobytes() for c in part.codes}) == part.count


@pytest.mark.parametrize("n", [1, 3, 7])
def test_bias_free_one_layer_gives_2n(n):
    rng = np.random.default_rng(10 + n)
    part = R.regions_in_plane(one_layer(rng.normal(size=(n, 2)), None), np.zeros(2),
                              np.eye(2), (-1, 1, -1, 1))
    assert part.count == 2 * n
    np.testing.assert_allclose(part.areas.sum(), 4.0, rtol=1e-12)


def test_concurrent_lines_and_lines_through_corners():
    w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    part = R.regions_in_plane(one_layer(w, np.zeros(3)), np.zeros(2), np.eye(2), (-1, 1, -1, 1))
    assert part.count == 6                       # three lines through one point: 2n
    assert min(len(p) for p in part.polygons) == 3
    diag = R.regions_in_plane(one_layer(np.array([[1.0, -1.0]]), np.zeros(1)), np.zeros(2),
                              np.eye(2), (-1, 1, -1, 1))
    assert diag.count == 2                       # through two corners of the box
    assert sorted(len(p) for p in diag.polygons) == [3, 3]


@pytest.mark.parametrize("n", [1, 4, 12])
def test_one_d_net_has_n_plus_one_pieces(n):
    rng = np.random.default_rng(n)
    w, b = rng.normal(size=(n, 1)), rng.normal(size=n)
    out = rng.choice([-1.0, 1.0], size=n) * rng.uniform(0.5, 2.0, size=n)
    reach = float(np.abs(b / w[:, 0]).max()) + 1.0
    net = one_layer(w, b, out)
    seg = R.regions_on_segment(net, [-reach], [reach])
    assert seg.count == n + 1 and seg.pieces == n + 1
    w32, b32 = net[0].weight.detach().double().numpy()[:, 0], net[0].bias.detach().double().numpy()
    roots = np.sort((-b32 / w32 + reach) / (2 * reach))
    np.testing.assert_allclose(seg.breakpoints, roots, rtol=0, atol=1e-14)
    assert sorted(seg.units.tolist()) == list(range(n)) and set(seg.layers) == {"1"}


def test_zero_output_weight_merges_pieces():
    w, b = np.array([[1.0], [1.0]]), np.array([0.5, -0.5])
    seg = R.regions_on_segment(one_layer(w, b, np.array([1.0, 0.0])), [-1.0], [1.0])
    assert seg.count == 3 and seg.pieces == 2


def _check_sawtooth(depth: int) -> None:
    seg = R.regions_on_segment(sawtooth_net(depth), torch.zeros(1), torch.ones(1))
    expected = np.arange(1, 2 ** depth) / 2 ** depth
    assert seg.count == 2 ** depth and seg.pieces == 2 ** depth
    np.testing.assert_array_equal(seg.breakpoints, expected)


@pytest.mark.parametrize("depth", range(1, 19))
def test_sawtooth_has_2_to_the_l_pieces(depth):
    _check_sawtooth(depth)


@pytest.mark.slow
@pytest.mark.parametrize("depth", [19, 20])
def test_sawtooth_has_2_to_the_l_pieces_deep(depth):
    _check_sawtooth(depth)


def test_sawtooth_breakpoints_name_the_switching_layer():
    seg = R.regions_on_segment(sawtooth_net(3), torch.zeros(1), torch.ones(1))
    # t = 1/2 is where layer 1's second unit switches; 1/4, 3/4 layer 2; odd eighths layer 3.
    by_t = dict(zip(seg.breakpoints.tolist(), seg.layers))
    assert by_t[0.5] == "act1" and by_t[0.25] == "act2" and by_t[0.75] == "act2"
    assert {by_t[k / 8] for k in (1, 3, 5, 7)} == {"act3"}
    assert set(seg.units.tolist()) == {1}


def test_touching_zero_is_not_a_crossing():
    # relu(relu(x)) and a bias-free second layer touch zero where the first layer switches.
    net = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 1), nn.ReLU())
    with torch.no_grad():
        for lin in (net[0], net[2]):
            lin.weight.fill_(1.0)
            lin.bias.fill_(0.0)
    seg = R.regions_on_segment(net, [-1.0], [1.0])
    assert seg.count == 2 and seg.breakpoints.tolist() == [0.5]
    assert seg.codes.tolist() == [[False, False], [True, True]]
    # starting exactly on the kink: nothing to cut, the unit is on where it is positive
    half = R.regions_on_segment(net, [0.0], [1.0])
    assert half.count == 1 and half.codes.tolist() == [[True, True]]


def test_dead_units_cut_nothing():
    net = one_layer(np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([-1.0, 0.0]))
    part = R.regions_in_plane(net, np.zeros(2), np.eye(2), (-1, 1, -1, 1))
    assert part.count == 2
    assert not part.codes[:, 0].any()


def test_segments_batched_match_single():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                        nn.Linear(16, 2))
    a, b = torch.randn(20, 3) * 2, torch.randn(20, 3) * 2
    many = R.regions_on_segments(net, a, b)
    for i in range(20):
        one = R.regions_on_segment(net, a[i], b[i])
        assert (one.count, one.pieces) == (many.counts[i], many.pieces[i])
        assert one.length == pytest.approx(many.lengths[i])
    frame = many.to_frame()
    assert list(frame.columns) == ["segment", "length", "count", "pieces",
                                   "regions_per_length"]
    np.testing.assert_allclose(frame["regions_per_length"], many.counts / many.lengths)


def test_segment_regions_match_dense_sampling():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 1))
    a, b = torch.tensor([-3.0, -2.0]), torch.tensor([3.0, 2.5])
    seg = R.regions_on_segment(net, a, b)
    t = torch.linspace(0, 1, 200001, dtype=torch.float64)[:, None]
    codes = R.activation_patterns(net, a + t * (b - a)).codes.numpy()
    changes = np.flatnonzero((codes[1:] != codes[:-1]).any(1))
    assert len(changes) + 1 == seg.count                  # coarse net: the grid finds all
    np.testing.assert_allclose(seg.breakpoints, t[changes + 1, 0].numpy(), atol=1e-5)
    # the affine map of each region reproduces the network
    x = (a + t[::997] * (b - a)).double()
    k = np.searchsorted(seg.starts, t[::997, 0].numpy(), side="right") - 1
    pred = seg.affine[k, 0, 0] * t[::997, 0].numpy() + seg.affine[k, 0, 1]
    with torch.no_grad():
        truth = net.double()(x)[:, 0].numpy()
    np.testing.assert_allclose(pred, truth, atol=1e-10)
