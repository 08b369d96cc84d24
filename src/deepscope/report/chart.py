"""Interactive scatter/line charts as inline SVG, generated in Python for the HTML report.

The SVG holds axes, ticks, grid, one polyline and one ``<circle>`` per point for each
series, a colour bar (when points carry colour values) and a legend. Every point has its
hover text in ``data-tip``; the report's small script shows it as a tooltip and lets the
legend toggle series. Styling is in presentation attributes, so the SVG also renders on
its own (``figures/<name>.svg``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

from deepscope.errors import DeepscopeTypeError, param_error

__all__ = ["Chart", "Series", "render_chart"]

_W, _H = 960, 540
_TOP, _BOTTOM, _LEFT = 20, 58, 76
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
            "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"


def _floats(values: Sequence[float], name: str, func: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise param_error(name, func, "a sequence of numbers", values) from None
    if arr.ndim != 1:
        raise param_error(name, func, "a one-dimensional sequence of numbers", values)
    return arr


@dataclass(frozen=True, eq=False)
class Series:
    """One named series of points of a :class:`Chart`.

    Args:
        name: Legend name, e.g. ``"layer3"``.
        x, y: Coordinates (non-finite points are not drawn).
        color: A value per point mapped through the chart's colour scale (e.g. the epoch);
            ``None`` draws points in the series' own colour.
        hover: Tooltip text per point; default ``"name · x=… · y=…"``.
        line: Join the points, in the given order, with a line.
    """

    name: str
    x: Sequence[float]
    y: Sequence[float]
    color: Sequence[float] | None = None
    hover: Sequence[str] | None = None
    line: bool = True

    def __post_init__(self) -> None:
        func = "Series"
        if not isinstance(self.name, str):
            raise param_error("name", func, "a str", self.name, type_error=True)
        x, y = _floats(self.x, "x", func), _floats(self.y, "y", func)
        if len(y) != len(x):
            raise param_error("y", func, f"as long as x ({len(x)})", f"length {len(y)}")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        if self.color is not None:
            color = _floats(self.color, "color", func)
            if len(color) != len(x):
                raise param_error("color", func, f"as long as x ({len(x)})",
                                  f"length {len(color)}")
            object.__setattr__(self, "color", color)
        if self.hover is not None:
            hover = tuple(str(h) for h in self.hover)
            if len(hover) != len(x):
                raise param_error("hover", func, f"as long as x ({len(x)})",
                                  f"length {len(hover)}")
            object.__setattr__(self, "hover", hover)
        if not isinstance(self.line, bool):
            raise param_error("line", func, "a bool", self.line, type_error=True)


@dataclass(frozen=True, eq=False)
class Chart:
    """An interactive chart for the report: series of points, optionally coloured.

    Args:
        x_label, y_label: Axis labels.
        series: The series to draw.
        color_label: Label of the colour bar (when any series has ``color``).
        log_color: Log-scaled colour bar (values <= 0 take the lowest colour).
        log_x: Logarithmic x axis (points with x <= 0 are not drawn).
    """

    x_label: str
    y_label: str
    series: list[Series]
    color_label: str = "epoch"
    log_color: bool = True
    log_x: bool = False

    def __post_init__(self) -> None:
        series = list(self.series) if isinstance(self.series, (list, tuple)) else None
        if series is None or not all(isinstance(s, Series) for s in series):
            raise DeepscopeTypeError(
                f"The 'series' parameter of Chart must be a list of Series. Got "
                f"{type(self.series).__name__}."
            )
        object.__setattr__(self, "series", series)

    @property
    def n_points(self) -> int:
        """Number of points drawn (finite, and x > 0 on a log x axis)."""
        return sum(int(_visible(s, self.log_x).sum()) for s in self.series)


def _visible(s: Series, log_x: bool) -> np.ndarray:
    ok = np.isfinite(s.x) & np.isfinite(s.y)
    return ok & (s.x > 0) if log_x else ok


# --------------------------------------------------------------------------- scales


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))


def _linear_ticks(lo: float, hi: float, target: int = 6) -> list[tuple[float, str]]:
    step = _nice_step(hi - lo, target)
    exponent = math.floor(math.log10(step) + 1e-9)
    quarter = exponent <= 0 and abs(step / 10.0**exponent - 2.5) < 1e-9
    digits = max(0, -exponent) + (1 if quarter else 0)
    first = math.ceil(lo / step - 1e-9)
    ticks = []
    for k in range(first, first + 100):
        v = k * step
        if v > hi + step * 1e-9:
            break
        text = f"{v:.{digits}f}" if abs(v) < 1e6 else f"{v:.3g}"
        ticks.append((v, "0" if float(text) == 0 else text))
    return ticks


def _log_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """Ticks for a log axis given the log10 range [lo, hi]; returns (log10 value, label)."""
    decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
    if len(decades) >= 4:
        stride = max(1, math.ceil(len(decades) / 8))
        return [(float(k), f"{10.0 ** k:g}") for k in decades[::stride]]
    for mults in ((1, 2, 5), (1, 3), (1,)):
        found = [(math.log10(m * 10.0**k), f"{m * 10.0**k:g}")
                 for k in range(math.floor(lo) - 1, math.ceil(hi) + 1) for m in mults]
        found = [t for t in found if lo - 1e-9 <= t[0] <= hi + 1e-9]
        if len(found) <= 8:
            break
    if len(found) >= 2:
        return found
    return [(math.log10(v), text) for v, text in _linear_ticks(10**lo, 10**hi, 4) if v > 0]


def _extent(values: np.ndarray, pad: float) -> tuple[float, float]:
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        half = 0.5 if lo == 0 else abs(lo) * 0.1
        return lo - half, hi + half
    return lo - pad * (hi - lo), hi + pad * (hi - lo)


class _ColorScale:
    """Maps colour values to viridis colours (log or linear)."""

    def __init__(self, values: np.ndarray, log: bool) -> None:
        from matplotlib import colormaps

        self.cmap = colormaps["viridis"]
        finite = values[np.isfinite(values)]
        positive = finite[finite > 0]
        self.log = bool(log and positive.size)
        data = np.log10(positive) if self.log else finite
        self.lo, self.hi = (float(data.min()), float(data.max())) if data.size else (0.0, 1.0)
        if self.hi <= self.lo:
            self.hi = self.lo + 1.0

    def unit(self, values: np.ndarray) -> np.ndarray:
        vals = np.asarray(values, dtype=np.float64)
        if self.log:
            vals = np.log10(np.maximum(vals, 10.0 ** self.lo))
        return np.clip((vals - self.lo) / (self.hi - self.lo), 0.0, 1.0)

    def hex(self, units: np.ndarray) -> list[str]:
        rgba = self.cmap(np.nan_to_num(units, nan=0.0))
        return ["#%02x%02x%02x" % tuple(int(round(c * 255)) for c in row[:3]) for row in rgba]

    def ticks(self) -> list[tuple[float, str]]:
        if self.log:
            return [((v - self.lo) / (self.hi - self.lo), t) for v, t in
                    _log_ticks(self.lo, self.hi)]
        return [((v - self.lo) / (self.hi - self.lo), t) for v, t in
                _linear_ticks(self.lo, self.hi, 5)]


# --------------------------------------------------------------------------- render


def _text(x: float, y: float, body: str, size: int = 12, anchor: str = "middle",
          extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="#333"{extra}>{escape(body)}</text>')


def _hover_texts(s: Series, chart: Chart, keep: np.ndarray) -> list[str]:
    if s.hover is not None:
        return [h for h, k in zip(s.hover, keep) if k]
    out = []
    for i in np.flatnonzero(keep):
        text = f"{s.name} · x={s.x[i]:.4g} · y={s.y[i]:.4g}"
        if s.color is not None:
            text += f" · {chart.color_label}={s.color[i]:.4g}"
        out.append(text)
    return out


def _short_name(name: str, room: int = 18) -> str:
    """A legend label of at most ``room`` characters: long names keep their start and their
    end (layer names such as ``features.3.conv.1`` and ``features.3.conv.2`` differ at the
    end), the middle elided; the full name is the item's tooltip."""
    if len(name) <= room:
        return name
    head = (room - 1) // 3
    return name[:head] + "…" + name[-(room - 1 - head):]


