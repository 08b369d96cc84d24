"""The sweep CLI, DuckDB views and the aggregated report."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

import deepscope as ds
from deepscope.cli import app
from deepscope.errors import DeepscopeError
from deepscope.sweeps.aggregate import _band, _welch_p, cell_summary, differences
from tests.sweeps import toy_study  # noqa: F401  (registers sweep-toy)

runner = CliRunner()
ENV = {"COLUMNS": "200"}


@pytest.fixture(scope="module")
def toy_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    sw = ds.sweep("sweep-toy", grid={"scale": [1.0, 2.0], "mode": ["a", "b"]}, seeds=3,
                  fixed={"steps": 3}, root=root)
    return sw


def test_band_and_welch_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    a, b = np.array([1.0, 2.0, 3.5]), np.array([2.0, 4.0, 5.0, 7.0])
    mean, std, low, high = _band(a, 0.95)
    lo, hi = stats.t.interval(0.95, 2, loc=a.mean(), scale=stats.sem(a))
    assert (mean, low, high) == pytest.approx((a.mean(), lo, hi))
    assert _welch_p(a, b) == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert math.isnan(_band(np.array([1.0]), 0.95)[2])


def test_cell_summary_and_differences_know_the_answer(toy_sweep):
    summary = cell_summary(toy_sweep)
    assert summary["n"].tolist() == [3, 3, 3, 3]
    # final step 2: 2 * scale + 0.5 * (mode b) + 0.01 * seed, seeds 0, 1, 2
    assert summary["mean"].round(6).tolist() == [2.01, 2.51, 4.01, 4.51]
    assert summary["std"].round(6).tolist() == [0.01] * 4
    diff = differences(toy_sweep).set_index("axis")
    assert diff.loc["scale", "effect"] == pytest.approx(2.0)
    assert diff.loc["mode", "effect"] == pytest.approx(0.5)
    assert diff.loc["scale", "seed_std"] == pytest.approx(0.01)
    assert bool(diff.loc["scale", "beyond_noise"])
    # pooled over the other axis, mode's 0.5 drowns in scale's spread of 2.0
    assert not bool(diff.loc["mode", "beyond_noise"])


def test_views_have_sweep_id_and_grid_columns(toy_sweep):
    df = toy_sweep.query("SELECT * FROM measurements LIMIT 1")
    assert list(df.columns[:5]) == ["sweep_id", "run_id", "cell", "scale", "mode"]
    runs = toy_sweep.query("SELECT sweep_id, mode, count(*) AS n FROM runs GROUP BY ALL "
                           "ORDER BY mode")
    assert runs["n"].tolist() == [6, 6] and set(runs["sweep_id"]) == {toy_sweep.id}
    with pytest.raises(DeepscopeError, match="Query failed"):
        toy_sweep.query("SELECT nope FROM measurements")


def test_aggregated_report_is_written(toy_sweep):
    html = (toy_sweep.path / "report.html").read_text()
    assert "deepscope sweep report" in html and toy_sweep.id in html
    assert "What differs between cells" in html and "Every metric by cell" in html
    assert (toy_sweep.figures_dir / "final-by-cell.png").is_file()
    assert (toy_sweep.figures_dir / "cells-toy.png").is_file()


def test_cli_sweep_list_show_report(tmp_path):
    out = str(tmp_path)
    res = runner.invoke(app, ["sweep", "sweep-toy", "--grid", "mode=a,b", "--set", "steps=2",
                              "--seeds", "2", "--out", out, "--quiet", "--no-report"], env=ENV)
    assert res.exit_code == 0, res.output
    assert "4 runs (4 done)" in res.output
    sweep_id = res.output.split("sweep ", 1)[1].split()[0]
    listed = runner.invoke(app, ["sweeps", "list", "--out", out], env=ENV)
    assert listed.exit_code == 0 and sweep_id in listed.output
    shown = runner.invoke(app, ["sweeps", "show", sweep_id[:6], "--out", out], env=ENV)
    assert shown.exit_code == 0 and '"status": "done"' in shown.output
    rep = runner.invoke(app, ["report", sweep_id, "--out", out], env=ENV)
    assert rep.exit_code == 0 and "sweeps" in rep.output and "report.html" in rep.output
    again = runner.invoke(app, ["sweep", "--resume", sweep_id, "--out", out, "--quiet",
                                "--no-report"], env=ENV)
    assert again.exit_code == 0 and "4 done" in again.output


def test_cli_errors_are_one_line(tmp_path):
    res = runner.invoke(app, ["sweep", "sweep-toy", "--grid", "mode", "--out", str(tmp_path)])
    assert isinstance(res.exception, DeepscopeError)
    res = runner.invoke(app, ["sweep", "--out", str(tmp_path)])
    assert isinstance(res.exception, DeepscopeError) and "--resume" in str(res.exception)
