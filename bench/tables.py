"""Regenerate the tables of BENCHMARKS.md from the scripts' results in ``bench/results/``.

A generated table sits between two markers in BENCHMARKS.md::

    <!-- table: startup -->
    ... (written by this script; do not edit by hand)
    <!-- end table -->

``python bench/tables.py`` rewrites every such block from ``bench/results/<name>.json``;
``--check`` only reports (exit 1) the blocks that differ, so a test can keep the file honest.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOC = HERE.parent / "BENCHMARKS.md"
BLOCK = re.compile(r"(<!-- table: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end table -->)",
                   re.S)


def _head(data: dict) -> str:
    m = data.get("machine", {})
    load = f", load average {m['load_avg_1m']} when written" if "load_avg_1m" in m else ""
    return (f"`{data['command']}` ({data['date'][:10]}, {m.get('cpus', '?')} CPUs{load}, "
            f"torch {m.get('torch', '?')}):\n\n")


def _startup(data: dict) -> str:
    rows = data["results"]
    trees = list(dict.fromkeys(r["tree"] for r in rows))
    base = {r["command"]: r for r in rows if r["tree"] == "baseline"}
    lines = ["| command | best wall s | best CPU s | heavy modules imported |"
             + (" baseline wall s | baseline imports |" if base else ""),
             "|---|---:|---:|---|" + ("---:|---|" if base else "")]
    for r in rows:
        if r["tree"] != trees[0]:
            continue
        cells = [f"`{r['command']}`", f"{r['best_s']:.2f}", f"{r['best_cpu_s']:.2f}",
                 ", ".join(r["heavy_imports"]) or "none"]
        if base:
            b = base.get(r["command"])
            cells += [f"{b['best_s']:.2f}" if b else "", ", ".join(b["heavy_imports"]) or "none"
                      if b else ""]
        lines.append("| " + " | ".join(cells) + " |")
    return _head(data) + "\n".join(lines) + "\n"


def _threads(data: dict) -> str:
    lines = ["| study (config) | rows | wall s, 1 thread | wall s, 2 threads | 2 / 1 | "
             "rows that differ | max abs diff | max rel diff |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in data["results"]:
        conf = " ".join(r["sets"]) or "default"
        lines.append(f"| `{r['study']}` ({conf}) | {r['rows']} | {r['wall_s_1_thread']:.1f} | "
                     f"{r['wall_s_2_threads']:.1f} | {r['ratio_2_over_1']:.2f}x | "
                     f"{100 * r['share_rows_differing']:.0f}% | {r['max_abs_diff']:.1e} | "
                     f"{r['max_rel_diff']:.1e} |")
    commands = sorted({r["command"] for r in data["results"] if "command" in r})
    if commands:
        lines += ["", "Rows made by " + "; ".join(f"`{c}`" for c in commands) + "."]
    return _head(data) + "\n".join(lines) + "\n"


def _study_times(data: dict) -> str:
    lines = ["| study | threads | wall s (command) | train + measure s | report s | load before/after | date |",
             "|---|---:|---:|---:|---:|---|---|"]
    for r in sorted(data["results"], key=lambda r: r["wall_s"]):
        tm = r.get("train_and_measure_s")
        rep = r.get("report_s")
        lines.append(f"| `{r['study']}` | {r['threads']} | {r['wall_s']:.1f} | "
                     f"{'' if tm is None else f'{tm:.1f}'} | {'' if rep is None else f'{rep:.1f}'} | "
                     f"{r['load_before']} / {r['load_after']} | {r.get('date', '')} |")
    return _head(data) + "\n".join(lines) + "\n"


def _twonn_rows(t: dict) -> list[str]:
    return [f"| TwoNN, {t['n']:,} x {t['p']} points on a {t['true_d']}-dim subspace | "
             f"{t['twonn_s']:.2f} s, d = {t['twonn']:.4f} | scikit-dimension `TwoNN`: "
             f"{t['skdim_twonn_s']:.2f} s, d = {t['skdim_twonn']:.4f}; distance GEMM: "
             f"{t['gemm_floor_s']:.2f} s | {t['speedup_twonn']:.1f}x faster than "
             f"scikit-dimension, {t['twonn_ratio_to_gemm']:.2f}x the GEMM |",
             f"| MLE (k = 20), same points | {t['mle_s']:.2f} s, d = {t['mle']:.4f} | "
             f"scikit-dimension `MLE`: {t['skdim_mle_s']:.2f} s, d = {t['skdim_mle']:.4f} | "
             f"{t['speedup_mle']:.1f}x |"]


def _twonn(data: dict) -> str:
    lines = ["| work | deepscope | reference (same run) | ratio |", "|---|---:|---:|---|",
             *_twonn_rows(data["results"]["twonn"])]
    return _head(data) + "\n".join(lines) + "\n"


def _representations(data: dict) -> str:
    r = data["results"]
    s, m, t = r["stream"], r["matrix"], r["twonn"]
    lines = ["| work | deepscope | reference (same run) | ratio |", "|---|---:|---:|---|",
             f"| linear CKA, two {s['n']:,} x {s['p']:,} sets streamed in batches of "
             f"{s['batch']:,} (`CKA`) | {s['cka_s']:.1f} s | the 3 Gram products of every batch "
             f"({s['gflop']:.0f} GFLOP): {s['floor_s']:.1f} s | {s['ratio']:.2f}x the floor |",
             f"| same, debiased | {s['cka_debiased_s']:.1f} s | {s['floor_s']:.1f} s | "
             f"{s['ratio_debiased']:.2f}x the floor |",
             f"| {m['layers']} x {m['layers']} layer CKA matrix of two {m['layers']}-layer MLPs "
             f"(width {m['width']}, n = {m['n']:,}, batches of {m['batch']:,}; `cka_matrix`, one "
             f"pass) | {m['cka_matrix_s']:.1f} s | its GEMMs and forward passes: "
             f"{m['floor_s']:.1f} s; torch-cka `compare`: {m['torch_cka_s']:.1f} s | "
             f"{m['speedup_vs_torch_cka']:.1f}x faster than torch-cka; largest difference to "
             f"deepscope's debiased values {m['max_abs_diff_to_debiased']:.4f} |",
             *_twonn_rows(t)]
    if "nan_check" in r:
        c = r["nan_check"]
        lines.append(f"| debiased CKA matrix of two default-init 12-layer MLPs (activations "
                     f"shrink with depth), n = 2,000 | {c['deepscope_nan']} NaN of 144 | "
                     f"torch-cka: {c['torch_cka']} | |")
    return _head(data) + "\n".join(lines) + "\n"


def _layer_representations(data: dict) -> str:
    lines = ["| net / labels | train / test acc | ID last hidden | ID peak (layer) | probe acc | "
             "selectivity | CKA across seeds | shift sensitivity | I(X;T) bits |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in data["results"]["summary"]:
        lines.append(f"| {r['net']} / {r['labels']} | {r['train acc']:.3f} / "
                     f"{r['test acc']:.3f} | {r['ID last hidden']:.2f} | {r['ID peak']:.2f} "
                     f"({r['ID peak layer']}) | {r['probe acc']:.3f} | {r['selectivity']:.2f} | "
                     f"{r['CKA across seeds']:.2f} | {r['shift sensitivity']:.2f} | "
                     f"{r['I(X;T) bits']:.2f} |")
    total = sum(data["results"]["timings_s"].values())
    return (_head(data) + "\n".join(lines)
            + f"\n\nTrain + measure time of the whole study: {total:.0f} s.\n")


def _inspect_scale(data: dict) -> str:
    r = data["results"]
    lines = [f"GPT-2-small from `GPT2Config()` at random init ({r['params']:,} parameters), a batch "
             f"of {r['batch'][0]} x {r['batch'][1]} tokens, one thread, default lenses with the "
             f"budgets `ds.inspection.budgets` sizes to the model ({r['budgets']}); whole "
             f"checkup {r['total_seconds']:.0f} s.", "",
             "| lens | status | seconds | peak RSS MiB |", "|---|---|---:|---:|"]
    for lens in r["lenses"]:
        rss = lens.get("peak_rss_mib")
        lines.append(f"| {lens['lens']} | {lens['status']} | {lens['seconds']:.1f} | "
                     f"{'' if rss is None else f'{rss:,.0f}'} |")
    return _head(data) + "\n".join(lines) + "\n"


def _real_models(data: dict) -> str:
    lenses = ("information", "spectra", "curvature", "landscape", "regions", "gradients")
    lines = ["| model | params | " + " | ".join(lenses) + " |",
             "|---|---:|" + "---:|" * len(lenses)]
    for name, row in data["results"]["matrix"].items():
        cells = [f"{row[k]['seconds']:.2f}" if row[k]["ok"] else
                 f"refused ({row[k]['seconds']:.2f})" for k in lenses]
        lines.append(f"| {name} | {row['params']:,} | " + " | ".join(cells) + " |")
    return _head(data) + "\n".join(lines) + "\n"


def _resnet18_segment(data: dict) -> str:
    r = data["results"]
    e = r["estimate"]
    lines = [f"ResNet-18's shape at random init, eval mode ({r['params']:,} parameters), the exact "
             f"segment between two random 3x32x32 inputs, {r['threads']} threads, no budget.", "",
             "| regions | linear pieces | complete | walk s | output maps s | total s | "
             "regions/s | peak RSS GiB |", "|---:|---:|---|---:|---:|---:|---:|---:|",
             f"| {r['regions']:,} | {r['pieces']:,} | {r['complete']} | {r['walk_seconds']:.1f} | "
             f"{r['maps_seconds']:.1f} | {r['seconds']:.1f} | {r['regions_per_s']:.1f} | "
             f"{r['peak_rss_gib']:.1f} |", "",
             f"`segment_cost` before the work (8 probes of 1/256 of the segment, "
             f"{e['probe_seconds']:.1f} s): {e['regions']:,} regions, band "
             f"[{e['low']:,}, {e['high']:,}], walk ~{e['walk_seconds']:.0f} s."]
    return _head(data) + "\n".join(lines) + "\n"


def _real_models_ww(data: dict) -> str:
    r = data["results"]
    models = r["models"]
    lines = [f"WeightWatcher {r['weightwatcher']}, powerlaw {r['powerlaw']}, {r['threads']} "
             f"thread, best of {r['repeats_default']} (`analyze()` / alpha-only) and "
             f"{r['repeats_full']} (full), the two tools alternating. On the matrices both "
             "analyse (the floors):", "",
             "| model | shared matrices (eigenvalues) | WW `analyze()` s | deepscope alpha-only s "
             "| ratio (floor 1x) | WW full s | deepscope full s | ratio (floor 3x) | "
             "max abs alpha diff (matrices with >= 20 eigenvalues) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, m in models.items():
        s, a = m["shared"], m["alpha"]
        diff = (f"{a['max_abs_diff']:.1e} ({a['compared']})" if a["compared"]
                else "none with >= 20")
        lines.append(f"| {name} | {s['ds_matrices']} ({m['evals_shared']:,}) | "
                     f"{s['ww_default_s']:.3f} | {s['ds_alpha_s']:.4f} | "
                     f"**{s['ratio_default']:.1f}x** | {s['ww_full_s']:.2f} | "
                     f"{s['ds_full_s']:.3f} | **{s['ratio_full']:.0f}x** | {diff} |")
    lines += ["", "Whole models, each tool on the matrices it chooses:", "",
              "| model | matrices WW / deepscope | WW `analyze()` s | deepscope alpha-only s | "
              "ratio | WW full s | deepscope full s | ratio | analysed by one tool only |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, m in models.items():
        w = m["whole"]
        only = [f"{who}: " + ", ".join(f"`{n}`" for n in names) for who, names in (
            ("deepscope", m["only_ds"]), ("WW", m["only_ww"]),
            ("WW again (tied)", m["ww_tied_repeats"])) if names]
        lines.append(f"| {name} | {w['ww_matrices']} / {w['ds_matrices']} | "
                     f"{w['ww_default_s']:.3f} | {w['ds_alpha_s']:.4f} | "
                     f"{w['ratio_default']:.1f}x | {w['ww_full_s']:.2f} | {w['ds_full_s']:.3f} "
                     f"| {w['ratio_full']:.0f}x | {', '.join(only) or 'none'} |")
    low = min(m["shared"]["ratio_default"] for m in models.values())
    low_f = min(m["shared"]["ratio_full"] for m in models.values())
    fit = {k: sum(m["alpha"][k] for m in models.values())
           for k in ("fitted_below_20_evals", "ww_fit_below_min_evals")}
    met = "met on every model" if low >= 1 and low_f >= 3 else "NOT met on every model"
    me = data["results"].get("min_evals", 10)           # runs before it was recorded: 10
    lines += ["", f"Smallest ratios on the shared matrices: {low:.1f}x (default) and "
              f"{low_f:.0f}x (full); floors {met}. Shared matrices not compared for alpha: "
              f"{fit['fitted_below_20_evals']} fitted by both on {me}-19 eigenvalues (WW's other "
              f"estimator), {fit['ww_fit_below_min_evals']} fitted by WW only (deepscope: NaN "
              f"below `min_evals={me}`)."]
    return _head(data) + "\n".join(lines) + "\n"


RENDER: dict[str, Callable[[dict], str]] = {
    "startup": _startup, "threads": _threads, "study_times": _study_times,
    "representations": _representations, "representations_quick": _representations,
    "layer_representations_study": _layer_representations, "representations_twonn": _twonn,
    "inspect_scale": _inspect_scale, "resnet18_segment": _resnet18_segment,
    "real_models": _real_models,
    "real_models_ww": _real_models_ww,
}


def render(name: str) -> str:
    path = HERE / "results" / f"{name}.json"
    if name not in RENDER:
        raise SystemExit(f"BENCHMARKS.md has a table {name!r} that bench/tables.py cannot make")
    if not path.exists():
        raise SystemExit(f"no results for table {name!r}: run the script that writes {path}")
    return RENDER[name](json.loads(path.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="report stale tables, change nothing")
    args = parser.parse_args()
    text = DOC.read_text()
    stale = []

    def fill(m: re.Match) -> str:
        body = render(m["name"])
        if body != m["body"]:
            stale.append(m["name"])
        return m.group(1) + body + m.group(4)

    new = BLOCK.sub(fill, text)
    if args.check:
        if stale:
            print("stale tables in BENCHMARKS.md: " + ", ".join(stale) +
                  " (run python bench/tables.py)")
            sys.exit(1)
        return
    DOC.write_text(new)
    print(f"BENCHMARKS.md: {len(BLOCK.findall(text))} tables, {len(stale)} rewritten")


if __name__ == "__main__":
    main()
