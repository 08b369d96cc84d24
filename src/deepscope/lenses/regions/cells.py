"""Cells of an exact partition: points, intervals of segments and convex polygons of a plane.

A set of cells is what the graph walker of :mod:`deepscope.lenses.regions.trace` cuts.
Every cell carries an affine parametrisation of the input, so every value of the network is
an affine function of the cell coordinates (``t`` on a segment, ``(u, v)`` in a plane). A
line (an affine function ``coef``, shape ``(R, K)`` with the constant last) is evaluated at
the vertices of every cell at once; cells are split or clipped all together with padded
arrays, never with a Python loop per cell.

Tolerance policy (shared by every cell kind). The value ``s`` of a line at a vertex ``p`` is
*zero* when ``|s| <= rtol * (sum_i |a_i p_i| + |c|)``, i.e. relative to the size of the
terms that make it up (the rounding error of a float64 evaluation is a few ulps of that).
A cell is *cut* only when one of its vertices is strictly positive and another strictly
negative: a line that touches a cell (a vertex or an edge on the line, the rest on one side)
does not cut it, and a line through a vertex splits a polygon at that vertex without a
duplicate point. A unit is *on* in a cell when some vertex is strictly positive; a unit that
is zero on the whole cell (dead, or bias-free at the origin of a segment) is off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["Points", "Intervals", "Polygons", "cut_layer", "signs"]


def signs(values: torch.Tensor, scale: torch.Tensor, rtol: float) -> torch.Tensor:
    """-1, 0, +1 of ``values`` with zero meaning ``|value| <= rtol * scale``."""
    out = torch.sign(values).to(torch.int8)
    return out.masked_fill(values.abs() <= rtol * scale, 0)


#: Elements of the ``(cells, vertices, units)`` sign array evaluated at once.
_CHUNK = 1 << 22


class _Buffer:
    """A tensor that grows along dim 0 with spare capacity (amortised O(1) appends)."""

    def __init__(self, t: torch.Tensor) -> None:
        self.data, self.n = t, len(t)

    @property
    def t(self) -> torch.Tensor:
        return self.data[:self.n]

    def append(self, rows: torch.Tensor) -> None:
        need = self.n + len(rows)
        if need > len(self.data):
            new = torch.empty((max(need, 2 * len(self.data)), *self.data.shape[1:]),
                              dtype=self.data.dtype, device=self.data.device)
            new[:self.n] = self.t
            self.data = new
        self.data[self.n:need] = rows
        self.n = need


def cut_layer(cells: Any, z: torch.Tensor, off: int, rtol: float,
              stop: Callable[[], bool] | None = None
              ) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Cut ``cells`` by the zero line of every unit of a layer, one unit after the other.

    ``z`` ``(R, K, n)`` are the layer's pre-activations on the current cells. A unit can only
    cut the descendants of the cells its line crossed before the layer, so each unit's cut
    looks at those candidates only. Children keep their parent's index (the positive side)
    or are appended (the negative side).

    ``stop``, when given, is asked every 16 units whether a budget is spent; then the layer
    is left part-cut (the cells so far are still a partition, by some of the units).

    Returns:
        ``(ancestor, on)``: for every cell after the layer the index of the cell it came
        from (``None`` when nothing was cut) and ``(cells, n)`` bool unit states.
    """
    hit, on = cells.sides(z, rtol)
    if cells.k == 0 or not bool(hit.any()):
        return None, on
    anc = _Buffer(torch.arange(len(z), device=z.device))
    states = _Buffer(on)
    for i, j in enumerate(torch.nonzero(hit.any(0)).flatten().tolist()):
        if stop is not None and i % 16 == 15 and stop():
            break
        cand = torch.nonzero(hit[anc.t, j]).flatten()
        if cand.numel() == 0:
            continue
        cut, pos = cells.cut_subset(cand, z[anc.t[cand], :, j], off + j, rtol)
        states.t[cand, j] = pos
        new = cand[cut]
        if new.numel():
            anc.append(anc.t[new])
            extra = states.t[new]
            extra[:, j] = False
            states.append(extra)
    return anc.t, states.t


class Points:
    """Single input points (``K = 1``: only the constant column): nothing is ever cut."""

    k = 0

    def __init__(self, n: int, device: torch.device) -> None:
        self.n = n
        self.device = device

    def sides(self, z: torch.Tensor, rtol: float) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: ARG002
        """No unit crosses a point; a unit is on where it is strictly positive."""
        pos = z[:, -1] > 0
        return torch.zeros_like(pos), pos

    def clip(self, coef: torch.Tensor, strict: torch.Tensor, label: Any,  # noqa: ARG002
             rtol: float = 0.0) -> torch.Tensor:  # noqa: ARG002
        c = coef[:, -1]
        keep = torch.where(strict, c > 0, c >= 0)
        return torch.nonzero(keep).flatten()

    def index(self, parent: torch.Tensor) -> None:
        self.n = int(parent.numel())


