"""Exact regions along segments by breakpoints: the fast 1-D path of the regions lens.

Along :math:`x(t) = a + t (b - a)` every value of a piecewise-linear network is continuous
and piecewise affine in ``t``, and the pre-activations of a layer are affine on every
interval between consecutive breakpoints of the layers before it. So no per-region affine
map is needed: :class:`LineWalk` keeps, for all segments at once, the sorted breakpoints
found so far (plus ``t = 0`` and ``1``) in one flat array with segment ids, and holds every
value of the traced graph *at those points only* (a ``(P, 1, *shape)`` tensor: the graph
walker of :mod:`deepscope.lenses.regions.trace` with one column). The first Linear layer
therefore sees only the two end points of each segment. At a ReLU/LeakyReLU layer the zero of
every unit inside every interval is found by linear interpolation between the two end values
(a strict sign change under the tolerance policy of :mod:`deepscope.lenses.regions.cells`),
all new points are inserted at once, and the live values of the graph are interpolated at
them (they are affine on the old intervals). A max-pool's switches are the breakpoints of the
upper envelope of its window's candidates, found the same way from the pairwise differences.
Everything is vectorised over segments and intervals; the only Python loops run over chunks
of a layer and over the positions of a pooling window.

The output's slope on an interval is the difference quotient of the outputs at its ends,
except where the rounding error of that quotient could matter (very short intervals): there
one more walk over the interval midpoints with two columns (``d/dt`` and the value at the
midpoint) gives it exactly (:meth:`LineWalk.interval_maps`). Activation codes per interval,
when a result needs them (one segment), are recorded layer by layer on the intervals of that
layer's time and carried to the final intervals at the end.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from deepscope.lenses.regions.cells import Intervals, signs
from deepscope.lenses.regions.trace import Aff, BudgetHit, Walk, WalkResult, _cropped_conv, \
    _pool_windows

__all__ = ["Breaks", "LineWalk", "Midpoints", "PIECE_RTOL", "count_pieces", "per_region",
           "segment_counts", "segment_maps", "segment_pieces"]

#: Adjacent regions are one linear piece when their output slopes differ by at most this
#: times the largest slope on the segment.
PIECE_RTOL = 1e-7
#: Bound on the rounding error of an output value relative to the largest output value on its
#: segment (generous: float64 evaluation errors are ~1e-15 of the terms).
_VALUE_NOISE = 1e-11
#: Elements of a ``(points, units)`` block examined at once.
_CHUNK = 1 << 22
#: Segments are walked in batches whose largest array has about this many elements (small
#: arrays are cheap to allocate again and stay in cache; memory stays bounded).
_BATCH_ELEMENTS = 1 << 21
#: Intervals of a midpoint walk go in chunks whose widest value has about this many elements
#: (128 MiB in float64: big enough that a convolution over a chunk runs at full speed).
_MAP_ELEMENTS = 1 << 24
#: Under a time limit, convolutions over more points than this go in chunks of this many,
#: the deadline checked between them (a big layer over 20,000 points takes a minute).
_TIMED_POINTS = 1024


class Breaks:
    """Sorted points of many segments: ``t`` (float64), ``seg`` (segment id) and ``label``
    (the code column whose switch created the point, ``-1`` for the segment's ends)."""

    def __init__(self, n: int, device: torch.device) -> None:
        self.t = torch.tensor([0.0, 1.0], dtype=torch.float64, device=device).repeat(n)
        self.seg = torch.arange(n, device=device).repeat_interleave(2)
        self.label = torch.full((2 * n,), -1, dtype=torch.int64, device=device)

    @property
    def n(self) -> int:
        return int(self.t.numel())

    def pairs(self) -> torch.Tensor:
        """Index of the left point of every interval (consecutive points of one segment)."""
        return torch.nonzero(self.seg[1:] == self.seg[:-1]).flatten()


class Midpoints:
    """Intervals ``[t0, t1]`` walked at their midpoints with columns ``(d/dt, value)``:
    nothing is cut; a unit is on where it is strictly positive at an end (tolerance policy)."""

    k = 0

    def __init__(self, t0: torch.Tensor, t1: torch.Tensor) -> None:
        self.t0, self.t1 = t0, t1
        self.tm = 0.5 * (t0 + t1)

    @property
    def n(self) -> int:
        return int(self.t0.numel())

    def sides(self, z: torch.Tensor, rtol: float) -> tuple[torch.Tensor, torch.Tensor]:
        a = z[:, 0]
        c = z[:, 1] - a * self.tm[:, None]
        g0, g1 = Intervals._signs(a, c, self.t0[:, None], self.t1[:, None], rtol)
        on = (g0 > 0) | (g1 > 0)
        return torch.zeros_like(on), on


class Coded:
    """Intervals whose activation codes are known (recorded by a point walk): a walk over
    them with the direction ``b - a`` as its one column and every constant dropped gives the
    output's exact slope ``d/dt`` on each (:meth:`LineWalk.interval_slopes`)."""

    k = 0

    def __init__(self, walk: LineWalk, codes: torch.Tensor) -> None:
        self.walk, self.codes = walk, codes

    @property
    def n(self) -> int:
        return int(self.codes.shape[0])

    def sides(self, z: torch.Tensor, rtol: float) -> tuple[torch.Tensor, torch.Tensor]:
        off = self.walk.n_units
        on = self.codes[:, off:off + z.shape[2]]
        return torch.zeros_like(on), on


def _storage(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


def _tolerant(v0: torch.Tensor, v1: torch.Tensor, t0: torch.Tensor, t1: torch.Tensor,
              rtol: float) -> tuple[torch.Tensor, ...]:
    """Affine ``a t + c`` through ``(t0, v0)``, ``(t1, v1)``; tolerant signs at both ends."""
    a = (v1 - v0) / (t1 - t0)
    c = v0 - a * t0
    return a, c, signs(v0, a.abs() * t0 + c.abs(), rtol), signs(v1, a.abs() * t1 + c.abs(), rtol)


class LineWalk(Walk):
    """The graph walker on points of segments (see the module docstring).

    Budgets as in :class:`Walk`, checked after every layer's cuts (regions: points minus
    segments).
    """

    points = False
    peak = 0
    #: the most elements one point holds in any value of the graph (sizes midpoint chunks)
    width = 1
    record: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    n_segments = 1
    slopes_only = False
    _pos = 0

    def __init__(self, model: Any, func: str, rtol: float,
                 example: torch.Tensor | None = None) -> None:
        super().__init__(model, func, rtol, example)
        self._at = {node: i for i, node in enumerate(self.nodes)}

    def run_points(self, a: torch.Tensor, b: torch.Tensor, *, codes: bool = False
                   ) -> tuple[Breaks, WalkResult]:
        """All breakpoints of the segments ``a_i -> b_i`` (``(n, *shape)``) and the outputs
        ``(P, 1, n_out)`` at them. With ``codes`` (one segment only), ``res.codes`` holds the
        activation code of every interval."""
        cells = Breaks(len(a), a.device)
        self.n_segments = len(a)
        self.record = [] if codes else None
        self.peak, self.width = 0, max(1, a[0].numel())
        x = torch.stack([a, b], dim=1).reshape(2 * len(a), 1, *a.shape[1:])
        self.points = True
        try:
            res = self.run(x, cells)
        finally:
            self.points = False
        if self.record:      # each layer's codes, on the intervals of its time, to the final
            starts = cells.t[:-1]
            res.codes = torch.cat([c[torch.searchsorted(t, starts, right=True) - 1]
                                   for t, c in self.record], dim=1)
        elif self.record is not None:
            res.codes = res.codes[:-1]
        return cells, res

    def _interval_chunks(self, n: int, columns: int):
        """``(lo, hi)`` chunks of ``n`` intervals, each sized so that its widest value holds
        about ``_MAP_ELEMENTS`` elements; while they are walked only the deadline applies
        (the regions are all found), checked before each chunk. Use under
        :func:`contextlib.closing` so ``max_regions`` comes back however the walk ends."""
        rows = max(1, _MAP_ELEMENTS // (columns * max(1, self.width)))
        saved, self.max_regions = self.max_regions, None
        try:
            for lo in range(0, n, rows):
                if self.spent_time():
                    raise BudgetHit("output maps")
                yield lo, min(n, lo + rows)
        finally:
            self.max_regions = saved

    def interval_maps(self, a: torch.Tensor, b: torch.Tensor, seg: torch.Tensor,
                      t0: torch.Tensor, t1: torch.Tensor) -> WalkResult:
        """Walk the intervals ``[t0, t1]`` of segments ``seg`` at their midpoints: ``out``
        ``(I, 2, n_out)`` holds the exact slope and the value at the midpoint, ``codes`` the
        activation code of each interval."""
        parts = []
        with contextlib.closing(self._interval_chunks(max(1, len(t0)), 2)) as chunks:
            for lo, hi in chunks:
                cells = Midpoints(t0[lo:hi], t1[lo:hi])
                d = (b - a)[seg[lo:hi]]
                tm = cells.tm.reshape(-1, *([1] * (a.dim() - 1)))
                parts.append(self.run(torch.stack([d, a[seg[lo:hi]] + tm * d], dim=1),
                                      cells))
        if len(parts) == 1:
            return parts[0]
        return WalkResult(torch.cat([p.out for p in parts]),
                          torch.cat([p.codes for p in parts]), parts[0].layers)

    def interval_slopes(self, a: torch.Tensor, b: torch.Tensor, seg: torch.Tensor,
                        codes: torch.Tensor) -> torch.Tensor:
        """The output's exact slope ``(I, n_out)`` on intervals of segments ``seg`` whose
        activation ``codes`` a point walk recorded: the direction walked through the gated
        linear map of each (one column, no constants), in bounded chunks. About half the
        work of :meth:`interval_maps`."""
        parts = []
        self.slopes_only = True
        try:
            with contextlib.closing(self._interval_chunks(len(seg), 1)) as chunks:
                for lo, hi in chunks:
                    parts.append(self.run((b - a)[seg[lo:hi]][:, None],
                                          Coded(self, codes[lo:hi])).out[:, 0])
        finally:
            self.slopes_only = False
        if not parts:
            return torch.zeros(0, 0, dtype=torch.float64, device=a.device)
        return torch.cat(parts)

    # ------------------------------------------------------------------ overrides
    def _const(self, t: torch.Tensor, c: Any) -> torch.Tensor:
        return t if self.slopes_only else super()._const(t, c)

    def _argmax(self, z: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
        if not self.slopes_only:
            return super()._argmax(z, win)
        off, (n_win, size) = self.n_units, win.shape
        picked = self.cells.codes[:, off:off + n_win * size].reshape(len(z), n_win, size)
        return picked.to(torch.uint8).argmax(-1)

    def _node(self, node: fx.Node) -> Any:
        self._pos = self._at[node]
        return super()._node(node)

    def _module(self, node: fx.Node, m: nn.Module, x: Any) -> Any:
        if self.points and isinstance(x, Aff) and isinstance(m, (nn.Linear, nn.Conv1d,
                                                                 nn.Conv2d)):
            w, b = self._param(m.weight), self._param(m.bias)
            if isinstance(m, nn.Linear):                 # the bias fused: one pass, one array
                out = F.linear(x.t, w, b)
            elif self.deadline is None or len(x.t) <= _TIMED_POINTS:
                out = _cropped_conv(x.t[:, 0], w, b, m)[:, None]
            else:                # in chunks of points, the deadline checked between them
                parts = []
                for lo in range(0, len(x.t), _TIMED_POINTS):
                    if self.spent_time():
                        raise BudgetHit(self.last_cut or "input")
                    parts.append(_cropped_conv(x.t[lo:lo + _TIMED_POINTS, 0], w, b, m))
                out = torch.cat(parts)[:, None]
            self.peak = max(self.peak, out.numel())
            self.width = max(self.width, out[0].numel())
            return Aff(out)
        return super()._module(node, m, x)

    def _relu(self, name: str, t: torch.Tensor, slope: float) -> Aff:
        if not self.points:
            return super()._relu(name, t, slope)
        off, shape = self.n_units, t.shape[2:]
        n = t[0].numel()
        new = self._unit_crossings(t.reshape(len(t), n), off)
        if new is not None:
            t, owned = self._insert(*new, t), True
        else:
            owned = _storage(t) not in {_storage(v.t) for _, v in self._live()}
        z = t.reshape(len(t), n)
        if new is not None:                # the switching units are zero there, not ~1e-17
            pos, col = self.switched
            z[pos, col - off] = 0.0
        if self.record is not None:
            self.record.append((self.cells.t, self._on_intervals(z)))
        if not owned:
            z = z.clamp(min=0.0) if not slope else torch.where(z > 0, z, z * slope)
        elif not slope:
            z.clamp_(min=0.0)                            # in place: nobody else reads it
        else:
            z[z < 0] *= slope
        self.layers[name] = slice(off, off + n)
        self.n_units += n
        self._after_layer(name)
        return Aff(z.reshape(len(z), 1, *shape))

    def _on_intervals(self, z: torch.Tensor) -> torch.Tensor:
        """``(P - 1, units)``: each unit on inside each interval (tolerance policy), in row
        chunks so that no float64 temporary of the whole layer is made."""
        t = self.cells.t
        on = torch.empty(len(z) - 1, z.shape[1], dtype=torch.bool, device=z.device)
        rows = max(1, _CHUNK // max(1, z.shape[1]))
        for lo in range(0, len(z) - 1, rows):
            hi = min(len(z) - 1, lo + rows)
            _, _, g0, g1 = _tolerant(z[lo:hi], z[lo + 1:hi + 1], t[lo:hi, None],
                                     t[lo + 1:hi + 1, None], self.rtol)
            on[lo:hi] = (g0 > 0) | (g1 > 0)
        return on

    def regions(self) -> int:
        return int(self.cells.n - self.n_segments)

    def _maxpool(self, name: str, t: torch.Tensor, m: nn.Module) -> Aff:
        if not self.points:
            return super()._maxpool(name, t, m)
        win = _pool_windows(tuple(t.shape[2:]), m, t.device)
        off = self.n_units
        new = self._switches(t.reshape(len(t), -1), win, off)
        if new is not None:
            t = self._insert(*new, t)
        if self.record is not None:        # the argmax inside each interval (first on ties)
            z = t.reshape(len(t), -1)
            chosen = torch.empty(len(z) - 1, win.numel(), dtype=torch.bool, device=z.device)
            rows = max(1, _CHUNK // max(1, win.numel()))
            for lo in range(0, len(z) - 1, rows):
                hi = min(len(z) - 1, lo + rows)
                mid = torch.where(win >= 0, (z[lo:hi] + z[lo + 1:hi + 1])[:, win.clamp(min=0)],
                                  -torch.inf)
                chosen[lo:hi] = F.one_hot(mid.argmax(-1), win.shape[1]).bool().reshape(
                    hi - lo, -1)
            self.record.append((self.cells.t, chosen))
        pool = F.max_pool1d if isinstance(m, nn.MaxPool1d) else F.max_pool2d
        out = pool(t[:, 0], m.kernel_size, m.stride, m.padding, m.dilation)
        self.layers[name] = slice(off, off + win.numel())
        self.n_units += win.numel()
        self._after_layer(name)
        return Aff(out[:, None])

    def _live(self) -> list[tuple[fx.Node, Aff]]:
        """Values of the graph still read after the current node."""
        return [(node, v) for node, v in self.env.items()
                if isinstance(v, Aff) and self.last_use[node] > self._pos]

    # ------------------------------------------------------------------ breakpoints
    def _unit_crossings(self, z: torch.Tensor, off: int) -> tuple[torch.Tensor, ...] | None:
        """Strict sign changes of every unit inside every interval: ``(left point, t, label,
        a, c)`` of each, ``a t + c`` being the unit on its interval."""
        cells = self.cells
        same = cells.seg[1:] == cells.seg[:-1]
        rows = max(1, _CHUNK // max(1, z.shape[1]))
        found = []
        for lo in range(0, len(z) - 1, rows):
            hi = min(len(z) - 1, lo + rows)
            p0, p1 = z[lo:hi] > 0, z[lo + 1:hi + 1] > 0
            n0, n1 = z[lo:hi] < 0, z[lo + 1:hi + 1] < 0
            mask = ((p0 & n1) | (n0 & p1)) & same[lo:hi, None]
            k, j = torch.nonzero(mask, as_tuple=True)
            found.append((k + lo, j))
        if not found:
            return None
        k, j = torch.cat([f[0] for f in found]), torch.cat([f[1] for f in found])
        if k.numel() == 0:
            return None
        z0, z1 = z[k, j], z[k + 1, j]
        t0, t1 = cells.t[k], cells.t[k + 1]
        a, c, g0, g1 = _tolerant(z0, z1, t0, t1, self.rtol)
        ts = t0 + (t1 - t0) * (z0 / (z0 - z1))
        ok = (g0 * g1 < 0) & (ts > t0) & (ts < t1)
        return k[ok], ts[ok], off + j[ok], a[ok], c[ok]

    def _switches(self, z: torch.Tensor, win: torch.Tensor, off: int
                  ) -> tuple[torch.Tensor, ...] | None:
        """Breakpoints of the upper envelope of every max-pool window inside every interval
        (the argmax cells of each window, ties to the first position, as in the per-region
        path)."""
        cells = self.cells
        valid = win >= 0
        size = win.shape[1]
        safe = win.clamp(min=0)
        am = torch.empty(len(z), len(win), dtype=torch.int64, device=z.device)
        rows = max(1, _CHUNK // max(1, win.numel()))
        for lo in range(0, len(z), rows):          # row chunks: no (P, windows, size) array
            am[lo:lo + rows] = torch.where(valid, z[lo:lo + rows, safe], -torch.inf).argmax(-1)
        same = cells.seg[1:] == cells.seg[:-1]
        k, w = torch.nonzero((am[:-1] != am[1:]) & same[:, None], as_tuple=True)
        if k.numel() == 0:
            return None
        ok_q = valid[w]                                        # (C, size)
        v0 = torch.where(ok_q, z[k[:, None], safe[w]], 0.0)
        v1 = torch.where(ok_q, z[k[:, None] + 1, safe[w]], 0.0)
        t0, t1 = cells.t[k][:, None, None], cells.t[k + 1][:, None, None]
        d0 = v0[:, :, None] - v0[:, None, :]                   # (C, p, q): z_p - z_q
        d1 = v1[:, :, None] - v1[:, None, :]
        a, c, g0, g1 = _tolerant(d0, d1, t0, t1, self.rtol)
        ar = torch.arange(size, device=z.device)
        strict = ar[None, :] < ar[:, None]                     # q before p: ties go to q
        pair = ok_q[:, None, :] & (ar[None, :] != ar[:, None])
        whole = (g0 >= 0) & (g1 >= 0) & ~(strict & (g0 == 0) & (g1 == 0))
        left, right = (g0 > 0) & (g1 < 0), (g0 < 0) & (g1 > 0)
        alive = ok_q & (whole | left | right | ~pair).all(-1)
        tc = t0 + (t1 - t0) * (d0 / torch.where(left | right, d0 - d1, 1.0))
        hi = torch.where(left & pair, tc, torch.inf).amin(-1).minimum(t1[..., 0])
        lo, arg = torch.where(right & pair, tc, -torch.inf).max(-1)
        starts = alive & (lo < hi) & (lo > t0[..., 0])
        i, p = torch.nonzero(starts, as_tuple=True)
        if i.numel() == 0:
            return None
        q = arg[i, p]
        return (k[i], lo[i, p], off + w[i] * size + p, a[i, p, q], c[i, p, q])

    def _insert(self, k: torch.Tensor, ts: torch.Tensor, label: torch.Tensor, a: torch.Tensor,
                c: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Insert new points ``ts`` right of points ``k`` (merging points of one interval that
        coincide within the tolerance); interpolate the values of the graph still read later
        there. Returns ``t`` (a value at the old points) at all points, as a fresh array."""
        cells = self.cells
        order = torch.argsort(ts, stable=True)
        order = order[torch.argsort(k[order], stable=True)]
        k, ts, label, a, c = k[order], ts[order], label[order], a[order], c[order]
        every = label
        keep = torch.ones(len(k), dtype=torch.bool, device=k.device)
        if len(k) > 1:
            keep[1:] = ~((k[1:] == k[:-1]) & (a[1:].abs() * (ts[1:] - ts[:-1])
                         <= self.rtol * (a[1:].abs() * ts[:-1] + c[1:].abs())))
            k, ts, label = k[keep], ts[keep], label[keep]
        n_old, n_new = cells.n, len(k)
        dev = ts.device
        cnt = torch.bincount(k, minlength=n_old)
        old_pos = torch.arange(n_old, device=dev) + (torch.cumsum(cnt, 0) - cnt)
        new_pos = torch.arange(n_new, device=dev) + k + 1
        #: (point, code column) of every switch at a new point, merged ones included
        self.switched = (new_pos[torch.cumsum(keep, 0) - 1], every)
        lam = (ts - cells.t[k]) / (cells.t[k + 1] - cells.t[k])

        def place(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
            out = old.new_empty((n_old + n_new, *old.shape[1:]))
            out[old_pos] = old
            out[new_pos] = new
            return out

        def remap(v: torch.Tensor) -> torch.Tensor:
            return place(v, torch.lerp(v[k], v[k + 1], lam.reshape(-1, *([1] * (v.dim() - 1)))))

        done: dict[int, torch.Tensor] = {}
        for node, val in self._live():
            if id(val.t) not in done:
                done[id(val.t)] = remap(val.t)
            self.env[node] = Aff(done[id(val.t)])
        out = remap(t)                                   # a fresh array, owned by the caller
        self.peak = max(self.peak, out.numel())
        cells.t, cells.seg = place(cells.t, ts), place(cells.seg, cells.seg[k])
        cells.label = place(cells.label, label)
        return out


# ----------------------------------------------------------------------------- pieces


def count_pieces(seg: torch.Tensor, slopes: torch.Tensor, n: int) -> torch.Tensor:
    """Linear pieces per segment from the output slopes ``(I, n_out)`` of its intervals
    (``seg`` their segments, sorted by segment and ``t``): 1 + the slope changes."""
    scale = torch.zeros(n, dtype=torch.float64, device=seg.device)
    if slopes.shape[1] and len(seg):
        scale = scale.scatter_reduce(0, seg, slopes.abs().amax(1), "amax")
    same_seg = seg[1:] == seg[:-1]
    jump = (slopes[1:] - slopes[:-1]).abs().amax(1) if slopes.shape[1] else \
        torch.zeros(max(len(seg) - 1, 0), dtype=torch.float64, device=seg.device)
    change = same_seg & (jump > PIECE_RTOL * scale[seg[1:]])
    return 1 + torch.zeros(n, dtype=torch.int64, device=seg.device).index_add_(
        0, seg[1:], change.long())


def segment_counts(walk: LineWalk, a: torch.Tensor, b: torch.Tensor,
                   max_regions: int | None = None, task: Any = None
                   ) -> tuple[torch.Tensor, torch.Tensor, str | None]:
    """Regions and linear pieces of every segment ``a_i -> b_i``, walking the segments in
    batches sized from the points per segment seen so far.

    With budgets on ``walk`` (``max_regions`` here counts over all segments), a batch that
    runs out of regions is walked again one segment at a time, so every segment that fits is
    done; the segment that does not fit and the later ones get ``-1``; when time runs out the
    batch in progress is dropped. The third value is the layer where the budget ran out
    (``None``: all done). ``task`` advances per segment."""
    n = len(a)
    counts = torch.full((n,), -1, dtype=torch.int64, device=a.device)
    pieces = torch.full((n,), -1, dtype=torch.int64, device=a.device)
    lo, size, found = 0, 8, 0
    while lo < n:
        hi = min(n, lo + size)
        if max_regions is not None:
            walk.max_regions = max_regions - found
        try:
            if walk.spent_time():
                raise BudgetHit("between segments")
            cells, res = walk.run_points(a[lo:hi], b[lo:hi])
            got = torch.bincount(cells.seg, minlength=hi - lo) - 1
            pc = segment_pieces(walk, cells, res.out[:, 0], a[lo:hi], b[lo:hi])
        except BudgetHit as hit:
            if hi - lo > 1 and not walk.spent_time():   # the count ran out: go one by one,
                size = 1                                # so the segments that fit are done
                continue
            return counts, pieces, hit.layer
        counts[lo:hi], pieces[lo:hi] = got, pc
        found += int(got.sum())
        if task is not None:
            task.advance(hi - lo)
        per_segment = max(1, walk.peak // (hi - lo))
        lo, size = hi, max(1, min(4 * size, _BATCH_ELEMENTS // per_segment))
    return counts, pieces, None


def segment_maps(walk: LineWalk, cells: Breaks, out: torch.Tensor, a: torch.Tensor,
                 b: torch.Tensor, codes: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Slopes and intercepts ``(I, n_out)`` of the output on every interval of one segment.

    Difference quotients of the outputs at the breakpoints, except where their rounding-error
    bound exceeds ``1e-9`` of the largest slope: there the exact slope, from the recorded
    activation ``codes`` of the intervals when given (:meth:`LineWalk.interval_slopes`), else
    from a midpoint walk (:meth:`LineWalk.interval_maps`)."""
    t0, t1 = cells.t[:-1], cells.t[1:]
    slopes = (out[1:] - out[:-1]) / (t1 - t0)[:, None]
    inter = out[:-1] - slopes * t0[:, None]
    if out.shape[1] == 0 or len(t0) == 0:
        return slopes, inter
    noise = 2 * _VALUE_NOISE * float(out.abs().max()) / (t1 - t0)
    steep = slopes.abs().amax(1)
    scale = float((steep - noise).clamp(min=0.0).max())
    idx = torch.nonzero(noise > 1e-9 * scale).flatten()
    if idx.numel() and codes is not None:
        slopes[idx] = walk.interval_slopes(a, b, cells.seg[idx], codes[idx])
        inter[idx] = out[idx] - slopes[idx] * t0[idx, None]
    elif idx.numel():
        maps = walk.interval_maps(a, b, cells.seg[idx], t0[idx], t1[idx])
        slopes[idx] = maps.out[:, 0]
        inter[idx] = maps.out[:, 1] - maps.out[:, 0] * (0.5 * (t0 + t1))[idx, None]
    return slopes, inter


def segment_pieces(walk: LineWalk, cells: Breaks, out: torch.Tensor, a: torch.Tensor,
                   b: torch.Tensor) -> torch.Tensor:
    """Linear pieces per segment from the outputs ``(P, n_out)`` at the breakpoints.

    Slopes are difference quotients of the outputs; each carries a rounding-error bound (the
    output's error over the interval's length). Where the bounds leave a piece decision or a
    segment's largest slope in doubt, the slopes of those intervals are recomputed exactly by
    a midpoint walk (:meth:`LineWalk.interval_maps`); then the decision is the per-region
    path's (:func:`count_pieces`).
    """
    n = len(a)
    k = cells.pairs()
    seg = cells.seg[k]
    if out.shape[1] == 0 or len(k) == 0:
        return count_pieces(seg, out[k], n)
    t0, t1 = cells.t[k], cells.t[k + 1]
    slopes = (out[k + 1] - out[k]) / (t1 - t0)[:, None]
    big = torch.zeros(n, dtype=torch.float64, device=out.device).scatter_reduce(
        0, cells.seg, out.abs().amax(1), "amax")
    noise = 2 * _VALUE_NOISE * big[seg] / (t1 - t0)
    steep = slopes.abs().amax(1)
    zero = torch.zeros(n, dtype=torch.float64, device=out.device)
    lo = zero.scatter_reduce(0, seg, (steep - noise).clamp(min=0.0), "amax")
    hi = zero.scatter_reduce(0, seg, steep + noise, "amax")
    same = seg[1:] == seg[:-1]
    jump = (slopes[1:] - slopes[:-1]).abs().amax(1)
    err = noise[1:] + noise[:-1]
    sure = (jump - err > PIECE_RTOL * hi[seg[1:]]) | (jump + err <= PIECE_RTOL * lo[seg[1:]])
    doubt = torch.zeros(len(k), dtype=torch.bool, device=out.device)
    doubt[1:] |= same & ~sure
    doubt[:-1] |= same & ~sure
    unsure_seg = torch.zeros(n, dtype=torch.bool, device=out.device)
    unsure_seg[seg[doubt]] = True
    doubt |= unsure_seg[seg] & (steep + noise > lo[seg])     # candidates for the scale
    idx = torch.nonzero(doubt).flatten()
    if idx.numel():
        maps = walk.interval_maps(a, b, seg[idx], t0[idx], t1[idx])
        slopes[idx] = maps.out[:, 0]
    return count_pieces(seg, slopes, n)


# ----------------------------------------------------------------------------- reference


def per_region(walk: Walk, a: torch.Tensor, b: torch.Tensor
               ) -> tuple[Intervals, WalkResult]:
    """The per-region path: every interval carries its affine map through the graph and
    every unit cuts the intervals it crosses, one unit at a time. Much slower than
    :class:`LineWalk`; kept as an independent oracle for tests and the benchmark."""
    cells = Intervals(len(a), a.device)
    res = walk.run(torch.stack([b - a, a], dim=1), cells)
    order = torch.argsort(cells.t0, stable=True)
    order = order[torch.argsort(cells.seg[order], stable=True)]
    cells.index(order)
    res.out, res.codes = res.out[order], res.codes[order]
    return cells, res
