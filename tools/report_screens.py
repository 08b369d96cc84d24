"""Run each study's tiny config and screenshot its report in headless Chromium.

Debian's ``/usr/bin/chromium`` through Playwright (never a downloaded browser), at 1,400 and
800 px wide, full page. Used to look at every report the way a reader does.

    python tools/report_screens.py OUT_DIR [--study NAME ...] [--runs DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

TINY = {
    "boolean-machines": ["max_bits=3", "hidden_units=1-2", "data_bits=3", "targets=20",
                         "orders=2", "steps=300"],
    "conditioning": ["n=20", "iterations=300", "eval_every=100", "n_test=200",
                     "condition_ns=10-20-40", "batch_size=32", "check_n=8",
                     "check_iterations=20000"],
    "depth-separation": ["max_depth=10", "target_depth=2", "deep_depths=2",
                         "shallow_widths=2-16", "n_train=64", "steps=150", "seeds=1"],
    "end-to-end-vs-decomposition": ["ks=1,3", "steps=4", "batch_size=4", "n_test=16",
                                    "eval_every=2", "snr_ks=1,2", "snr_examples=8",
                                    "snr_warmup=1", "one_hot_ks=1,4",
                                    "one_hot_examples=200", "channels=2", "hidden=4",
                                    "head_hidden=4"],
    "flat-activations": ["dim=10", "steps=30", "batch_size=16", "n_test=200", "eval_every=10",
                         "hidden=8"],
    "info-plane": ["epochs=300", "capture_points=30", "checkpoint_every=100"],
    "landscape": ["archs=mlp", "seeds=2", "small_epochs=1", "large_epochs=2", "plane_steps=5",
                  "line_steps=5", "interp_steps=5", "density_iter=4", "density_runs=1",
                  "sharpness_steps=1", "trace_rtol=0.5", "trace_max_hvp=30",
                  "mlp_widths=64-6-10", "small_batch=256", "large_batch=1348"],
    "linear-regions": ["n_points=80", "toy_widths=2-8-8-2", "digits_widths=64-8-10",
                       "steps=20", "captures=3", "segments=10", "planes=1",
                       "models=toy-mlp,digits-mlp", "sweep_widths=4", "sweep_depths=1-2"],
    "parity": ["dims=4-6", "max_iterations=1500", "eval_every=500", "variance_dims=2-3",
               "periodic_dims=3-4", "periodic_r=1,3", "periodic_samples=512",
               "periodic_directions=8", "n_test=500", "seeds=2", "exact_max_d=4",
               "sampled_inputs=256"],
    "weight-spectra": ["width=32", "cnn_channels=4-8", "cnn_hidden=24", "epochs=2",
                       "measure_every=1", "random_label_epochs=1", "batch_sizes=64",
                       "lrs=0.1", "zoo_size=3", "zoo_widths=24", "zoo_epochs=1",
                       "zoo_batches=64,128"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--study", action="append", default=None)
    parser.add_argument("--runs", default=None, help="reuse the newest run of each study here")
    args = parser.parse_args()
    import torch
    from playwright.sync_api import sync_playwright

    from deepscope.store import RunStore
    from deepscope.studies import run_study
    from deepscope.studies._runner import build_study_report

    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = Path(args.runs or out / "runs")
    reports = {}
    for name in args.study or list(TINY):
        existing = sorted((runs / name).glob("*/manifest.json")) if (runs / name).is_dir() else []
        if existing:
            run = RunStore(runs).open(existing[-1].parent.name)
            path = build_study_report(run)
        else:
            run = run_study(name, sets=TINY[name], root=runs)
            path = run.path / "report.html"
        reports[name] = path
        print(name, path, flush=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            for name, path in reports.items():
                for width in (1400, 800):
                    page = browser.new_page(viewport={"width": width, "height": 900})
                    errors = []
                    page.on("pageerror", lambda e: errors.append(str(e)))
                    page.goto(Path(path).resolve().as_uri())
                    page.wait_for_load_state("load")
                    overflow = page.evaluate(
                        "() => [...document.querySelectorAll('*')].filter(e => "
                        "e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX "
                        "=== 'visible' && e.clientWidth > 0).map(e => e.tagName + '.' + "
                        "e.className).slice(0, 5)")
                    page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True)
                    page.close()
                    print(name, width, "errors:", errors, "overflow:", overflow, flush=True)
        finally:
            browser.close()


if __name__ == "__main__":
    sys.exit(main())