def _legend(chart: Chart, x0: float, y0: float, uid: str) -> list[str]:
    out, room = [], int((_H - _BOTTOM - y0) // 20)
    shown = chart.series if len(chart.series) <= room else chart.series[: max(room - 1, 0)]
    for k, s in enumerate(shown):
        y, color = y0 + 20 * k, _PALETTE[k % len(_PALETTE)]
        name = _short_name(s.name)
        out.append(
            f'<g class="legend-item" data-series="{k}" data-chart="{uid}" cursor="pointer">'
            f"<title>{escape(s.name)} (click to hide or show)</title>"
            f'<rect x="{x0 - 4:.1f}" y="{y - 12:.1f}" width="150" height="18" fill="#fff" '
            'fill-opacity="0"/>'
            f'<line x1="{x0}" y1="{y - 4}" x2="{x0 + 22}" y2="{y - 4}" stroke="{color}" '
            'stroke-width="2.5"/>'
            + _text(x0 + 30, y, name, 12, "start") + "</g>"
        )
    if len(shown) < len(chart.series):
        y = y0 + 20 * len(shown)
        out.append(_text(x0 + 30, y, f"+{len(chart.series) - len(shown)} more", 12, "start"))
    return out


def _colorbar(scale: _ColorScale, label: str, x0: float, uid: str) -> list[str]:
    top, height, width = _TOP + 22, 190, 14
    stops = "".join(
        f'<stop offset="{u:.3f}" stop-color="{c}"/>'
        for u, c in zip(np.linspace(0, 1, 17), scale.hex(np.linspace(1, 0, 17)))
    )
    out = [f'<defs><linearGradient id="{uid}-cbar" x1="0" y1="0" x2="0" y2="1">{stops}'
           "</linearGradient></defs>",
           _text(x0, _TOP + 8, label, 12, "start"),
           f'<rect x="{x0}" y="{top}" width="{width}" height="{height}" '
           f'fill="url(#{uid}-cbar)" stroke="#888" stroke-width="0.5"/>']
    for unit, text in scale.ticks():
        y = top + height * (1 - unit)
        out.append(f'<line x1="{x0 + width}" y1="{y:.1f}" x2="{x0 + width + 4}" '
                   f'y2="{y:.1f}" stroke="#555"/>')
        out.append(_text(x0 + width + 7, y + 4, text, 11, "start"))
    return out


def _end_label(name: str, k: int, x: float, y: float,
               placed: list[tuple[float, float, float, float]],
               box: tuple[float, float, float]) -> str:
    """The series name by its last point, moved up or down until it overlaps no other name.

    ``placed`` holds the boxes ``(left, right, top, bottom)`` of the names drawn so far.
    """
    right, top, bottom = box
    anchor, dx = ("end", -7) if x > right - 70 else ("start", 7)
    width, height = 6.6 * len(name) + 4, 13.0
    left = x + dx - width if anchor == "end" else x + dx

    def free(ty: float) -> bool:
        return all(left >= b[1] or left + width <= b[0] or ty - height >= b[3] or ty <= b[2]
                   for b in placed)

    base = min(max(y - 6, top + 12), bottom - 4)
    ty = base
    for step in range(1, 40):  # nearest free slot: base, +1, -1, +2, -2 ... lines
        if free(ty):
            break
        off = (step + 1) // 2 * height * (1 if step % 2 else -1)
        ty = min(max(base + off, top + 12), bottom - 4)
    placed.append((left, left + width, ty - height, ty))
    return _text(x + dx, ty, name, 11, anchor,
                 extra=f' class="lbl" data-series="{k}" stroke="#fff" stroke-width="3" '
                       'paint-order="stroke" pointer-events="none"')


def render_chart(chart: Chart, uid: str) -> str:
    """The chart as an ``<svg>`` element; ``uid`` makes its element ids unique on a page."""
    has_color = any(s.color is not None for s in chart.series)
    right = 190 if (has_color or len(chart.series) > 1) else 28
    x0, x1, y0, y1 = _LEFT, _W - right, _TOP, _H - _BOTTOM
    keeps = [_visible(s, chart.log_x) for s in chart.series]
    xs = [np.log10(s.x[k]) if chart.log_x else s.x[k] for s, k in zip(chart.series, keeps)]
    ys = [s.y[k] for s, k in zip(chart.series, keeps)]
    xlo, xhi = _extent(np.concatenate(xs) if xs else np.empty(0), 0.04)
    ylo, yhi = _extent(np.concatenate(ys) if ys else np.empty(0), 0.06)

    def px(v: np.ndarray) -> np.ndarray:
        return x0 + (np.asarray(v) - xlo) / (xhi - xlo) * (x1 - x0)

    def py(v: np.ndarray) -> np.ndarray:
        return y1 - (np.asarray(v) - ylo) / (yhi - ylo) * (y1 - y0)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" '
           f'class="chart-svg" id="{uid}" role="img" font-family="{escape(_FONT)}">',
           f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" fill="#fff" '
           'stroke="#bbb"/>']
    xticks = _log_ticks(xlo, xhi) if chart.log_x else _linear_ticks(xlo, xhi)
    for v, text in xticks:
        x = float(px(v))
        out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y1}" stroke="#eee"/>')
        out.append(_text(x, y1 + 18, text, 12))
    for v, text in _linear_ticks(ylo, yhi):
        y = float(py(v))
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(_text(x0 - 8, y + 4, text, 12, "end"))
    out.append(_text((x0 + x1) / 2, _H - 14, chart.x_label, 13))
    ymid = (y0 + y1) / 2
    out.append(_text(18, ymid, chart.y_label, 13,
                     extra=f' transform="rotate(-90 18 {ymid:.1f})"'))
    scale = None
    if has_color:
        allc = np.concatenate([s.color for s in chart.series if s.color is not None])
        scale = _ColorScale(allc, chart.log_color)
    labels: list[str] = []  # drawn after every series, so no point hides a name
    placed: list[tuple[float, float, float, float]] = []
    for k, (s, keep, xv, yv) in enumerate(zip(chart.series, keeps, xs, ys)):
        color = _PALETTE[k % len(_PALETTE)]
        cx, cy = px(xv), py(yv)
        out.append(f'<g class="series" data-series="{k}">')
        if s.line and len(cx) > 1:
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(cx, cy))
            # With points coloured by value, the line carries the series colour the legend
            # shows: drawn wide enough to be seen between the points.
            out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" '
                       f'stroke-width="{2.4 if scale else 1.3}" stroke-opacity="0.9" '
                       'stroke-linejoin="round"/>')
        if scale is not None and s.color is not None:
            fills = scale.hex(scale.unit(s.color[keep]))
        else:
            fills = [color] * len(cx)
        for a, b, fill, tip in zip(cx, cy, fills, _hover_texts(s, chart, keep)):
            out.append(f'<circle class="pt" cx="{a:.1f}" cy="{b:.1f}" r="3.2" '
                       f'fill="{fill}" data-tip="{escape(tip)}"/>')
        out.append("</g>")
        if 1 < len(chart.series) <= 10 and len(cx):
            labels.append(_end_label(s.name, k, float(cx[-1]), float(cy[-1]), placed,
                                     (x1, y0, y1)))
    out.extend(labels)
    if chart.n_points == 0:
        out.append(_text((x0 + x1) / 2, ymid, "no data", 14))
    side = x1 + 22
    legend_top = _TOP + 10
    if scale is not None:
        out.extend(_colorbar(scale, chart.color_label, side, uid))
        legend_top = _TOP + 250
    if len(chart.series) > 1:
        out.extend(_legend(chart, side, legend_top, uid))
    out.append("</svg>")
    return "\n".join(out)
