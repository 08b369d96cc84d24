"""One self-contained HTML report per run.

The page holds the run's title and status, its config, run information (seeds, versions,
device, timings), figures with captions, a summary table and notes. It works offline:
the style, the small tooltip script, static images (base64 PNG) and interactive charts
(inline SVG generated in Python) are all embedded, and a Content-Security-Policy forbids
any network fetch. Every string that comes from a config or data is HTML-escaped.

Example:
    >>> import matplotlib.pyplot as plt
    >>> from deepscope.store import RunStore
    >>> run = RunStore(root="runs").create(study="demo", config={"lr": 0.1}, seeds=[0])
    >>> fig, ax = plt.subplots()
    >>> build_report(run, [Figure("demo", "A figure", image=fig)]).name
    'report.html'
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepscope.report.chart import Chart, Series, render_chart
from deepscope.errors import DeepscopeTypeError, param_error
from deepscope.store._run import _check_name, _write_atomic

__all__ = ["Chart", "Figure", "Series", "build_report"]

_MAX_SUMMARY_ROWS = 1000
_RUN_KEYS = ("study", "id", "status", "created", "started", "finished", "elapsed_s",
             "resumed", "seeds", "threads", "device", "host", "platform", "versions", "format",
             "error")
_HIDDEN_KEYS = frozenset({"config", "pid", "running_since"})
#: Labels a reader understands, for manifest keys.
_LABELS = {"elapsed_s": "time running", "threads": "torch threads", "format": "store format",
           "migrated_from": "migrated from store format",
           "train_and_measure_s": "training and measuring", "report_s": "report"}
#: Timings of the last process only (a resumed run's earlier processes are not in them).
_SEGMENT_KEYS = frozenset({"train_and_measure_s", "report_s"})


@dataclass(frozen=True, eq=False)
class Figure:
    """A figure of the report: a static matplotlib image and/or an interactive chart.

    Args:
        name: File name stem (``figures/<name>.png`` / ``.svg``): letters, digits, ``._-``.
        title: Heading shown above the figure.
        caption: Text shown below it.
        image: A matplotlib figure, embedded as PNG.
        chart: An interactive :class:`Chart`, embedded as SVG with tooltips.
    """

    name: str
    title: str
    caption: str = ""
    image: Any = None
    chart: Chart | None = None

    def __post_init__(self) -> None:
        func = "Figure"
        _check_name(self.name, "name", func)
        for field in ("title", "caption"):
            if not isinstance(getattr(self, field), str):
                raise param_error(field, func, "a str", getattr(self, field), type_error=True)
        if self.image is not None and not hasattr(self.image, "savefig"):
            raise param_error("image", func, "a matplotlib Figure or None",
                              type(self.image).__name__, type_error=True)
        if self.chart is not None and not isinstance(self.chart, Chart):
            raise param_error("chart", func, "a Chart or None", type(self.chart).__name__,
                              type_error=True)
        if self.image is None and self.chart is None:
            raise param_error("image", func, "given when no chart is (a figure needs one)",
                              None)


# --------------------------------------------------------------------------- pieces


def _asset(name: str) -> str:
    return resources.files("deepscope.report").joinpath("assets", name).read_text("utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _fmt(value: Any) -> str:
    """Short text of a value for a table cell (not yet escaped)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (float, np.floating)):
        return "–" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, (int, np.integer, str)):
        return str(value)
    return json.dumps(value, default=str, ensure_ascii=False)


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.extend(_flatten(value, name + "."))
        else:
            out.append((name, value))
    return out


def _kv_table(rows: Sequence[tuple[str, str]], cls: str = "kv") -> str:
    if not rows:
        return '<p class="muted">(empty)</p>'
    body = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="{cls}"><tbody>{body}</tbody></table>'


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {sec:02d} s"


def _run_rows(manifest: Mapping[str, Any], status: str) -> list[tuple[str, str]]:
    rows = []
    for key in _RUN_KEYS:
        value = manifest.get(key)
        if key == "status":
            value = status
        if key in ("error", "resumed") and not value:
            continue
        if key in ("threads", "format") and value is None:
            continue
        if key == "elapsed_s":
            label = _LABELS[key] + (" (all processes)" if manifest.get("resumed") else "")
            rows.append((label, escape(_duration(value))))
        elif key == "versions" and isinstance(value, Mapping):
            text = " · ".join(f"{k} {v}" for k, v in value.items())
            rows.append(("versions", f'<span class="mono">{escape(text)}</span>'))
        elif key == "resumed":
            rows.append(("resumed", escape(f"{len(value)}×: " + ", ".join(map(str, value)))))
        elif key == "seeds" and isinstance(value, list):
            rows.append(("seeds", escape(f"{len(value)}: " + ", ".join(map(str, value)))))
        else:
            rows.append((_LABELS.get(key, key), escape(_fmt(value))))
    extra = {k: v for k, v in manifest.items() if k not in _RUN_KEYS and k not in _HIDDEN_KEYS}
    for key, value in _flatten(extra):
        shown = _duration(value) if key.endswith("_s") else _fmt(value)
        label = _LABELS.get(key, key.replace("_", " "))
        if key in _SEGMENT_KEYS and manifest.get("resumed"):
            label += " (last process)"
        rows.append((label, escape(shown)))
    return rows


