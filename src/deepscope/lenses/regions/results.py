"""Result types of the regions lens (see :mod:`deepscope.lenses.regions`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from deepscope.lenses._result import Tidy
from deepscope.errors import param_error

__all__ = ["ActivationPatterns", "RegionCost", "SegmentRegions", "SegmentsRegions", "PlaneRegions"]


def _code_strings(codes: np.ndarray) -> list[str]:
    """Rows of a bool array as '0'/'1' strings."""
    if codes.shape[1] == 0:
        return [""] * len(codes)
    chars = np.where(codes, ord("1"), ord("0")).astype(np.uint8)
    return [row.tobytes().decode("ascii") for row in chars]


@dataclass(frozen=True, eq=False)
class ActivationPatterns(Tidy):
    """On/off codes of every piecewise-linear unit for every input.

    Attributes:
        codes: ``(n, n_units)`` bool tensor on the inputs' device: ReLU/LeakyReLU units are
            on when their pre-activation is > 0; a max-pool window contributes one column per
            window position, true at the position it selects (the first maximum).
        layers: layer name -> slice of the columns of ``codes``, in graph order.
        lens: ``"regions.activation_patterns"``.
    """

    _metrics = ('n_units', 'n_patterns', 'active_fraction', 'dead_units')

    codes: torch.Tensor
    layers: dict[str, slice]
    lens: str = "regions.activation_patterns"

    def layer(self, name: str) -> torch.Tensor:
        """The ``(n, units)`` codes of one layer."""
        if name not in self.layers:
            known = ", ".join(repr(k) for k in self.layers)
            raise param_error("name", "ActivationPatterns.layer", f"one of ({known})", name)
        return self.codes[:, self.layers[name]]

    def to_frame(self) -> pd.DataFrame:
        """One row per layer: ``layer, n_units, n_patterns`` (distinct codes of that layer
        over the inputs), ``active_fraction`` and ``dead_units`` (never on)."""
        rows = []
        for name, sl in self.layers.items():
            c = self.codes[:, sl]
            rows.append({
                "layer": name, "n_units": c.shape[1],
                "n_patterns": int(torch.unique(c, dim=0).shape[0]) if len(c) else 0,
                "active_fraction": float(c.double().mean()) if c.numel() else float("nan"),
                "dead_units": int((~c.any(0)).sum()),
            })
        return pd.DataFrame(rows, columns=["layer", "n_units", "n_patterns",
                                           "active_fraction", "dead_units"])


@dataclass(frozen=True, eq=False)
class SegmentRegions(Tidy):
    """The exact activation regions of a network along the segment ``x(t) = a + t (b - a)``.

    Attributes:
        breakpoints: sorted ``t`` in (0, 1) where the activation pattern changes.
        layers: layer name of the unit that switches at each breakpoint.
        units: index (within its layer's columns) of that unit.
        count: number of activation regions (``len(breakpoints) + 1``).
        pieces: number of linear pieces of the output (adjacent regions whose affine maps
            agree within the tolerance merged); -1 when not computed (``maps=False``).
        length: ``||b - a||``.
        starts: ``(count,)`` start ``t`` of each region (the first is 0).
        affine: ``(count, n_out, 2)``: on region ``i`` the output is
            ``affine[i, :, 0] * t + affine[i, :, 1]`` (``n_out = 0`` with ``maps=False``).
        codes: ``(count, n_units)`` bool activation code of each region.
        rtol: the tolerance used.
        complete: ``False`` when ``max_regions`` or ``time_limit`` stopped the walk: then
            ``breakpoints``/``count`` are those of the layers walked up to ``stopped_at``
            (a lower bound on the true count), ``pieces`` is -1 and ``affine``/``codes``
            are empty.
        stopped_at: the layer after whose cuts the budget was hit (``""`` if complete).
        max_regions: the budget given (``None``: none).
        time_limit: the time budget given, seconds (``None``: none).
        lens: ``"regions.regions_on_segment"``. ``tidy()``: ``layer`` is ``""`` (the whole
            model), key ``region``.
    """

    _metrics = ('t_start', 't_end', 'unit', 'slope')
    _layer = None
    _keys = ('region',)

    breakpoints: np.ndarray
    layers: tuple[str, ...]
    units: np.ndarray
    count: int
    pieces: int
    length: float
    starts: np.ndarray
    affine: np.ndarray
    codes: np.ndarray
    rtol: float
    complete: bool = True
    stopped_at: str = ""
    max_regions: int | None = None
    time_limit: float | None = None
    lens: str = "regions.regions_on_segment"

    def to_frame(self) -> pd.DataFrame:
        """One row per region: ``region, t_start, t_end, layer, unit`` (the unit whose switch
        starts the region; empty for the first) and ``slope`` of the first output."""
        ends = np.append(self.starts[1:], 1.0)
        return pd.DataFrame({
            "region": np.arange(self.count), "t_start": self.starts, "t_end": ends,
            "layer": ["", *self.layers], "unit": np.append(-1, self.units),
            "slope": self.affine[:, 0, 0] if self.affine.shape[1] else np.nan,
        })


@dataclass(frozen=True, eq=False)
class SegmentsRegions(Tidy):
    """Activation regions and linear pieces along many segments ``a_i -> b_i`` at once.

    Attributes:
        counts: ``(n,)`` activation regions per segment (``-1``: not walked, the budget ran
            out first).
        pieces: ``(n,)`` linear pieces of the output per segment (``-1`` likewise).
        lengths: ``(n,)`` segment lengths ``||b_i - a_i||``.
        rtol: the tolerance used.
        complete: ``False`` when ``max_regions`` or ``time_limit`` stopped the work: the
            segments in ``done`` keep exact counts, the others are ``-1``.
        stopped_at: the layer where the budget ran out (``""`` if complete).
        max_regions: the budget given (``None``: none).
        time_limit: the time budget given, seconds (``None``: none).
        lens: ``"regions.regions_on_segments"``. ``tidy()``: ``layer`` is ``""``, key ``segment``.
    """

    _metrics = ('length', 'count', 'pieces', 'regions_per_length')
    _layer = None
    _keys = ('segment',)

    counts: np.ndarray
    pieces: np.ndarray
    lengths: np.ndarray
    rtol: float
    complete: bool = True
    stopped_at: str = ""
    max_regions: int | None = None
    time_limit: float | None = None
    lens: str = "regions.regions_on_segments"

    @property
    def done(self) -> np.ndarray:
        """``(n,)`` bool: the segments walked to the end (all, when ``complete``)."""
        return self.counts >= 0

    def to_frame(self) -> pd.DataFrame:
        """One row per segment: ``segment, length, count, pieces, regions_per_length``
        (``count / length``; NaN for a zero-length segment)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            density = np.where((self.lengths > 0) & self.done, self.counts / self.lengths,
                               np.nan)
        return pd.DataFrame({"segment": np.arange(len(self.counts)), "length": self.lengths,
                             "count": self.counts, "pieces": self.pieces,
                             "regions_per_length": density})


@dataclass(frozen=True, eq=False)
class PlaneRegions(Tidy):
    """The exact partition of a 2-D slice ``origin + u d_0 + v d_1`` of input space.

    Attributes:
        count: number of regions.
        polygons: per region a ``(k, 2)`` float64 array of vertices ``(u, v)``,
            counter-clockwise.
        codes: ``(count, n_units)`` bool activation code of each region (all distinct).
        areas: ``(count,)`` areas in plane units (they sum to the box).
        affine: ``(count, n_out, 3)``: on region ``i`` the output is
            ``affine[i, :, :2] @ (u, v) + affine[i, :, 2]``.
        boundary: per region an ``(m, 2, 2)`` array of decision-boundary segments inside it
            (``logit = 0`` for one output, a change of argmax for several); empty when the
            boundary was not computed.
        bounds: ``(u0, u1, v0, v1)``.
        layers: layer name -> slice of the columns of ``codes``.
        rtol: the tolerance used.
        complete: ``False`` when ``max_regions`` or ``time_limit`` stopped the walk: the
            polygons are then the cells cut by the layers walked (and part of the layer at
            ``stopped_at``), a partition of the box whose ``count`` is a lower bound;
            ``codes``/``layers`` cover the layers walked to the end; ``affine`` has no
            outputs and ``predicted`` is ``-1``.
        stopped_at: the layer where the budget ran out (``""`` if complete).
        max_regions: the budget given (``None``: none).
        time_limit: the time budget given, seconds (``None``: none).
        lens: ``"regions.regions_in_plane"``. ``tidy()``: ``layer`` is ``""``, key ``region``.
    """

    _metrics = ('area', 'n_vertices', 'centroid_u', 'centroid_v', 'predicted', 'boundary_length')
    _layer = None
    _keys = ('region',)

    count: int
    polygons: list[np.ndarray]
    codes: np.ndarray
    areas: np.ndarray
    affine: np.ndarray
    boundary: list[np.ndarray]
    bounds: tuple[float, float, float, float]
    layers: dict[str, slice] = field(default_factory=dict)
    rtol: float = 1e-9
    complete: bool = True
    stopped_at: str = ""
    max_regions: int | None = None
    time_limit: float | None = None
    lens: str = "regions.regions_in_plane"

    def centroids(self) -> np.ndarray:
        """``(count, 2)`` mean vertex of each region (inside it: regions are convex)."""
        return np.array([p.mean(0) for p in self.polygons]).reshape(-1, 2)

    def predicted(self) -> np.ndarray:
        """``(count,)`` class at each region's centroid: ``logit > 0`` for one output, the
        argmax for several."""
        if self.affine.shape[1] == 0:                   # a partial walk: no outputs
            return np.full(self.count, -1, dtype=np.int64)
        c = self.centroids()
        z = np.einsum("rok,rk->ro", self.affine[:, :, :2], c) + self.affine[:, :, 2]
        if z.shape[1] == 1:
            return (z[:, 0] > 0).astype(np.int64)
        return z.argmax(1)

    def to_frame(self) -> pd.DataFrame:
        """One row per region: ``region, area, n_vertices, centroid_u, centroid_v, code``
        (``'0'/'1'`` string), ``predicted`` (class at the centroid), ``boundary_length``."""
        c = self.centroids()
        blen = [float(np.linalg.norm(b[:, 1] - b[:, 0], axis=1).sum()) if len(b) else 0.0
                for b in self.boundary] if self.boundary else [0.0] * self.count
        return pd.DataFrame({
            "region": np.arange(self.count), "area": self.areas,
            "n_vertices": np.array([len(p) for p in self.polygons], dtype=np.int64),
            "centroid_u": c[:, 0], "centroid_v": c[:, 1],
            "code": _code_strings(self.codes), "predicted": self.predicted(),
            "boundary_length": blen,
        })


@dataclass(frozen=True, eq=False)
class RegionCost(Tidy):
    """An estimate of what :func:`~deepscope.lenses.regions.regions_on_segment` or
    :func:`~deepscope.lenses.regions.regions_in_plane` will cost.

    Attributes:
        regions: estimated regions on the whole segment (or in the whole box).
        low: lower end of the band (the estimate minus two standard errors across probes).
        high: upper end of the band.
        seconds: estimated time of the walk (on a segment, the exact output maps after it
            cost about as much again on nets with many short regions).
        probe_seconds: what the estimate itself took.
        probes: probe pieces (or probe centres of a plane) walked; fewer than asked when
            ``plane_cost``'s time limit stopped it.
        fraction: length of each probe relative to the segment (side of each probe box
            relative to the box's sides).
        lens: ``"regions.segment_cost"`` or ``"regions.plane_cost"``. ``tidy()``: ``layer`` is
            ``""``, the three region numbers (the times vary run to run: they are in
            ``to_frame()`` only).
    """

    _metrics = ('regions', 'low', 'high')      # times are in to_frame(), not stored metrics
    _layer = None
    _keys = ()

    regions: float
    low: float
    high: float
    seconds: float
    probe_seconds: float
    probes: int
    fraction: float
    lens: str = "regions.segment_cost"

    def to_frame(self) -> pd.DataFrame:
        """One row: ``regions, low, high, seconds, probe_seconds, probes, fraction``."""
        return pd.DataFrame([{"regions": self.regions, "low": self.low, "high": self.high,
                              "seconds": self.seconds, "probe_seconds": self.probe_seconds,
                              "probes": self.probes, "fraction": self.fraction}])
