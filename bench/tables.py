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


RENDER: dict[str, Callable[[dict], str]] = {
    "startup": _startup, "threads": _threads, "study_times": _study_times,
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
