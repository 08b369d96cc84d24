"""Plane partitions: invariants (areas, distinct codes, Euler), grid oracles, affine maps,
decision boundaries, every supported module, and plane_through."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from deepscope.lenses import regions as R
from deepscope.nets import MLP, SmallCNN


def mlp(widths, seed=0, activation="relu"):
    torch.manual_seed(seed)
    return MLP(widths, activation=activation)


def plane_points(part, n, seed=0):
    rng = np.random.default_rng(seed)
    u0, u1, v0, v1 = part.bounds
    return np.stack([rng.uniform(u0, u1, n), rng.uniform(v0, v1, n)], 1)


def check_affine(model, part, origin, directions, n=300, atol=1e-9):
    """Every sample's region (found by its activation code) reproduces the network."""
    uv = plane_points(part, n)
    o = torch.as_tensor(origin, dtype=torch.float64)
    d = torch.as_tensor(directions, dtype=torch.float64)
    x = o + torch.as_tensor(uv)[:, :1].reshape(-1, *[1] * o.dim()) * d[0] \
        + torch.as_tensor(uv)[:, 1:].reshape(-1, *[1] * o.dim()) * d[1]
    codes = R.activation_patterns(model, x).codes.numpy()
    lookup = {c.tobytes(): i for i, c in enumerate(part.codes)}
    idx = np.array([lookup[c.tobytes()] for c in codes])      # every code is a region
    pred = np.einsum("rok,rk->ro", part.affine[idx, :, :2], uv) + part.affine[idx, :, 2]
    ref = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        truth = ref(x).reshape(n, -1).numpy()
    np.testing.assert_allclose(pred, truth, atol=atol, rtol=1e-9)


def euler_characteristic(part) -> int:
    """V - E + F of the partition graph, with T-junctions splitting the edges they lie on."""
    pts = np.concatenate(part.polygons)
    scale = max(abs(v) for v in part.bounds)
    keys = np.round(pts / scale * 1e8).astype(np.int64)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    coords = uniq / 1e8 * scale
    edges = set()
    start = 0
    for poly in part.polygons:
        ids = inv[start:start + len(poly)]
        start += len(poly)
        for i in range(len(ids)):
            a, b = ids[i], ids[(i + 1) % len(ids)]
            if a == b:
                continue
            pa, pb = coords[a], coords[b]
            d = pb - pa
            t = (coords - pa) @ d / (d @ d)
            off = np.abs((coords - pa) @ np.array([-d[1], d[0]])) / np.linalg.norm(d)
            on = np.flatnonzero((t > 1e-9) & (t < 1 - 1e-9) & (off < 1e-7 * scale))
            chain = [a, *on[np.argsort(t[on])].tolist(), b]
            for p, q in zip(chain[:-1], chain[1:]):
                edges.add((min(p, q), max(p, q)))
    return len(uniq) - len(edges) + part.count


@pytest.mark.parametrize("widths,seed", [((2, 8, 8, 1), 0), ((2, 12, 12, 12, 3), 1),
                                         ((2, 6, 6, 6, 6, 1), 2)])
def test_plane_invariants(widths, seed):
    net = mlp(widths, seed)
    part = R.regions_in_plane(net, np.zeros(2), np.eye(2), (-2, 2, -1.5, 2.5))
    np.testing.assert_allclose(part.areas.sum(), 16.0, rtol=1e-10)
    assert (part.areas > 0).all()
    assert len({c.tobytes() for c in part.codes}) == part.count
    assert euler_characteristic(part) == 1
    for poly in part.polygons:                       # convex, counter-clockwise
        e = np.roll(poly, -1, 0) - poly
        cross = e[:, 0] * np.roll(e, -1, 0)[:, 1] - e[:, 1] * np.roll(e, -1, 0)[:, 0]
        assert (cross > -1e-9).all()
    check_affine(net, part, np.zeros(2), np.eye(2))