class Intervals:
    """Intervals ``[t0, t1]`` of segments; ``seg`` is the segment of each interval.

    ``label`` is, per interval, the code column that created its left end point, ``-1``
    for the start of a segment.
    """

    k = 1

    def __init__(self, n: int, device: torch.device) -> None:
        self._b = {
            "t0": _Buffer(torch.zeros(n, dtype=torch.float64, device=device)),
            "t1": _Buffer(torch.ones(n, dtype=torch.float64, device=device)),
            "seg": _Buffer(torch.arange(n, device=device)),
            "label": _Buffer(torch.full((n,), -1, dtype=torch.int64, device=device)),
        }
        self.device = device

    def __getattr__(self, name: str) -> torch.Tensor:
        buffers = self.__dict__.get("_b", {})
        if name in buffers:
            return buffers[name].t
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__.get("_b", {}):
            self._b[name] = _Buffer(value)
        else:
            super().__setattr__(name, value)

    @property
    def n(self) -> int:
        return int(self.t0.numel())

    def index(self, parent: torch.Tensor) -> None:
        self.t0, self.t1 = self.t0[parent], self.t1[parent]
        self.seg, self.label = self.seg[parent], self.label[parent]

    @staticmethod
    def _signs(a: torch.Tensor, c: torch.Tensor, t0: torch.Tensor, t1: torch.Tensor,
               rtol: float) -> tuple[torch.Tensor, torch.Tensor]:
        g0 = signs(a * t0 + c, (a * t0).abs() + c.abs(), rtol)
        g1 = signs(a * t1 + c, (a * t1).abs() + c.abs(), rtol)
        return g0, g1

    def sides(self, z: torch.Tensor, rtol: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``(R, n)`` masks: the unit's line crosses the interval; the unit is on in it."""
        g0, g1 = self._signs(z[:, 0], z[:, 1], self.t0[:, None], self.t1[:, None], rtol)
        return g0 * g1 < 0, (g0 > 0) | (g1 > 0)

    def cut_subset(self, idx: torch.Tensor, coef: torch.Tensor, label: int, rtol: float
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """Split the intervals ``idx`` the lines ``coef`` ``(C, 2)`` cross strictly: the
        positive side stays at its index, the negative side is appended (in order).

        Returns ``(cut, on)`` over ``idx``: split or not; the line is positive somewhere."""
        a, c = coef[:, 0], coef[:, 1]
        t0, t1 = self.t0[idx], self.t1[idx]
        g0, g1 = self._signs(a, c, t0, t1, rtol)
        cut = g0 * g1 < 0
        on = (g0 > 0) | (g1 > 0)
        k = torch.nonzero(cut).flatten()
        if k.numel() == 0:
            return cut, on
        rows = idx[k]
        t = (-c[k] / a[k]).clamp(min=t0[k], max=t1[k])
        rising = g1[k] > 0           # negative on [t0, t], positive on [t, t1]
        old_label = self.label[rows]
        lab = torch.full_like(old_label, label)
        self._b["t0"].append(torch.where(rising, t0[k], t))
        self._b["t1"].append(torch.where(rising, t, t1[k]))
        self._b["seg"].append(self.seg[rows])
        self._b["label"].append(torch.where(rising, old_label, lab))
        self.t0[rows] = torch.where(rising, t, t0[k])
        self.t1[rows] = torch.where(rising, t1[k], t)
        self.label[rows] = torch.where(rising, lab, old_label)
        return cut, on

    def clip(self, coef: torch.Tensor, strict: torch.Tensor, label: Any,
             rtol: float = 1e-9) -> torch.Tensor:
        """Keep the part of every interval where the line is >= 0 (> 0 where ``strict``:
        empty when the line is zero on the whole interval); return the parents."""
        a, c = coef[:, 0], coef[:, 1]
        g0, g1 = self._signs(a, c, self.t0, self.t1, rtol)
        whole = (g0 >= 0) & (g1 >= 0) & ~(strict & (g0 == 0) & (g1 == 0))
        left = (g0 > 0) & (g1 < 0)
        right = (g0 < 0) & (g1 > 0)
        keep = whole | left | right
        t = torch.where(left | right, -c / torch.where(a == 0, 1.0, a), self.t0)
        t = torch.minimum(torch.maximum(t, self.t0), self.t1)
        self.t1 = torch.where(left, t, self.t1)
        self.label = torch.where(right, label, self.label)
        self.t0 = torch.where(right, t, self.t0)
        parent = torch.nonzero(keep).flatten()
        self.index(parent)
        return parent


class Polygons:
    """Convex polygons in a plane, counter-clockwise, as padded vertex arrays.

    ``verts`` is ``(R, M, 2)`` float64 and ``nv`` ``(R,)`` the number of valid vertices of
    each polygon; entries past ``nv`` repeat the last vertex.
    """

    k = 2

    def __init__(self, bounds: tuple[float, float, float, float], device: torch.device) -> None:
        u0, u1, v0, v1 = bounds
        box = [[u0, v0], [u1, v0], [u1, v1], [u0, v1]]
        self._verts = _Buffer(torch.tensor([box], dtype=torch.float64, device=device))
        self._nv = _Buffer(torch.tensor([4], dtype=torch.int64, device=device))
        self.device = device

    @property
    def verts(self) -> torch.Tensor:
        return self._verts.t

    @verts.setter
    def verts(self, value: torch.Tensor) -> None:
        self._verts = _Buffer(value)

    @property
    def nv(self) -> torch.Tensor:
        return self._nv.t

    @nv.setter
    def nv(self, value: torch.Tensor) -> None:
        self._nv = _Buffer(value)

    @property
    def n(self) -> int:
        return int(self.nv.numel())

    def index(self, parent: torch.Tensor) -> None:
        self.verts, self.nv = self.verts[parent], self.nv[parent]

    def _valid(self, verts: torch.Tensor, nv: torch.Tensor) -> torch.Tensor:
        return torch.arange(verts.shape[1], device=self.device) < nv[:, None]

    @staticmethod
    def _eval(verts: torch.Tensor, coef: torch.Tensor, rtol: float
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Values ``(R, M)`` of the lines at the vertices and their tolerant signs."""
        au = coef[:, 0:1] * verts[..., 0]
        bv = coef[:, 1:2] * verts[..., 1]
        s = au + bv + coef[:, 2:3]
        return s, signs(s, au.abs() + bv.abs() + coef[:, 2:3].abs(), rtol)

    def sides(self, z: torch.Tensor, rtol: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``(R, n)`` masks: the unit's line crosses the polygon; the unit is on in it."""
        r, m = self.verts.shape[:2]
        n = z.shape[2]
        hit = torch.empty(r, n, dtype=torch.bool, device=self.device)
        on = torch.empty(r, n, dtype=torch.bool, device=self.device)
        step = max(1, _CHUNK // max(1, m * n))
        for lo in range(0, r, step):
            v = self.verts[lo:lo + step]
            zz = z[lo:lo + step]
            au = zz[:, None, 0, :] * v[..., 0:1]
            bv = zz[:, None, 1, :] * v[..., 1:2]
            g = signs(au + bv + zz[:, None, 2, :], au.abs() + bv.abs() + zz[:, None, 2, :].abs(),
                      rtol)
            valid = self._valid(v, self.nv[lo:lo + step])[..., None]
            pos = ((g > 0) & valid).any(1)
            on[lo:lo + step] = pos
            hit[lo:lo + step] = pos & ((g < 0) & valid).any(1)
        return hit, on

    def _slots(self, verts: torch.Tensor, nv: torch.Tensor, s: torch.Tensor, g: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Vertices interleaved with the crossing points of their outgoing edges.

        Returns ``(points (R, 2M, 2), valid vertex mask (R, M), crossing mask (R, M))``.
        """
        m = verts.shape[1]
        ar = torch.arange(m, device=self.device)
        valid = ar < nv[:, None]
        nxt = torch.where(ar + 1 < nv[:, None], ar + 1, 0)
        s_n = torch.gather(s, 1, nxt)
        g_n = torch.gather(g, 1, nxt)
        v_n = torch.gather(verts, 1, nxt[..., None].expand(-1, -1, 2))
        cross = valid & (g.to(torch.int16) * g_n < 0)
        frac = torch.where(cross, s / torch.where(cross, s - s_n, 1.0), 0.0)
        pts = verts + frac[..., None] * (v_n - verts)
        return torch.stack([verts, pts], dim=2).reshape(len(verts), 2 * m, 2), valid, cross

    @staticmethod
    def _compact(pts: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Move the kept slots of every row to the front, in order; pad with the last."""
        count = keep.sum(1)
        width = max(int(count.max()) if count.numel() else 0, 1)
        pos = torch.cumsum(keep, 1) - 1
        pos = torch.where(keep, pos, width)                      # dropped -> overflow slot
        out = torch.zeros(len(pts), width + 1, 2, dtype=pts.dtype, device=pts.device)
        out.scatter_(1, pos[..., None].expand(-1, -1, 2), pts)
        out = out[:, :width]
        last = (count - 1).clamp(min=0)
        fill = torch.gather(out, 1, last[:, None, None].expand(-1, 1, 2))
        pad = torch.arange(width, device=pts.device) >= count[:, None]
        return torch.where(pad[..., None], fill, out), count

    @staticmethod
    def _pad(verts: torch.Tensor, width: int) -> torch.Tensor:
        if verts.shape[1] >= width:
            return verts[:, :width]
        extra = verts[:, -1:].expand(-1, width - verts.shape[1], -1)
        return torch.cat([verts, extra], dim=1)

    def cut_subset(self, idx: torch.Tensor, coef: torch.Tensor, label: int,  # noqa: ARG002
                   rtol: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Split the polygons ``idx`` the lines ``coef`` ``(C, 3)`` cross strictly: the
        positive side stays at its index, the negative side is appended (in order).

        Returns ``(cut, on)`` over ``idx``: split or not; the line is positive somewhere."""
        vc, nc = self.verts[idx], self.nv[idx]
        s, g = self._eval(vc, coef, rtol)
        valid = self._valid(vc, nc)
        on = ((g > 0) & valid).any(1)
        cut = on & ((g < 0) & valid).any(1)
        k = torch.nonzero(cut).flatten()
        if k.numel() == 0:
            return cut, on
        vc, nc, s, g = vc[k], nc[k], s[k], g[k]
        pts, vmask, cross = self._slots(vc, nc, s, g)
        keep_pos = torch.stack([vmask & (g >= 0), cross], dim=2).reshape(len(k), -1)
        keep_neg = torch.stack([vmask & (g <= 0), cross], dim=2).reshape(len(k), -1)
        pos, n_pos = self._compact(pts, keep_pos)
        neg, n_neg = self._compact(pts, keep_neg)
        width = max(self.verts.shape[1], pos.shape[1], neg.shape[1])
        if width > self.verts.shape[1]:
            self.verts = self._pad(self.verts, width)
        rows = idx[k]
        self.verts[rows] = self._pad(pos, width)
        self._verts.append(self._pad(neg, width))
        self.nv[rows] = n_pos
        self._nv.append(n_neg)
        return cut, on

    def clip(self, coef: torch.Tensor, strict: torch.Tensor, label: Any,  # noqa: ARG002
             rtol: float = 1e-9) -> torch.Tensor:
        """Keep the part of every polygon where the line is >= 0 (> 0 where ``strict``:
        empty when the line is zero on the whole polygon); drop empty parts; return parents."""
        s, g = self._eval(self.verts, coef, rtol)
        valid = self._valid(self.verts, self.nv)
        pts, vmask, cross = self._slots(self.verts, self.nv, s, g)
        keep = torch.stack([vmask & (g >= 0), cross], dim=2).reshape(self.n, -1)
        verts, count = self._compact(pts, keep)
        zero = ~((g != 0) & valid).any(1)
        alive = (count >= 3) & ~(strict & zero)
        parent = torch.nonzero(alive).flatten()
        self.verts, self.nv = verts[parent], count[parent]
        return parent

    def chords(self, coef: torch.Tensor, rtol: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The segment where each line meets each polygon: ``(R, 2, 2)`` and a mask of the
        polygons where it has positive length (a touch at one vertex is no segment)."""
        s, g = self._eval(self.verts, coef, rtol)
        pts, vmask, cross = self._slots(self.verts, self.nv, s, g)
        cand = torch.stack([vmask & (g == 0), cross], dim=2).reshape(self.n, -1)
        direction = torch.stack([-coef[:, 1], coef[:, 0]], dim=1)
        proj = (pts * direction[:, None, :]).sum(-1)
        lo = torch.where(cand, proj, torch.inf).argmin(1)
        hi = torch.where(cand, proj, -torch.inf).argmax(1)
        rows = torch.arange(self.n, device=self.device)
        seg = torch.stack([pts[rows, lo], pts[rows, hi]], dim=1)
        length = (seg[:, 1] - seg[:, 0]).norm(dim=1)
        extent = self.verts.abs().amax(dim=(1, 2)) + 1.0
        ok = (cand.sum(1) >= 2) & (length > 1e3 * rtol * extent) & ((g != 0) & vmask).any(1)
        return seg, ok

    def areas(self) -> torch.Tensor:
        """Shoelace areas (positive for counter-clockwise polygons)."""
        m = self.verts.shape[1]
        ar = torch.arange(m, device=self.device)
        valid = ar < self.nv[:, None]
        nxt = torch.where(ar + 1 < self.nv[:, None], ar + 1, 0)
        x, y = self.verts[..., 0], self.verts[..., 1]
        cross = x * torch.gather(y, 1, nxt) - torch.gather(x, 1, nxt) * y
        return 0.5 * torch.where(valid, cross, 0.0).sum(1)