def _frame_table(frame: pd.DataFrame) -> str:
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    total = len(frame)
    frame = frame.head(_MAX_SUMMARY_ROWS)
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(
        frame[c]) for c in frame.columns]
    head = "".join(f'<th class="{"num" if n else ""}">{escape(str(c))}</th>'
                   for c, n in zip(frame.columns, numeric))
    body = []
    for row in frame.itertuples(index=False, name=None):
        cells = "".join(f'<td class="{"num" if n else ""}">{escape(_fmt(v))}</td>'
                        for v, n in zip(row, numeric))
        body.append(f"<tr>{cells}</tr>")
    more = (f'<p class="muted">Showing the first {_MAX_SUMMARY_ROWS} of {total} rows.</p>'
            if total > _MAX_SUMMARY_ROWS else "")
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>{more}')


def _png(image: Any, path: Path) -> tuple[bytes, int]:
    buf = io.BytesIO()
    dpi = 150
    image.savefig(buf, format="png", dpi=dpi, facecolor="white")
    data = buf.getvalue()
    _write_atomic(path, data)
    width = int.from_bytes(data[16:20], "big")  # PNG IHDR width
    return data, max(1, round(width * 96 / dpi))


def _figure_html(fig: Figure, number: int, run: Any) -> str:
    parts = [f'<figure class="fig" id="fig-{escape(fig.name)}">',
             f"<h3>{escape(fig.title)}</h3>"]
    if fig.chart is not None:
        svg = render_chart(fig.chart, f"chart-{number}")
        _write_atomic(run.figures_dir / f"{fig.name}.svg", svg.encode())
        hint = "Hover a point for its values" + (
            "; click a legend entry to hide or show a series." if len(fig.chart.series) > 1
            else ".")
        parts.append(f'<div class="chart">{svg}<div class="tip" hidden></div>'
                     f'<div class="hint">{hint}</div></div>')
    if fig.image is not None:
        data, width = _png(fig.image, run.figures_dir / f"{fig.name}.png")
        b64 = base64.b64encode(data).decode()
        parts.append(f'<img src="data:image/png;base64,{b64}" width="{width}" '
                     f'alt="{escape(fig.title)}">')
    caption = f" {escape(fig.caption)}" if fig.caption else ""
    parts.append(f"<figcaption><b>Figure {number}.</b>{caption}</figcaption></figure>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- the page


def build_report(
    run: Any,
    figures: Sequence[Figure],
    summary: pd.DataFrame | None = None,
    notes: Sequence[str] | None = None,
) -> Path:
    """Write ``report.html`` of ``run`` (and each figure to ``run.figures_dir``).

    Args:
        run: A :class:`deepscope.store.Run`.
        figures: Figures in page order; images are also written as ``<name>.png`` and
            charts as ``<name>.svg``.
        summary: A table shown under the figures (a non-default index is shown too).
        notes: Free-text lines shown last.

    Returns:
        Path of the written HTML file.

    Raises:
        DeepscopeTypeError: a figure that is not a :class:`Figure`, a summary that is not
            a DataFrame, notes that are not strings.
        DeepscopeValueError: two figures with the same name.
    """
    func = "build_report"
    figures = list(figures)
    if not all(isinstance(f, Figure) for f in figures):
        raise DeepscopeTypeError(f"The 'figures' parameter of {func} must be a list of "
                                 f"Figure. Got {[type(f).__name__ for f in figures]}.")
    names = [f.name for f in figures]
    if len(set(names)) != len(names):
        raise param_error("figures", func, "figures with distinct names", names)
    if summary is not None and not isinstance(summary, pd.DataFrame):
        raise param_error("summary", func, "a pandas DataFrame or None",
                          type(summary).__name__, type_error=True)
    notes = [] if notes is None else list(notes)
    if not all(isinstance(n, str) for n in notes):
        raise param_error("notes", func, "a list of str", notes, type_error=True)

    manifest = run.manifest
    status = getattr(run, "status", manifest.get("status", "running"))
    css, js = _asset("report.css"), _asset("report.js")
    csp = (f"default-src 'none'; img-src data:; style-src {_csp_hash(css)}; "
           f"script-src {_csp_hash(js)}; base-uri 'none'; form-action 'none'")
    config_rows = [(k, escape(_fmt(v))) for k, v in _flatten(manifest.get("config", {}))]
    error = manifest.get("error")
    body = [
        '<header class="top"><div class="kicker">deepscope run report</div>',
        f'<h1>{escape(run.study)}<span class="runid">{escape(run.id)}</span></h1>',
        f'<span class="badge {escape(status)}">{escape(status)}</span></header>',
    ]
    if error:
        body.append(f'<section class="card"><h2>Error</h2><pre class="error">'
                    f"{escape(str(error))}</pre></section>")
    body.append('<div class="grid2 row">'
                f'<section class="card"><h2>Run</h2>{_kv_table(_run_rows(manifest, status))}'
                f'</section><section class="card"><h2>Config</h2>{_kv_table(config_rows)}'
                "</section></div>")
    if figures:
        body.extend(_figure_html(f, k + 1, run) for k, f in enumerate(figures))
    if summary is not None:
        body.append(f'<section class="card summary"><h2>Summary</h2>{_frame_table(summary)}'
                    "</section>")
    if notes:
        items = "".join(f"<li>{escape(n)}</li>" for n in notes)
        body.append(f'<section class="card"><h2>Notes</h2><ul class="notes">{items}</ul>'
                    "</section>")
    version = manifest.get("versions", {}).get("deepscope", "")
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body.append(f"<footer>Generated by deepscope {escape(str(version))} on {stamp}. "
                "This page is self-contained and works offline.</footer>")
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        f"<title>{escape(run.study)} · {escape(run.id)} · deepscope</title>\n"
        f"<style>{css}</style></head>\n<body><main>\n" + "\n".join(body)
        + f"\n</main><script>{js}</script></body></html>\n"
    )
    path = Path(run.path) / "report.html"
    _write_atomic(path, page.encode("utf-8"))
    return path
