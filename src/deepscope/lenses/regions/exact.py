"""Linear regions: the hyperplane arrangement a piecewise-linear network cuts its input into.

A network built from affine maps and ReLU / LeakyReLU / max-pool is affine on each cell of a
partition of its input space into convex *activation regions*: the sets of inputs that share
one on/off pattern of all units (Montúfar et al. 2014, arXiv 1402.1869; Serra et al. 2018,
arXiv 1711.02114; Hanin & Rolnick 2019, arXiv 1901.09021 and 1906.00904). With one hidden
layer of ``n`` units on ``R^d`` the regions are those of an arrangement of ``n`` hyperplanes,
at most

.. math:: \\sum_{i=0}^{d} \\binom{n}{i}

of them; deeper layers bend the hyperplanes of later units at the cuts of earlier ones.
Telgarsky (2016, arXiv 1602.04485) composes a two-unit tent map ``L`` times for ``2^L``
linear pieces on ``[0, 1]``, which a shallow net needs ``2^(L-1)`` units to match.

This lens computes the partition **exactly** (float64). In a 2-D slice
(:func:`regions_in_plane`) it pushes the affine map of every cell through the traced
graph: all cells of a layer at once, each ReLU unit's zero line cutting every cell in one
vectorised step. On segments (:func:`regions_on_segment`, :func:`regions_on_segments`) it
needs no per-region maps: along a line every value is piecewise affine in ``t``, so it keeps
the sorted breakpoints of all segments in one array, evaluates the network at those points
only, and finds each layer's switches by interpolating between neighbouring points (see
:mod:`deepscope.lenses.regions.segment`). Supported: Linear, Conv1d/Conv2d, ReLU,
LeakyReLU, Identity, Flatten, Dropout (identity, as in eval), BatchNorm (eval: running
statistics), AvgPool (linear), MaxPool (its argmax switches are cuts; ties go to the
first position, as in PyTorch) and residual additions (the graph is traced with
:mod:`torch.fx`). Anything else raises a
:class:`~deepscope.errors.DeepscopeValueError` naming the module. The model is never
called, put in eval mode or changed.

Tolerance policy (``rtol``, default ``1e-9``). A unit's affine function ``s`` is zero at a
cell vertex when ``|s| <= rtol * (sum of the absolute values of its terms)``; a cell is cut
only when some vertex is strictly positive and another strictly negative, so a line that
touches a cell (a vertex or an edge on it) does not cut it, and a line through a vertex
splits at that vertex. A unit is on in a cell when it is strictly positive somewhere in it;
a unit identically zero there (dead, or a bias-free unit at the origin) is off. Features
thinner than about ``rtol`` times the scale are not resolved. Adjacent regions are merged
into one linear *piece* when their output slopes differ by at most ``1e-7`` times the largest
slope on the segment (slopes are difference quotients of the outputs at the breakpoints,
recomputed exactly on the intervals where their rounding error could change a decision).

Example:
    >>> import torch
    >>> from deepscope.lenses import regions
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    >>> part = regions.regions_in_plane(net, torch.zeros(2), torch.eye(2), (-9, 9, -9, 9))
    >>> bool(abs(part.areas.sum() - 324) < 1e-9)
    True
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np
import torch

from deepscope.errors import DeepscopeValueError, check_float, check_int, param_error
from deepscope.lenses._model import check_model
from deepscope.lenses._tensors import as_tensor
from deepscope.progress import as_factory
from deepscope.lenses.regions.cells import Points, Polygons
from deepscope.lenses.regions.trace import SUPPORTED, BudgetHit, Walk, WalkResult
from deepscope.lenses.regions.segment import LineWalk, count_pieces, segment_counts, segment_maps
from deepscope.lenses.regions.results import (
    ActivationPatterns,
    PlaneRegions,
    RegionCost,
    SegmentRegions,
    SegmentsRegions,
)



def _tensor(x: Any, name: str, func: str, device: torch.device | None = None) -> torch.Tensor:
    """``x`` as a finite float64 tensor (on its own device, or ``device``)."""
    return as_tensor(x, name, func, dtype=torch.float64, device=device, finite=True,
                     allow_bool=False)


def _rtol(rtol: Any, func: str) -> float:
    return check_float(rtol, "rtol", func, low=0.0, high=1e-3, closed="right")


def _budgets(walk: Walk, max_regions: Any, time_limit: Any, func: str
             ) -> tuple[int | None, float | None]:
    """Validate ``max_regions`` / ``time_limit`` and arm ``walk`` with them."""
    if max_regions is not None:
        max_regions = check_int(max_regions, "max_regions", func, low=1)
    if time_limit is not None:
        time_limit = check_float(time_limit, "time_limit", func, low=0.0, closed="neither")
    walk.max_regions = max_regions
    walk.deadline = None if time_limit is None else time.monotonic() + time_limit
    return max_regions, time_limit


def _secs(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:,.0f} s"


class _LayerTicks:
    """``walk.on_layer`` for a progress task: one step per cutting layer, regions shown."""

    def __init__(self, task: Any, desc: str) -> None:
        self.task, self.desc = task, desc

    def __call__(self, name: str, regions: int) -> None:
        self.task.advance(1)
        self.task.update(description=f"{self.desc}: {regions:,} @ layer {name}")

    def stopped(self, regions: int, layer: str) -> None:
        self.task.update(description=f"{self.desc}: stopped, {regions:,} @ {layer}")


# ----------------------------------------------------------------------------- patterns


def activation_patterns(model: torch.nn.Module, x: Any) -> ActivationPatterns:
    """The on/off code of every ReLU/LeakyReLU unit and max-pool switch for every input.

    Args:
        model: a network of the supported modules (see the module docstring).
        x: ``(n, *input_shape)`` inputs.

    Returns:
        An :class:`ActivationPatterns` (codes on the inputs' device).

    Raises:
        DeepscopeValueError: unsupported module, inputs that do not fit, NaN/inf inputs.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.ReLU())
        >>> activation_patterns(net, torch.zeros(3, 1)).codes.shape
        torch.Size([3, 2])
    """
    func = "activation_patterns"
    check_model(model, func)
    xs = _tensor(x, "x", func)
    if xs.dim() < 2:
        raise param_error("x", func, "a tensor of shape (n, *input_shape)", tuple(xs.shape))
    walk = Walk(model, func, 0.0, xs[0])
    res = walk.run(xs[:, None], Points(len(xs), xs.device))
    return ActivationPatterns(res.codes, res.layers)


def count_patterns(model: torch.nn.Module, x: Any) -> int:
    """Number of distinct activation patterns among the inputs ``x`` (a lower bound on the
    number of regions they visit). See :func:`activation_patterns`."""
    codes = activation_patterns(model, x).codes
    if codes.shape[1] == 0:
        return min(len(codes), 1)
    return int(torch.unique(_pack(codes), dim=0).shape[0])


def _pack(codes: torch.Tensor) -> torch.Tensor:
    """Bool rows ``(n, u)`` as int64 words ``(n, ceil(u / 62))`` (same rows, same words)."""
    n, u = codes.shape
    words = -(-u // 62)
    padded = torch.zeros(n, words * 62, dtype=torch.int64, device=codes.device)
    padded[:, :u] = codes
    powers = 2 ** torch.arange(62, dtype=torch.int64, device=codes.device)
    return (padded.reshape(n, words, 62) * powers).sum(-1)


# ----------------------------------------------------------------------------- segments


def _segment_walk(model: Any, a: Any, b: Any, func: str, rtol: float, batched: bool
                  ) -> tuple[LineWalk, torch.Tensor, torch.Tensor]:
    """The traced model and the validated end points ``(n, *input_shape)``."""
    check_model(model, func)
    rtol = _rtol(rtol, func)
    at = _tensor(a, "a", func)
    bt = _tensor(b, "b", func, at.device)
    if at.shape != bt.shape:
        raise param_error("b", func, f"of the same shape as 'a' {tuple(at.shape)}",
                          tuple(bt.shape))
    if not batched:
        at, bt = at[None], bt[None]
    elif at.dim() < 2:
        raise param_error("a", func, "a tensor of shape (n, *input_shape)", tuple(at.shape))
    return LineWalk(model, func, rtol, at[0]), at, bt


def regions_on_segments(model: torch.nn.Module, a: Any, b: Any, *,
                        rtol: float = 1e-9, max_regions: int | None = None,
                        time_limit: float | None = None,
                        progress: Any = False) -> SegmentsRegions:
    """Exact activation regions and linear pieces along many segments at once (batched).

    Segment ``i`` is :math:`x_i(t) = a_i + t (b_i - a_i)`, :math:`t \\in [0, 1]`. This is
    the workhorse of Hanin & Rolnick's "regions per unit length" between data points
    (2019, arXiv 1901.09021): at initialisation the density is about the number of neurons
    times a constant, independent of depth.

    Args:
        model: a network of the supported modules.
        a: ``(n, *input_shape)`` start points.
        b: ``(n, *input_shape)`` end points.
        rtol: the zero tolerance of the tolerance policy.
        max_regions: stop once more regions than this are found over all segments (checked
            after each layer's cuts); the segments finished by then keep their counts, the
            others get ``-1`` and the result ``complete=False``.
        time_limit: stop after this many seconds (checked after each layer), likewise.
        progress: ``True`` for a bar on stderr (segments done), or a task factory.

    Returns:
        A :class:`SegmentsRegions` with ``counts``, ``pieces`` and ``lengths`` per segment.

    Raises:
        DeepscopeValueError: mismatched shapes, unsupported module, NaN/inf, bad ``rtol`` or
            budget.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.ReLU())
        >>> with torch.no_grad():
        ...     _ = net[0].weight.fill_(1.0), net[0].bias.fill_(0.0)
        >>> regions_on_segments(net, torch.tensor([[-1.0]]), torch.tensor([[1.0]])).counts
        array([2])
    """
    func = "regions_on_segments"
    factory = as_factory(progress, func)
    walk, at, bt = _segment_walk(model, a, b, func, rtol, True)
    max_regions, time_limit = _budgets(walk, max_regions, time_limit, func)
    with factory("regions on segments", len(at)) as task:
        counts, pieces, stopped = segment_counts(walk, at, bt, max_regions, task)
    lengths = (bt - at).flatten(1).norm(dim=1)
    return SegmentsRegions(counts.cpu().numpy(), pieces.cpu().numpy(),
                           lengths.cpu().numpy(), float(rtol), complete=stopped is None,
                           stopped_at=stopped or "", max_regions=max_regions,
                           time_limit=time_limit)


def regions_on_segment(model: torch.nn.Module, a: Any, b: Any, *,
                       rtol: float = 1e-9, max_regions: int | None = None,
                       time_limit: float | None = None, progress: Any = False,
                       maps: bool = True) -> SegmentRegions:
    """The exact breakpoints of a network along the segment from ``a`` to ``b``.

    On :math:`x(t) = a + t (b - a)` every pre-activation is piecewise affine in ``t``; the
    breakpoints are the ``t`` in (0, 1) where some unit's pre-activation changes sign
    strictly (or a max-pool's argmax changes), found layer by layer. Then the output's exact
    affine map on every region (a second walk over the intervals that need it). Cost grows
    with the regions times the cost of a forward pass; :func:`segment_cost` estimates both
    before the work, and ``progress=True`` shows that estimate and then each layer.

    Args:
        model: a network of the supported modules.
        a: start point, of the model's per-example input shape.
        b: end point, same shape.
        rtol: the zero tolerance of the tolerance policy.
        max_regions: stop once more regions than this are found (checked after each
            layer's cuts); the result then has ``complete=False`` and the count so far.
        time_limit: stop after this many seconds (checked after each layer and each chunk
            of the output maps), likewise.
        progress: ``True`` for a bar on stderr (with the cost estimate of
            :func:`segment_cost` first), or a task factory.
        maps: also compute the output's exact affine map on every region (``affine``) and
            the linear pieces. On big nets with many short regions this second walk costs
            about as much as the first; ``False`` skips it (``pieces`` is then -1 and
            ``affine`` has no outputs; the count, breakpoints and codes are exact).

    Returns:
        A :class:`SegmentRegions`.

    Raises:
        DeepscopeValueError: mismatched shapes, unsupported module, NaN/inf, bad ``rtol``,
            ``max_regions`` or ``time_limit``.

    Example:
        >>> from deepscope.nets import sawtooth_net
        >>> import torch
        >>> seg = regions_on_segment(sawtooth_net(2), torch.zeros(1), torch.ones(1))
        >>> seg.breakpoints.tolist(), seg.pieces
        ([0.25, 0.5, 0.75], 4)
    """
    func = "regions_on_segment"
    factory = as_factory(progress, func)
    if not isinstance(maps, bool):
        raise param_error("maps", func, "a bool", type(maps).__name__, type_error=True)
    walk, at, bt = _segment_walk(model, a, b, func, rtol, False)
    max_regions, time_limit = _budgets(walk, max_regions, time_limit, func)
    desc, start = "segment", "regions on segment"
    if progress is not None and progress is not False:
        est = _estimate(walk, at, bt, 8, 1 / 256)
        desc = f"segment ~{est.regions:,.0f}"
        start = f"segment: ~{est.regions:,.0f} regions, ~{_secs(est.seconds)} walk"
    layers = walk.cut_layers()
    with factory(start, len(layers) + int(maps)) as task:
        ticks = walk.on_layer = _LayerTicks(task, desc)
        try:
            cells, res = walk.run_points(at, bt, codes=True)
        except BudgetHit as hit:
            ticks.stopped(walk.regions(), hit.layer)
            return _partial_segment(walk.cells, walk.layers, at, bt, rtol, hit.layer,
                                    max_regions, time_limit)
        finally:
            walk.on_layer = None
        if maps:
            task.update(description=f"{desc}: {cells.n - 1:,}; maps")
            try:
                slope, intercept = segment_maps(walk, cells, res.out[:, 0], at, bt,
                                                res.codes)
            except BudgetHit:
                ticks.stopped(cells.n - 1, "output maps")
                return _partial_segment(cells, res.layers, at, bt, rtol, "output maps",
                                        max_regions, time_limit)
            task.advance(1)
        else:
            slope = intercept = torch.zeros(cells.n - 1, 0, dtype=torch.float64)
    names, units = res.column_owner()
    labels = cells.label[1:-1].cpu().numpy()
    return SegmentRegions(
        breakpoints=cells.t[1:-1].cpu().numpy(),
        layers=tuple(names[i] for i in labels),
        units=np.array([units[i] for i in labels], dtype=np.int64),
        count=cells.n - 1,
        pieces=int(count_pieces(cells.seg[1:], slope, 1)[0]) if maps else -1,
        length=float((bt - at).norm()),
        starts=cells.t[:-1].cpu().numpy(),
        affine=torch.stack([slope, intercept], dim=2).cpu().numpy(),
        codes=res.codes.cpu().numpy(),
        rtol=float(rtol), max_regions=max_regions, time_limit=time_limit,
    )


def _partial_segment(cells, layers, at, bt, rtol, layer, max_regions, time_limit
                     ) -> SegmentRegions:
    """What a walk stopped by its budget found: the breakpoints of the layers walked (all of
    them when the budget ran out in the output maps, ``layer == "output maps"``)."""
    names, units = WalkResult(torch.zeros(0), torch.zeros(0), layers).column_owner()
    labels = cells.label[1:-1].cpu().numpy()
    return SegmentRegions(
        breakpoints=cells.t[1:-1].cpu().numpy(),
        layers=tuple(names[i] for i in labels),
        units=np.array([units[i] for i in labels], dtype=np.int64),
        count=cells.n - 1, pieces=-1, length=float((bt - at).norm()),
        starts=cells.t[:-1].cpu().numpy(), affine=np.zeros((0, 0, 2)),
        codes=np.zeros((0, 0), dtype=bool), rtol=float(rtol), complete=False,
        stopped_at=layer, max_regions=max_regions, time_limit=time_limit)


def _estimate(walk: LineWalk, at: torch.Tensor, bt: torch.Tensor, probes: int,
              fraction: float) -> RegionCost:
    """Walk ``probes`` short pieces of the segment (each ``fraction`` of it, centred evenly)
    and scale their breakpoint density up to the whole segment."""
    saved = walk.max_regions, walk.deadline, walk.on_layer
    walk.max_regions = walk.deadline = walk.on_layer = None
    try:
        d = bt[0] - at[0]
        c = (torch.arange(probes, dtype=torch.float64, device=at.device) + 0.5) / probes
        shape = (-1, *([1] * d.dim()))
        a0 = at[0] + (c - fraction / 2).reshape(shape) * d
        b0 = at[0] + (c + fraction / 2).reshape(shape) * d
        start = time.perf_counter()
        walk.run_points(at, at)                     # the fixed cost: no breakpoints
        fixed = time.perf_counter() - start
        start = time.perf_counter()
        cells, _ = walk.run_points(a0, b0)
        spent = time.perf_counter() - start
    finally:
        walk.max_regions, walk.deadline, walk.on_layer = saved
    per = (torch.bincount(cells.seg, minlength=probes) - 2).double().cpu().numpy()
    density = per / fraction                        # breakpoints per unit t, each probe
    mean = float(density.mean())
    se = float(density.std(ddof=1) / np.sqrt(probes)) if probes > 1 else float("nan")
    regions = 1.0 + mean
    points = cells.n
    seconds = fixed + max(0.0, spent - fixed) * (regions + 1) / max(points, 1)
    return RegionCost(regions=regions, low=max(1.0, 1.0 + mean - 2 * se),
                       high=1.0 + mean + 2 * se, seconds=seconds,
                       probe_seconds=fixed + spent, probes=probes, fraction=fraction)


def segment_cost(model: torch.nn.Module, a: Any, b: Any, *, probes: int = 8,
                 fraction: float = 1 / 256, rtol: float = 1e-9) -> RegionCost:
    """Estimate the regions and the walk time of :func:`regions_on_segment` before the work.

    ``probes`` short pieces of the segment, each ``fraction`` of its length and centred at
    ``(i + 1/2) / probes``, are walked exactly (one batch); their breakpoint density, scaled
    to the whole segment, estimates the count, with a band of two standard errors across the
    probes. The time is the walk's fixed cost plus the probes' cost per breakpoint times the
    estimated breakpoints. The probes cost about ``probes * fraction`` of the whole walk.
    Where regions cluster (a few units switching in a narrow stretch) the probes can miss
    them: the band is an estimate, not a bound.

    Args:
        model: a network of the supported modules.
        a: start point, of the model's per-example input shape.
        b: end point, same shape.
        probes: number of probe pieces, ``>= 2``.
        fraction: length of each piece relative to the segment, in ``(0, 1 / probes]``.
        rtol: the zero tolerance of the tolerance policy.

    Returns:
        A :class:`RegionCost`.

    Raises:
        DeepscopeValueError: as :func:`regions_on_segment`, or bad ``probes`` / ``fraction``.

    Example:
        >>> from deepscope.nets import sawtooth_net
        >>> import torch
        >>> cost = segment_cost(sawtooth_net(2), torch.zeros(1), torch.ones(1), probes=3,
        ...                     fraction=1 / 3)
        >>> round(cost.regions)
        4
    """
    func = "segment_cost"
    probes = check_int(probes, "probes", func, low=2)
    fraction = check_float(fraction, "fraction", func, low=0.0, high=1.0 / probes,
                           closed="right")
    walk, at, bt = _segment_walk(model, a, b, func, rtol, False)
    return _estimate(walk, at, bt, probes, fraction)


# ----------------------------------------------------------------------------- planes


def _bounds(bounds: Any, func: str) -> tuple[float, float, float, float]:
    accepted = "four finite floats (u0, u1, v0, v1) with u0 < u1 and v0 < v1"
    try:
        vals = tuple(float(v) for v in bounds)
    except (TypeError, ValueError):
        raise param_error("bounds", func, accepted, bounds) from None
    if len(vals) != 4 or not all(np.isfinite(vals)) or not (vals[0] < vals[1]
                                                             and vals[2] < vals[3]):
        raise param_error("bounds", func, accepted, bounds)
    return vals  # type: ignore[return-value]


def _boundary(cells: Polygons, aff: torch.Tensor, rtol: float) -> list[np.ndarray]:
    """Decision-boundary segments inside each region (``aff``: ``(R, n_out, 3)``)."""
    n_out = aff.shape[1]
    segs, owner = [], []
    if n_out == 1:
        seg, ok = cells.chords(aff[:, 0], rtol)
        segs.append(seg[ok])
        owner.append(torch.nonzero(ok).flatten())
    for p in range(n_out if n_out > 1 else 0):
        for q in range(p + 1, n_out):
            sub = Polygons.__new__(Polygons)
            sub.verts, sub.nv, sub.device = cells.verts, cells.nv, cells.device
            keep = torch.arange(cells.n, device=cells.device)
            for r in range(n_out):
                if r in (p, q) or sub.n == 0:
                    continue
                kept = sub.clip(aff[keep, p] - aff[keep, r], torch.zeros_like(keep,
                                dtype=torch.bool), -1, rtol)
                keep = keep[kept]
            if sub.n == 0:
                continue
            seg, ok = sub.chords(aff[keep, p] - aff[keep, q], rtol)
            segs.append(seg[ok])
            owner.append(keep[ok])
    if not segs:
        return [np.zeros((0, 2, 2)) for _ in range(cells.n)]
    seg_all = torch.cat(segs).cpu().numpy()
    own = torch.cat(owner).cpu().numpy()
    order = np.argsort(own, kind="stable")
    splits = np.searchsorted(own[order], np.arange(1, cells.n))
    return np.split(seg_all[order], splits)


def _plane_walk(model: Any, origin: Any, directions: Any, bounds: Any, rtol: Any, func: str
                ) -> tuple[Walk, torch.Tensor, torch.Tensor, tuple[float, float, float, float]]:
    """The traced model, the validated plane ``origin``, ``directions`` and box."""
    check_model(model, func)
    rtol = _rtol(rtol, func)
    o = _tensor(origin, "origin", func)
    d = _tensor(directions, "directions", func, o.device)
    if tuple(d.shape) != (2, *o.shape):
        raise param_error("directions", func, f"of shape (2, *origin.shape) = "
                          f"{(2, *o.shape)}", tuple(d.shape))
    flat = d.reshape(2, -1)
    n0, n1 = flat.norm(dim=1)
    off = flat[1] - (flat[1] @ flat[0]) / n0**2 * flat[0] if n0 > 0 else flat[1]
    if n0 <= 0 or n1 <= 0 or off.norm() <= _collinear_tol(directions) * n1:
        raise param_error("directions", func, "two linearly independent directions",
                          "a zero direction" if min(n0, n1) <= 0 else "parallel directions")
    box = _bounds(bounds, func)
    return Walk(model, func, rtol, o), o, d, box


def _collinear_tol(*xs: Any) -> float:
    """Relative size below which a component is rounding noise of the inputs' precision
    (float64: 1e-12; float32: about 1e-5)."""
    tol = 1e-12
    for x in xs:
        dtype = getattr(x, "dtype", None)
        if isinstance(dtype, torch.dtype) and dtype.is_floating_point:
            tol = max(tol, 100 * torch.finfo(dtype).eps)
        elif isinstance(dtype, np.dtype) and np.issubdtype(dtype, np.floating):
            tol = max(tol, 100 * float(np.finfo(dtype).eps))
    return tol


def regions_in_plane(model: torch.nn.Module, origin: Any, directions: Any, bounds: Any, *,
                     boundary: bool = True, rtol: float = 1e-9,
                     max_regions: int | None = None, time_limit: float | None = None,
                     progress: Any = False) -> PlaneRegions:
    """The exact partition of a 2-D slice of input space into activation regions.

    The slice is :math:`x(u, v) = o + u\\,d_0 + v\\,d_1` for ``(u, v)`` in the box
    ``bounds``; on each region the network is affine in ``(u, v)``. As in Hanin & Rolnick
    (2019, arXiv 1906.00904), who draw such slices through three data points (see
    :func:`plane_through`). Regions are convex polygons with distinct codes; their areas
    sum to the box; with one hidden layer of ``n`` units in general position and all
    crossings inside the box there are :math:`1 + n + \\binom{n}{2}` of them.

    Args:
        model: a network of the supported modules.
        origin: the plane's origin, of the per-example input shape (``(d,)`` for an MLP,
            ``(1, 8, 8)`` for an 8x8 image CNN).
        directions: ``(2, *input_shape)`` the two directions (need not be orthonormal).
        bounds: ``(u0, u1, v0, v1)`` the box in plane coordinates.
        boundary: also compute the decision boundary inside each region.
        rtol: the zero tolerance of the tolerance policy.
        max_regions: stop once more regions than this are cut (checked every 16 units of a
            layer); the result then has ``complete=False`` and the partition so far.
        time_limit: stop after this many seconds (checked likewise).
        progress: ``True`` for a bar on stderr (one step per cutting layer, with the
            regions so far), or a task factory. :func:`plane_cost` estimates the work first;
            it is not run here (its probes can cost seconds on nets with max-pools).

    Returns:
        A :class:`PlaneRegions`.

    Raises:
        DeepscopeValueError: bad shapes or bounds, unsupported module, NaN/inf, bad ``rtol``,
            ``max_regions`` or ``time_limit``.
    """
    func = "regions_in_plane"
    walk, o, d, box = _plane_walk(model, origin, directions, bounds, rtol, func)
    factory = as_factory(progress, func)
    max_regions, time_limit = _budgets(walk, max_regions, time_limit, func)
    cells = Polygons(box, o.device)
    with factory("regions in plane", len(walk.cut_layers())) as task:
        ticks = walk.on_layer = _LayerTicks(task, "plane")
        try:
            res = walk.run(torch.stack([d[0], d[1], o])[None], cells)
        except BudgetHit as hit:
            ticks.stopped(cells.n, hit.layer)
            return _partial_plane(walk, cells, box, rtol, hit.layer, max_regions, time_limit)
        finally:
            walk.on_layer = None
    aff = res.out.permute(0, 2, 1).contiguous()
    polygons = _polygons(cells)
    return PlaneRegions(
        count=cells.n, polygons=polygons, codes=res.codes.cpu().numpy(),
        areas=cells.areas().cpu().numpy(), affine=aff.cpu().numpy(),
        boundary=_boundary(cells, aff, walk.rtol) if boundary else [],
        bounds=box, layers=dict(res.layers), rtol=float(rtol), max_regions=max_regions,
        time_limit=time_limit,
    )


def _polygons(cells: Polygons) -> list[np.ndarray]:
    nv = cells.nv.cpu().numpy()
    verts = cells.verts.cpu().numpy()
    return [verts[i, :nv[i]].copy() for i in range(len(nv))]


def _partial_plane(walk: Walk, cells: Polygons, box: tuple, rtol: float, layer: str,
                   max_regions: int | None, time_limit: float | None) -> PlaneRegions:
    """The partition a plane walk stopped by its budget had cut (codes of whole layers)."""
    full = {name: sl for name, sl in walk.layers.items()}
    codes = (torch.cat(walk.codes, dim=1) if walk.codes
             else torch.zeros(cells.n, 0, dtype=torch.bool))
    return PlaneRegions(
        count=cells.n, polygons=_polygons(cells), codes=codes.cpu().numpy(),
        areas=cells.areas().cpu().numpy(), affine=np.zeros((cells.n, 0, 3)), boundary=[],
        bounds=box, layers=full, rtol=float(rtol), complete=False, stopped_at=layer,
        max_regions=max_regions, time_limit=time_limit)


def _plane_probe(walk: Walk, x0: torch.Tensor, box: tuple[float, float, float, float]
                 ) -> int:
    cells = Polygons(box, x0.device)
    walk.run(x0, cells)
    return int(cells.n)


def plane_cost(model: torch.nn.Module, origin: Any, directions: Any, bounds: Any, *,
               probes: int = 4, fraction: float = 0.1, rtol: float = 1e-9,
               time_limit: float | None = None) -> RegionCost:
    """Estimate the regions and the time of :func:`regions_in_plane` before the work.

    Around ``probes`` centres spread evenly over the box (a square grid), two nested probe
    boxes are partitioned exactly: sides ``fraction`` and ``fraction / 2`` of the box's. In a
    box of relative side ``s`` the count is about ``1 + c1 s + c2 s^2``: an area term (the
    region density) and a boundary term (walls crossing the box's edges, which a small box
    overcounts); the two sizes give both, and ``1 + c1 + c2`` estimates the whole box, with a
    band of two standard errors across the probes. The time is the probes' cost per region
    times the estimate. The probes cost about ``1.25 * probes * fraction^2`` of the box's
    area. Where regions cluster (along the data, the decision boundary) probes can miss or
    over-weigh them: the band is an estimate, not a bound.

    Args:
        model, origin, directions, bounds: as :func:`regions_in_plane`.
        probes: number of probe centres, a square ``>= 4`` (4, 9, 16, ...).
        fraction: side of the larger probe box relative to the box, in ``(0, 1 / sqrt(probes)]``.
        rtol: the zero tolerance of the tolerance policy.
        time_limit: seconds for the probes (a plane through a real CNN can hold 10^5 regions
            after its first layer, and max-pools cut planes one window at a time): the
            estimate then uses the probe centres done (``probes`` in the result says how
            many).

    Returns:
        A :class:`RegionCost` (``lens = "regions.plane_cost"``).

    Raises:
        DeepscopeValueError: as :func:`regions_in_plane`, bad ``probes`` / ``fraction`` /
            ``time_limit``, or a time limit spent before the first probe centre was done.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.ReLU(),
        ...                           torch.nn.Linear(64, 1))
        >>> cost = plane_cost(net, torch.zeros(2), torch.eye(2), (-1, 1, -1, 1))
        >>> cost.low <= cost.regions <= cost.high
        True
    """
    func = "plane_cost"
    side = int(round(np.sqrt(probes))) if isinstance(probes, int) and probes > 0 else 0
    if isinstance(probes, bool) or side < 2 or side * side != probes:
        raise param_error("probes", func, "a square int >= 4 (4, 9, 16, ...)", probes)
    fraction = check_float(fraction, "fraction", func, low=0.0, high=1.0 / side,
                           closed="right")
    walk, o, d, (u0, u1, v0, v1) = _plane_walk(model, origin, directions, bounds, rtol, func)
    _, time_limit = _budgets(walk, None, time_limit, func)
    x0 = torch.stack([d[0], d[1], o])[None]
    start = time.perf_counter()
    found, totals = 0, []
    try:
        for i, j in itertools.product(range(side), range(side)):
            cu, cv = u0 + (i + 0.5) / side * (u1 - u0), v0 + (j + 0.5) / side * (v1 - v0)
            counts = []
            for f in (fraction, fraction / 2):
                hu, hv = f * (u1 - u0) / 2, f * (v1 - v0) / 2
                counts.append(_plane_probe(walk, x0, (cu - hu, cu + hu, cv - hv, cv + hv)))
            big, small = counts[0] - 1, counts[1] - 1
            c2 = max(0.0, 2 * (big - 2 * small) / fraction**2)
            c1 = max(0.0, (big - c2 * fraction**2) / fraction)
            totals.append(1.0 + c1 + c2)
            found += sum(counts)
    except BudgetHit:
        if not totals:
            raise param_error("time_limit", func, "enough seconds for at least one probe "
                              "centre (this plane holds very many regions: walk it with "
                              "regions_in_plane(..., max_regions=..., time_limit=...))",
                              time_limit) from None
    spent = time.perf_counter() - start
    est = np.array(totals)
    regions = float(est.mean())
    se = float(est.std(ddof=1) / np.sqrt(len(est))) if len(est) > 1 else float("inf")
    return RegionCost(regions=regions, low=max(1.0, regions - 2 * se), high=regions + 2 * se,
                      seconds=spent / max(found, 1) * regions, probe_seconds=spent,
                      probes=len(totals), fraction=fraction, lens="regions.plane_cost")


def plane_through(p0: Any, p1: Any, p2: Any, *, margin: float = 0.25
                  ) -> tuple[torch.Tensor, torch.Tensor, tuple[float, float, float, float]]:
    """The plane through three inputs, as Hanin & Rolnick (2019) slice through data.

    The origin is ``p0``; the directions are ``p1 - p0`` and the part of ``p2 - p0``
    orthogonal to it, both normalised (Gram-Schmidt), so plane coordinates are Euclidean
    distances in input space. The box holds the three points with ``margin`` times the
    larger of the two spans added on every side.

    Args:
        p0, p1, p2: three inputs of the same per-example shape, not collinear.
        margin: relative margin around the points, ``>= 0``.

    Returns:
        ``(origin, directions, bounds)`` for :func:`regions_in_plane` (float64 tensors on
        ``p0``'s device).

    Raises:
        DeepscopeValueError: mismatched shapes, collinear points, bad ``margin``.
    """
    func = "plane_through"
    margin = check_float(margin, "margin", func, low=0.0)
    o = _tensor(p0, "p0", func)
    pts = [_tensor(p, name, func, o.device) for p, name in ((p1, "p1"), (p2, "p2"))]
    for p, name in zip(pts, ("p1", "p2")):
        if p.shape != o.shape:
            raise param_error(name, func, f"of the same shape as 'p0' {tuple(o.shape)}",
                              tuple(p.shape))
    d1, d2 = (pts[0] - o).flatten(), (pts[1] - o).flatten()
    n1 = d1.norm()
    e1 = d1 / n1 if n1 > 0 else d1
    r2 = d2 - (d2 @ e1) * e1
    n2 = r2.norm()
    if n1 <= 0 or n2 <= _collinear_tol(p0, p1, p2) * max(float(n1), float(d2.norm())):
        raise param_error("p2", func, "a point off the line through 'p0' and 'p1'",
                          "a collinear point")
    e2 = r2 / n2
    us = [0.0, float(n1), float(d2 @ e1)]
    vs = [0.0, 0.0, float(n2)]
    span = max(max(us) - min(us), max(vs) - min(vs))
    pad = margin * span
    bounds = (min(us) - pad, max(us) + pad, min(vs) - pad, max(vs) + pad)
    return o, torch.stack([e1, e2]).reshape(2, *o.shape), bounds


def plane_coordinates(x: Any, origin: Any, directions: Any) -> np.ndarray:
    """``(n, 2)`` plane coordinates ``(u, v)`` of inputs ``x`` ``(n, *input_shape)``: the
    least-squares solution of ``x - origin = u d_0 + v d_1`` (exact for points in the
    plane)."""
    func = "plane_coordinates"
    o = _tensor(origin, "origin", func)
    d = _tensor(directions, "directions", func, o.device).reshape(2, -1)
    xs = _tensor(x, "x", func, o.device)
    if tuple(xs.shape[1:]) != tuple(o.shape):
        raise param_error("x", func, f"of shape (n, *{tuple(o.shape)})", tuple(xs.shape))
    rhs = (xs - o).reshape(len(xs), -1).T
    sol = torch.linalg.lstsq(d.T, rhs).solution
    return sol.T.cpu().numpy()
