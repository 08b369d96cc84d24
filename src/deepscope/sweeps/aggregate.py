"""Aggregating a sweep over seeds: means and confidence bands by cell, and what differs.

Seeds are aggregated before cells are compared. For each metric (``lens/layer/metric``) a
run's value is the one at its last step; over the seeds of a cell it has a mean and a
Student-t confidence interval (``mean ± t_{(1+level)/2, n-1} · s / √n``). Along each grid axis,
:func:`differences` sets the spread between the axis' values against the spread over seeds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["cell_summary", "curves", "differences", "final_values", "metric_label"]


def metric_label(lens: str, layer: str, metric: str) -> str:
    """``lens/layer/metric`` (``lens/metric`` when the layer is empty)."""
    return "/".join(p for p in (lens, layer, metric) if p)


def _labelled(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["name"] = [metric_label(a, b, c) for a, b, c in zip(df["lens"], df["layer"],
                                                           df["metric"])]
    return df


def final_values(sweep: Any) -> pd.DataFrame:
    """One row per run, seed and metric: the value at the run's last step.

    Columns: cell, the grid columns, run_id, seed, name (``lens/layer/metric``), step, value.
    """
    grid = [f'"{c}"' for c in sweep.grid]
    keys = ", ".join(["cell", *grid, "run_id", "seed", "lens", "layer", "metric"])
    df = sweep.query(f"SELECT {keys}, max(step) AS step, arg_max(value, step) AS value "
                     f"FROM measurements GROUP BY {keys} ORDER BY cell, lens, layer, metric, "
                     "seed")
    df = _labelled(df)
    return df[["cell", *sweep.grid, "run_id", "seed", "name", "step", "value"]]


def _welch_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of Welch's t-test (unequal variances)."""
    from scipy.special import stdtr

    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return 0.0 if a.mean() != b.mean() else 1.0
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return float(2 * stdtr(df, -abs(t)))


def _band(values: np.ndarray, level: float) -> tuple[float, float, float, float]:
    from scipy.special import stdtrit

    values = values[np.isfinite(values)]
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    mean = float(values.mean())
    if n == 1:
        return mean, math.nan, math.nan, math.nan
    std = float(values.std(ddof=1))
    half = float(stdtrit(n - 1, (1 + level) / 2)) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half


def cell_summary(sweep: Any, level: float = 0.95) -> pd.DataFrame:
    """Every metric by cell: n (seeds), mean, std, ci_low, ci_high of the final values.

    Columns: name, cell, the grid columns, n, mean, std, ci_low, ci_high.
    """
    final = final_values(sweep)
    grid = list(sweep.grid)
    rows = []
    for (name, cell), g in final.groupby(["name", "cell"], sort=True):
        mean, std, low, high = _band(g["value"].to_numpy(dtype=float), level)
        rows.append({"name": name, "cell": cell, **{k: g[k].iloc[0] for k in grid},
                     "n": len(g), "mean": mean, "std": std, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["name", "cell", *grid, "n", "mean", "std", "ci_low",
                                       "ci_high"])


def curves(sweep: Any, names: list[str] | None = None, level: float = 0.95) -> pd.DataFrame:
    """Mean and confidence band over seeds per metric, cell and step.

    Columns: name, cell, step, n, mean, ci_low, ci_high.
    """
    df = sweep.query("SELECT cell, step, lens, layer, metric, seed, avg(value) AS value "
                     "FROM measurements GROUP BY ALL")
    df = _labelled(df)
    if names is not None:
        df = df[df["name"].isin(names)]
    rows = []
    for (name, cell, step), g in df.groupby(["name", "cell", "step"], sort=True):
        mean, _, low, high = _band(g["value"].to_numpy(dtype=float), level)
        rows.append((name, cell, step, len(g), mean, low, high))
    return pd.DataFrame(rows, columns=["name", "cell", "step", "n", "mean", "ci_low",
                                       "ci_high"])


def differences(sweep: Any, alpha: float = 0.05) -> pd.DataFrame:
    """What differs between cells, against the spread over seeds.

    For every metric and grid axis: the mean final value at each of the axis' values (over
    seeds and the other axes), the ``effect`` (largest minus smallest of those means), the
    ``seed_std`` (within-cell standard deviation over seeds, pooled over cells), their ratio,
    and Welch's t-test between the two extreme values. ``beyond_noise`` is ``p < alpha``.

    Columns: name, axis, values (text), effect, seed_std, effect_over_std, p_value,
    beyond_noise.
    """
    final = final_values(sweep)
    rows = []
    for name, g in final.groupby("name", sort=True):
        within = g.groupby("cell")["value"].var(ddof=1).dropna()
        seed_std = float(np.sqrt(within.mean())) if len(within) else math.nan
        for axis in sweep.grid:
            levels = g.groupby(axis, sort=False)["value"]
            means = levels.mean()
            if len(means) < 2:
                continue
            hi, lo = means.idxmax(), means.idxmin()
            effect = float(means.max() - means.min())
            a = g.loc[g[axis] == hi, "value"].to_numpy(dtype=float)
            b = g.loc[g[axis] == lo, "value"].to_numpy(dtype=float)
            p = _welch_p(a, b) if len(a) > 1 and len(b) > 1 else math.nan
            text = ", ".join(f"{k}: {v:.4g}" for k, v in means.items())
            ratio = effect / seed_std if seed_std and seed_std > 0 else math.inf
            rows.append({"name": name, "axis": axis, "values": text, "effect": effect,
                         "seed_std": seed_std,
                         "effect_over_std": ratio if effect > 0 else 0.0,
                         "p_value": p, "beyond_noise": bool(p < alpha)})
    return pd.DataFrame(rows, columns=["name", "axis", "values", "effect", "seed_std",
                                       "effect_over_std", "p_value", "beyond_noise"])