def test_dense_grid_never_finds_more_and_finds_all_on_a_coarse_net():
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]])
    b = torch.tensor([-0.1, -0.2, -0.5, 0.6])   # general position, crossings inside
    coarse = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    with torch.no_grad():
        coarse[0].weight.copy_(w)
        coarse[0].bias.copy_(b)
    for net, exact_found in ((coarse, True), (mlp((2, 16, 16, 1), 3), False)):
        part = R.regions_in_plane(net, np.zeros(2), np.eye(2), (-2, 2, -2, 2))
        g = torch.linspace(-2, 2, 301, dtype=torch.float64)
        grid = torch.cartesian_prod(g, g)
        codes = R.activation_patterns(net, grid).codes.numpy()
        found = {c.tobytes() for c in codes}
        exact = {c.tobytes() for c in part.codes}
        assert found <= exact
        assert R.count_patterns(net, grid) == len(found) <= part.count
        if exact_found:
            assert found == exact and part.count == 11


def test_decision_boundary_single_logit():
    net = mlp((2, 10, 10, 1), 4)
    with torch.no_grad():
        net.fc3.bias -= net(torch.zeros(1, 2))[0]       # the boundary passes the origin
    part = R.regions_in_plane(net, np.zeros(2), np.eye(2), (-2, 2, -2, 2))
    segs = [(i, s) for i, b in enumerate(part.boundary) for s in b]
    assert segs and len(part.boundary) == part.count
    for i, s in segs:
        z = s @ part.affine[i, 0, :2] + part.affine[i, 0, 2]
        np.testing.assert_allclose(z, 0.0, atol=1e-9)
    sides = {int(p) for p in part.predicted()}
    assert sides == {0, 1}


def test_decision_boundary_argmax():
    net = mlp((2, 8, 3), 5)
    part = R.regions_in_plane(net, np.zeros(2), np.eye(2), (-3, 3, -3, 3))
    total = 0
    for i, segs in enumerate(part.boundary):
        for s in segs:
            z = s @ part.affine[i, :, :2].T + part.affine[i, :, 2]    # (2 ends, 3 logits)
            top = np.sort(z, axis=1)
            np.testing.assert_allclose(top[:, -1], top[:, -2], atol=1e-9)
            total += 1
    frame = part.to_frame()
    assert len(frame) == part.count and total > 0
    assert {"region", "area", "n_vertices", "code", "predicted"} <= set(frame.columns)
    assert frame["predicted"].nunique() > 1


def test_small_cnn_with_max_pool_switches():
    torch.manual_seed(0)
    net = SmallCNN(channels=(2, 3), hidden=6)
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    o, d, full = R.plane_through(x[0], x[1], x[2])
    # the central 30% of the slice: ~2,000 regions instead of ~12,700 (keeps the test fast)
    cu, cv = (full[0] + full[1]) / 2, (full[2] + full[3]) / 2
    hu, hv = 0.15 * (full[1] - full[0]), 0.15 * (full[3] - full[2])
    bounds = (cu - hu, cu + hu, cv - hv, cv + hv)
    part = R.regions_in_plane(net, o, d, bounds)
    assert part.count > 500
    pats = R.activation_patterns(net, x)
    assert set(pats.layers) == {"relu1", "pool1", "relu2", "pool2", "relu3"}
    assert pats.layer("pool1").shape == (3, 2 * 16 * 4)
    assert (pats.layer("pool1").reshape(3, -1, 4).sum(-1) == 1).all()   # one switch/window
    np.testing.assert_allclose(part.areas.sum(), (bounds[1] - bounds[0]) *
                               (bounds[3] - bounds[2]), rtol=1e-9)
    assert len({c.tobytes() for c in part.codes}) == part.count
    check_affine(net, part, o, d, n=200)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(2, 6)
        self.fc = nn.Linear(6, 6)
        self.out = nn.Linear(6, 2)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        h = h + torch.nn.functional.relu(self.fc(h))
        return self.out(h.view(h.size(0), -1))


