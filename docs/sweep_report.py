"""Make the README pictures of a sweep's aggregated report.

    python docs/sweep_report.py        # -> docs/sweep_report.png, docs/sweep_differences.png

Runs ``info-plane`` over activation = tanh, relu with 4 seeds (400 epochs, 40 capture points),
builds the aggregated report and screenshots two parts of it with Debian's chromium through
Playwright (headless, no network).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import deepscope as ds  # noqa: E402

HERE = Path(__file__).resolve().parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    sw = ds.sweep("info-plane", grid={"activation": ["tanh", "relu"]}, seeds=4,
                  fixed={"epochs": 400, "capture_points": 40, "checkpoint_every": 200},
                  root=root)
    page_path = sw.path / "report.html"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(page_path.as_uri())
        page.locator("#fig-metrics-by-cell").screenshot(path=str(HERE / "sweep_report.png"))
        page.locator("section.summary").first.screenshot(
            path=str(HERE / "sweep_differences.png"))
        browser.close()
    print(sw.id, sw.manifest["status"], "->", HERE / "sweep_report.png")


if __name__ == "__main__":
    main()
