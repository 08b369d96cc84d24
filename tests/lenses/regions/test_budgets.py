"""Budgets, progress and the cost estimate of the regions lens, and the two pieces that make
big nets fit: kernels cropped to the taps that read real input, and output maps computed in
bounded chunks. Every partial result is checked against the complete one."""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
import pytest
import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.lenses import regions as R
from deepscope.lenses.regions import segment as line
from deepscope.lenses.regions import trace
from deepscope.nets import sawtooth_net


def _mlp(width: int = 32, seed: int = 0) -> nn.Module:
    net = nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                        nn.Linear(width, 3))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return net


def _ends(n: int, d: int = 4, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g) * 3, torch.randn(n, d, generator=g) * 3


class _Recorder:
    """A progress factory that keeps what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.advanced = 0
        self.descriptions: list[str] = []

    @contextlib.contextmanager
    def __call__(self, description: str, total: int):
        self.calls.append((description, total))
        rec = self

        class Task:
            def advance(self, n: int = 1) -> None:
                rec.advanced += n

            def update(self, **kw) -> None:
                rec.descriptions.append(kw.get("description", ""))

        yield Task()


@pytest.mark.parametrize("cls", [nn.Conv1d, nn.Conv2d])
def test_cropped_kernels_equal_the_full_convolution(cls):
    g = torch.Generator().manual_seed(0)
    cases = itertools.product([1, 2, 3, 5], [1, 3, 5], [1, 2], [0, 1, 2, 3], [1, 2])
    checked = 0
    for size, k, stride, pad, dil in cases:
        m = cls(3, 5, k, stride, pad, dil).double()
        shape = (2, 3, size) if cls is nn.Conv1d else (2, 3, size, size + 1)
        x = torch.randn(*shape, generator=g, dtype=torch.float64)
        try:
            ref = m(x)
        except RuntimeError:            # kernel larger than the padded input
            continue
        got = trace._cropped_conv(x, m.weight.detach(), m.bias.detach(), m)
        assert got.shape == ref.shape
        torch.testing.assert_close(got, ref.detach(), rtol=0, atol=1e-12)
        checked += 1
    assert checked > 100


def test_used_taps_on_a_one_by_one_map():
    assert trace._used_taps(1, 3, 1, 1, 1) == (1, 1)       # only the centre reads the pixel
    assert trace._used_taps(2, 3, 2, 1, 1) == (1, 2)       # ResNet stage-4 entry: 4 of 9
    assert trace._used_taps(8, 3, 1, 1, 1) == (0, 2)       # big maps: every tap


def test_chunked_output_maps_equal_one_pass(monkeypatch):
    net = _mlp(48)
    a, b = _ends(1)
    whole = R.regions_on_segment(net, a[0], b[0])
    monkeypatch.setattr(line, "_MAP_ELEMENTS", 64)        # one or two intervals per chunk
    chunked = R.regions_on_segment(net, a[0], b[0])
    assert chunked.count == whole.count and chunked.pieces == whole.pieces
    np.testing.assert_array_equal(chunked.codes, whole.codes)
    np.testing.assert_allclose(chunked.affine, whole.affine, rtol=0, atol=1e-12)


def test_segments_budget_keeps_the_segments_done():
    net = _mlp()
    a, b = _ends(40)
    full = R.regions_on_segments(net, a, b)
    assert full.complete and full.done.all() and full.stopped_at == ""
    part = R.regions_on_segments(net, a, b, max_regions=int(full.counts[:10].sum()))
    assert not part.complete and part.stopped_at
    assert 0 < part.done.sum() < len(a)
    np.testing.assert_array_equal(part.counts[part.done], full.counts[part.done])
    np.testing.assert_array_equal(part.pieces[part.done], full.pieces[part.done])
    assert (part.counts[~part.done] == -1).all()
    assert part.counts[part.done].sum() <= part.max_regions
    frame = part.to_frame()
    assert frame["regions_per_length"][~part.done].isna().all()
    first = int(full.counts[0])                 # a budget inside the first batch of 8
    few = R.regions_on_segments(net, a, b, max_regions=first + int(full.counts[1]) // 2)
    assert few.done.tolist()[:2] == [True, False] and few.counts[0] == first
    none = R.regions_on_segments(net, a, b, time_limit=1e-9)
    assert not none.complete and not none.done.any()


def test_segments_progress_counts_segments():
    net = _mlp()
    a, b = _ends(30)
    rec = _Recorder()
    R.regions_on_segments(net, a, b, progress=rec)
    assert rec.calls == [("regions on segments", 30)] and rec.advanced == 30


def test_segment_progress_shows_the_estimate_and_every_layer():
    net = _mlp()
    a, b = _ends(1)
    rec = _Recorder()
    seg = R.regions_on_segment(net, a[0], b[0], progress=rec)
    (desc, total), = rec.calls
    assert desc.startswith("segment: ~") and total == 3      # two ReLUs + output maps
    assert rec.advanced == 3
    assert any(d.endswith(f"{seg.count:,}; maps") for d in rec.descriptions)


def test_segment_time_limit_in_the_output_maps_keeps_the_count(monkeypatch):
    net = _mlp(48)
    a, b = _ends(1)
    full = R.regions_on_segment(net, a[0], b[0])
    calls = iter([False, False, True])                          # walk done, maps not
    monkeypatch.setattr(line.LineWalk, "spent_time", lambda self: next(calls, True))
    monkeypatch.setattr(line, "_MAP_ELEMENTS", 64)
    monkeypatch.setattr(line, "_VALUE_NOISE", 1.0)             # every interval needs a map
    part = R.regions_on_segment(net, a[0], b[0], time_limit=100.0)
    assert not part.complete and part.stopped_at == "output maps"
    assert part.count == full.count and part.pieces == -1
    np.testing.assert_array_equal(part.breakpoints, full.breakpoints)


def test_plane_budget_leaves_a_partition():
    net = _mlp(24)
    o, d = torch.zeros(4), torch.eye(4)[:2]
    box = (-4.0, 4.0, -4.0, 4.0)
    full = R.regions_in_plane(net, o, d, box)
    part = R.regions_in_plane(net, o, d, box, max_regions=40)
    assert full.complete and not part.complete and part.stopped_at
    assert 40 < part.count < full.count
    assert part.areas.sum() == pytest.approx(64.0, rel=1e-9)   # still a partition of the box
    assert part.codes.shape[0] == part.count
    assert part.codes.shape[1] in (0, 24)                      # whole layers only
    assert (part.predicted() == -1).all() and len(part.to_frame()) == part.count
    rec = _Recorder()
    R.regions_in_plane(net, o, d, box, max_regions=40, progress=rec)
    assert "stopped" in rec.descriptions[-1]
    late = R.regions_in_plane(net, o, d, box, time_limit=1e-9)
    assert not late.complete and late.count >= 1
    rec = _Recorder()
    R.regions_in_plane(net, o, d, box, progress=rec)
    assert rec.calls == [("regions in plane", 2)] and rec.advanced == 2


def test_partial_plane_still_plots():
    pytest.importorskip("matplotlib")
    from deepscope.plots import plot_regions

    net = _mlp(24)
    part = R.regions_in_plane(net, torch.zeros(4), torch.eye(4)[:2], (-4.0, 4.0, -4.0, 4.0),
                              max_regions=40)
    fig, _ = plot_regions(part)
    assert fig is not None


def test_cost_estimate_known_answers():
    cost = R.segment_cost(sawtooth_net(2), torch.zeros(1), torch.ones(1), probes=3,
                          fraction=1 / 3)
    assert cost.regions == 4 and cost.low == cost.high == 4      # every probe holds one
    deep = R.segment_cost(sawtooth_net(6), torch.zeros(1), torch.ones(1), probes=8,
                          fraction=0.1)
    knots = np.arange(1, 64) / 64                                # 2**6 pieces: k / 64
    centres = (np.arange(8) + 0.5) / 8
    inside = [((knots > c - 0.05) & (knots < c + 0.05)).sum() for c in centres]
    assert deep.regions == pytest.approx(1 + np.mean(inside) / 0.1, rel=1e-12)
    assert deep.regions == pytest.approx(64, rel=0.15)          # the true count, 2**6
    assert deep.seconds > 0 and deep.probe_seconds > 0
    assert list(deep.tidy()["metric"]) == ["regions", "low", "high"]


def test_cost_estimate_brackets_a_wide_layer():
    net = nn.Sequential(nn.Linear(4, 400), nn.ReLU(), nn.Linear(400, 1))
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    a, b = _ends(1, seed=5)
    true = R.regions_on_segment(net, a[0], b[0]).count
    est = R.segment_cost(net, a[0], b[0], probes=16, fraction=1 / 32)
    assert est.low <= true <= est.high


def test_bad_budgets_name_the_argument():
    net = _mlp()
    a, b = _ends(3)
    with pytest.raises(DeepscopeError, match="'max_regions'"):
        R.regions_on_segments(net, a, b, max_regions=0)
    with pytest.raises(DeepscopeError, match="'time_limit'"):
        R.regions_in_plane(net, torch.zeros(4), torch.eye(4)[:2], (-1, 1, -1, 1),
                           time_limit=-1)
    with pytest.raises(DeepscopeError, match="'progress'"):
        R.regions_on_segment(net, a[0], b[0], progress="yes")
    with pytest.raises(DeepscopeError, match="'fraction'"):
        R.segment_cost(net, a[0], b[0], probes=4, fraction=0.5)


def test_plane_cost_one_layer_known_answer():
    """One hidden layer of n lines in general position crossing the whole box: exactly
    1 + n + C(n, 2) regions when every crossing is inside. Lines through a box of side s hit
    it about in proportion to s and their crossings in proportion to s^2, the model the
    estimate corrects with its two probe sizes."""
    n = 12
    g = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Linear(2, n), nn.ReLU(), nn.Linear(n, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.randn(n, 2, generator=g))
        net[0].bias.copy_(0.2 * torch.randn(n, generator=g))
    box = (-1.0, 1.0, -1.0, 1.0)
    true = R.regions_in_plane(net, torch.zeros(2), torch.eye(2), box).count
    est = R.plane_cost(net, torch.zeros(2), torch.eye(2), box, probes=9, fraction=1 / 3)
    assert est.lens == "regions.plane_cost"
    assert est.low <= true <= est.high
    assert est.seconds > 0


def test_plane_cost_brackets_a_random_mlp():
    net = _mlp(24)
    o, d = torch.zeros(4), torch.eye(4)[:2]
    box = (-4.0, 4.0, -4.0, 4.0)
    true = R.regions_in_plane(net, o, d, box).count
    est = R.plane_cost(net, o, d, box, probes=16, fraction=0.25)
    assert 0.5 * true <= est.regions <= 2 * true


def test_count_only_skips_the_output_maps():
    net = _mlp(48)
    a, b = _ends(1)
    full = R.regions_on_segment(net, a[0], b[0])
    rec = _Recorder()
    fast = R.regions_on_segment(net, a[0], b[0], maps=False, progress=rec)
    assert fast.complete and fast.count == full.count and fast.pieces == -1
    np.testing.assert_array_equal(fast.breakpoints, full.breakpoints)
    np.testing.assert_array_equal(fast.codes, full.codes)
    assert fast.affine.shape == (full.count, 0, 2) and fast.to_frame()["slope"].isna().all()
    assert rec.calls[0][1] == 2                                  # two ReLUs, no maps step
    with pytest.raises(DeepscopeError, match="'maps'"):
        R.regions_on_segment(net, a[0], b[0], maps="no")


def test_time_limit_stops_inside_a_convolution(monkeypatch):
    """Under a time limit the point convolutions go in chunks with the deadline checked
    between them; a stop there names the last layer whose cuts were done."""
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1),
                        nn.ReLU(), nn.Flatten(), nn.Linear(64, 2))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    a, b = torch.randn(2, 1, 4, 4, generator=g) * 3
    full = R.regions_on_segment(net, a, b)
    monkeypatch.setattr(line, "_TIMED_POINTS", 2)
    checks = iter([False] * 3)          # the first conv (2 points), then one chunk of the 2nd
    monkeypatch.setattr(line.LineWalk, "spent_time", lambda self: next(checks, True))
    part = R.regions_on_segment(net, a, b, time_limit=100.0)
    assert not part.complete and part.stopped_at == "1"
    assert set(part.breakpoints) <= set(full.breakpoints) and part.count < full.count


def test_plane_time_limit_stops_inside_a_max_pool(monkeypatch):
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(32, 1))
    o, d = torch.zeros(1, 8, 8), torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(1))

    calls = {"n": 0}

    def spent(self):
        calls["n"] += 1
        return calls["n"] > 3
    monkeypatch.setattr(trace.Walk, "spent_time", spent)
    part = R.regions_in_plane(net, o, d, (-1.0, 1.0, -1.0, 1.0), time_limit=100.0)
    assert not part.complete and part.stopped_at in ("1", "2")
    assert part.areas.sum() == pytest.approx(4.0, rel=1e-9)


def test_plane_inputs_that_do_not_span_a_plane_are_refused():
    net = _mlp()
    a = torch.randn(4, generator=torch.Generator().manual_seed(0))
    with pytest.raises(DeepscopeError, match="'p2'"):           # float32 rounding noise
        R.plane_through(a, 2 * a, 3 * a)
    with pytest.raises(DeepscopeError, match="parallel directions"):
        R.regions_in_plane(net, torch.zeros(4), torch.stack([a, 2 * a]), (-1, 1, -1, 1))
    with pytest.raises(DeepscopeError, match="a zero direction"):
        R.regions_in_plane(net, torch.zeros(4), torch.stack([a, 0 * a]), (-1, 1, -1, 1))
    for bad in (3, 5, True, 2.0):
        with pytest.raises(DeepscopeError, match="a square int >= 4"):
            R.plane_cost(net, torch.zeros(4), torch.eye(4)[:2], (-1, 1, -1, 1), probes=bad)


def test_plane_cost_time_limit_uses_the_probes_done(monkeypatch):
    from deepscope.lenses.regions import trace

    net = _mlp(24)
    o, d, box = torch.zeros(4), torch.eye(4)[:2], (-4.0, 4.0, -4.0, 4.0)
    from deepscope.lenses.regions import exact

    full = R.plane_cost(net, o, d, box, probes=4)
    walked = {"n": 0}
    probe = exact._plane_probe

    def counted(*args):
        walked["n"] += 1
        return probe(*args)
    monkeypatch.setattr(exact, "_plane_probe", counted)
    # the deadline passes once the first centre's two boxes are cut
    monkeypatch.setattr(trace.Walk, "spent_time", lambda self: walked["n"] > 2)
    part = R.plane_cost(net, o, d, box, probes=4, time_limit=100.0)
    assert part.probes == 1 and part.high == np.inf and full.probes == 4
    monkeypatch.setattr(trace.Walk, "spent_time", lambda self: True)
    with pytest.raises(DeepscopeError, match="'time_limit'"):
        R.plane_cost(net, o, d, box, time_limit=1.0)