def _module_nets():
    torch.manual_seed(0)
    bn = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.1), nn.Dropout(0.5),
                       nn.Linear(8, 1))
    bn[1].running_mean.uniform_(-1, 1)
    bn[1].running_var.uniform_(0.5, 2)
    with torch.no_grad():
        bn[1].weight.uniform_(0.5, 2)
    return {"residual": Residual(), "batchnorm-leaky-dropout": bn}


@pytest.mark.parametrize("name", ["residual", "batchnorm-leaky-dropout"])
def test_supported_modules_reproduce_the_network(name):
    net = _module_nets()[name]
    part = R.regions_in_plane(net, np.zeros(2), np.eye(2), (-2, 2, -2, 2))
    assert len({c.tobytes() for c in part.codes}) == part.count
    check_affine(net, part, np.zeros(2), np.eye(2))


def test_conv1d_avgpool_maxpool1d_on_a_segment():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Conv1d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2),
                        nn.Conv1d(3, 2, 2), nn.AvgPool1d(2), nn.Flatten(), nn.Linear(2, 1))
    a, b = torch.randn(1, 8, dtype=torch.float64) * 2, torch.randn(1, 8, dtype=torch.float64)
    seg = R.regions_on_segment(net, a, b)
    t = torch.linspace(0, 1, 100001, dtype=torch.float64)[:, None, None]
    codes = R.activation_patterns(net, a + t * (b - a)).codes.numpy()
    changes = np.flatnonzero((codes[1:] != codes[:-1]).any(1))
    assert len(changes) + 1 == seg.count
    assert set(R.activation_patterns(net, a[None]).layers) == {"1", "2"}
    x = (a + t[::991] * (b - a))
    k = np.searchsorted(seg.starts, t[::991, 0, 0].numpy(), side="right") - 1
    pred = seg.affine[k, 0, 0] * t[::991, 0, 0].numpy() + seg.affine[k, 0, 1]
    with torch.no_grad():
        truth = copy.deepcopy(net).double()(x)[:, 0].numpy()
    np.testing.assert_allclose(pred, truth, atol=1e-10)


def test_max_pool_switches_are_the_pairwise_crossings():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(1, 8)), rng.normal(size=(1, 8))
    net = nn.Sequential(nn.MaxPool1d(2), nn.Flatten(), nn.Linear(4, 1))
    seg = R.regions_on_segment(net, a, b)
    d = b - a
    roots = [(a[0, 2 * w + 1] - a[0, 2 * w]) / (d[0, 2 * w] - d[0, 2 * w + 1]) for w in range(4)]
    roots = np.sort([t for t in roots if 0 < t < 1])
    np.testing.assert_allclose(seg.breakpoints, roots, atol=1e-13)
    assert set(seg.layers) <= {"0"} and seg.count == len(roots) + 1
    # which position wins at the start of the segment
    first = seg.codes[0].reshape(4, 2)
    np.testing.assert_array_equal(first.argmax(1), (a[0, 1::2] > a[0, 0::2]).astype(int))


def test_plane_through_three_points():
    rng = np.random.default_rng(0)
    p = [torch.as_tensor(rng.normal(size=(1, 4, 4))) for _ in range(3)]
    o, d, (u0, u1, v0, v1) = R.plane_through(*p, margin=0.1)
    flat = d.reshape(2, -1)
    np.testing.assert_allclose((flat @ flat.T).numpy(), np.eye(2), atol=1e-12)
    uv = R.plane_coordinates(torch.stack(p), o, d)
    assert (uv[:, 0] > u0).all() and (uv[:, 0] < u1).all()
    assert (uv[:, 1] > v0).all() and (uv[:, 1] < v1).all()
    back = o + torch.as_tensor(uv[:, :1]).reshape(3, 1, 1, 1) * d[0] \
        + torch.as_tensor(uv[:, 1:]).reshape(3, 1, 1, 1) * d[1]
    np.testing.assert_allclose(back.numpy(), torch.stack(p).numpy(), atol=1e-12)
    np.testing.assert_allclose(uv[0], [0.0, 0.0], atol=1e-12)
