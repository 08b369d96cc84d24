"""Tests of deepscope.report: escaping, embedding, and the page in a real browser."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure as MplFigure

from deepscope.errors import DeepscopeError
from deepscope.report import Chart, Figure, Series, build_report
from deepscope.store import RunStore

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
EVIL = "<script>alert(1)</script>"
LAYERS = 4
EPOCHS = 75


def _chart() -> Chart:
    """LAYERS x EPOCHS distinct points on an information-plane-like path."""
    epochs = np.arange(1, EPOCHS + 1)
    t = np.log(epochs) / np.log(EPOCHS)
    series = []
    for k in range(LAYERS):
        x = 10.0 - 2.0 * k + 1.5 * t - 2.5 * t**2
        y = 0.1 + 0.8 * t - 0.05 * k
        hover = [f"layer{k + 1} · epoch {e} · I(X;T)={a:.2f} · I(T;Y)={b:.2f}"
                 for e, a, b in zip(epochs, x, y)]
        series.append(Series(f"layer{k + 1}", x, y, color=epochs, hover=hover))
    return Chart("I(X;T) (bits)", "I(T;Y) (bits)", series)


@pytest.fixture
def fake_run(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.create(study="info-plane", seeds=[0, 1],
                       config={"lr": 0.0004, "note": EVIL, "net": {"sizes": [12, 10, 7]}})
    rng = np.random.default_rng(0)
    for seed in (0, 1):
        run.record(step=np.repeat(np.arange(EPOCHS), LAYERS), lens="information",
                   layer=np.tile([f"layer{k + 1}" for k in range(LAYERS)], EPOCHS),
                   metric="i_xt", value=rng.normal(size=EPOCHS * LAYERS), seed=seed)
    run.flush()
    run.update_manifest(device="cpu", timings={"train_s": 12.5, "measure_s": 75.0})
    run.set_status("done")
    return run


def _image() -> MplFigure:
    fig = MplFigure(figsize=(5, 3), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([1, 2, 3], [3, 1, 2], label="a line")
    ax.set_title("a static image")
    return fig


def _build(run) -> Path:
    summary = pd.DataFrame({"layer": ["layer1", "<img src=x onerror=alert(2)>"],
                            "i_xt": [1.23456789, float("nan")], "epochs": [10, 20]})
    figures = [
        Figure("plane", f"Information plane {EVIL}", caption=f"Points by epoch {EVIL}",
               chart=_chart()),
        Figure("static", "A static image", caption="PNG", image=_image()),
    ]
    return build_report(run, figures, summary=summary, notes=[f"note {EVIL}", "plain"])


def test_report_escapes_and_embeds(fake_run):
    path = _build(fake_run)
    assert path == fake_run.path / "report.html"
    html = path.read_text(encoding="utf-8")
    assert EVIL not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<script") == 1  # only the report's own script
    assert html.count("&lt;script&gt;alert(1)") == 4  # config, title, caption, note
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing to fetch
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert html.count('class="pt"') == LAYERS * EPOCHS
    # the static image is embedded and written next to the chart's SVG
    png = (fake_run.figures_dir / "static.png").read_bytes()
    assert base64.b64encode(png).decode() in html
    assert (fake_run.figures_dir / "plane.svg").read_text().startswith("<svg")
    assert "1.235" in html and "lr" in html and "net.sizes" in html and "12.5 s" in html


def test_series_and_figure_validation():
    with pytest.raises(DeepscopeError, match="'y' parameter of Series"):
        Series("a", [1, 2], [1])
    with pytest.raises(DeepscopeError, match="'color' parameter of Series"):
        Series("a", [1, 2], [1, 2], color=[1])
    with pytest.raises(DeepscopeError, match="'x' parameter of Series"):
        Series("a", ["u", "v"], [1, 2])
    with pytest.raises(DeepscopeError, match="'series' parameter of Chart"):
        Chart("x", "y", series=[1, 2])
    with pytest.raises(DeepscopeError, match="'name' parameter of Figure"):
        Figure("../x", "t", chart=_chart())
    with pytest.raises(DeepscopeError, match="'image' parameter of Figure"):
        Figure("x", "t")
    chart = Chart("x", "y", [Series("a", [1, np.nan, 3, -1], [1, 2, np.inf, 4])], log_x=True)
    assert chart.n_points == 1  # non-finite points and x <= 0 on a log axis are dropped


def test_build_report_rejects_duplicate_names(fake_run):
    fig = Figure("same", "t", chart=_chart())
    with pytest.raises(DeepscopeError, match="'figures' parameter of build_report"):
        build_report(fake_run, [fig, fig])


@pytest.mark.browser
def test_report_in_browser(fake_run, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium "
                    "(apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    path = _build(fake_run)
    url = path.resolve().as_uri()
    problems, requests, dialogs = [], [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(url)
            page.wait_for_load_state("load")
            points = page.locator("figure.fig svg circle.pt")
            assert points.count() == LAYERS * EPOCHS
            assert page.locator("figure.fig img").count() == 1
            target = points.nth(3 * EPOCHS + 4)  # layer4 at epoch 5, clear of its neighbours
            expected = target.get_attribute("data-tip")
            target.scroll_into_view_if_needed()
            box = target.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            tip = page.locator(".chart .tip")
            tip.wait_for(state="visible", timeout=2000)
            assert expected == "layer4 · epoch 5 · I(X;T)=4.21 · I(T;Y)=0.25"
            assert tip.inner_text() == expected
            # the legend hides and shows a series
            page.locator("g.legend-item").first.click()
            assert page.locator("g.series.off").count() == 1
            page.locator("g.legend-item").first.click()
            assert page.locator("g.series.off").count() == 0
            assert "<script>alert(1)</script>" in page.locator("body").inner_text()
            shot = tmp_path / "report.png"
            target.scroll_into_view_if_needed()
            box = target.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            tip.wait_for(state="visible", timeout=2000)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert problems == [], problems
    assert dialogs == []
    assert all(u.startswith(("file://", "data:")) for u in requests), requests
    assert shot.stat().st_size > 10_000
    if SCREENSHOTS.is_dir():
        shutil.copyfile(shot, SCREENSHOTS / "report.png")


def test_long_legend_names_keep_their_distinct_ends():
    from deepscope.report.chart import _short_name

    a, b = _short_name("features.3.conv.block.1"), _short_name("features.3.conv.block.2")
    assert a != b and len(a) == len(b) == 18 and "…" in a
    assert a.startswith("featu") and a.endswith("conv.block.1")
    assert _short_name("short") == "short"
