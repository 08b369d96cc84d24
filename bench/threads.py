"""Study run time at 1 vs 2 torch threads, and how much the numbers move between them.

Each case runs ``deepscope run STUDY --threads N --no-report`` in a fresh process, ``--repeats``
times per thread count, alternating 1 and 2 so both see the same machine load. The numbers
of the two thread counts are compared row by row (same config and seed): the largest
absolute and relative difference, and the share of rows that differ at all. Writes
``bench/results/threads.json``.

    python bench/threads.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _results  # noqa: E402

CASES = {
    "info-plane": ["epochs=500", "capture_points=20"],
    "depth-separation": [],
}


def _run(study: str, sets: list[str], threads: int, out: Path) -> tuple[float, Path]:
    args = [sys.executable, "-m", "deepscope.cli", "run", study, "--threads", str(threads),
            "--out", str(out), "--quiet", "--no-report"]
    for s in sets:
        args += ["--set", s]
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)  # let --threads decide
    env.pop("MKL_NUM_THREADS", None)
    t0 = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - t0
    newest = max((out / study).iterdir(), key=lambda p: p.stat().st_mtime)
    return wall, newest


def _values(run_dir: Path):
    from deepscope.store import Run

    df = Run(run_dir).measurements()
    df = df[~df["metric"].str.endswith("_s")]  # timings are not results
    return df.sort_values(["step", "lens", "layer", "metric", "seed"]).reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--study", action="append", default=None,
                        help="only these studies (default: " + ", ".join(CASES) + ")")
    args = parser.parse_args()
    rows = []
    for study in args.study or list(CASES):
        sets = CASES.get(study, [])
        walls = {1: [], 2: []}
        dirs = {}
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.repeats):
                for threads in (1, 2):
                    wall, run_dir = _run(study, sets, threads, Path(tmp) / f"t{threads}")
                    walls[threads].append(wall)
                    dirs[threads] = run_dir
            a, b = _values(dirs[1]), _values(dirs[2])
            same_rows = (len(a) == len(b)
                         and (a[["step", "lens", "layer", "metric", "seed"]]
                              .equals(b[["step", "lens", "layer", "metric", "seed"]])))
            va, vb = a["value"].to_numpy(), b["value"].to_numpy()
            both = np.isfinite(va) & np.isfinite(vb) if same_rows else None
            diff = np.abs(va - vb)[both] if same_rows else np.array([np.nan])
            rel = diff / np.maximum(np.abs(va[both]), 1e-12) if same_rows else diff
        rows.append({
            "study": study, "sets": sets, "rows": int(len(a)), "same_rows": bool(same_rows),
            "wall_s_1_thread": round(min(walls[1]), 2), "wall_s_2_threads": round(min(walls[2]), 2),
            "ratio_2_over_1": round(min(walls[2]) / min(walls[1]), 2),
            "max_abs_diff": float(diff.max()) if diff.size else 0.0,
            "max_rel_diff": float(rel.max()) if rel.size else 0.0,
            "share_rows_differing": float((diff > 0).mean()) if diff.size else 0.0,
        })
        print(rows[-1], flush=True)
    cmd = f"python bench/threads.py --repeats {args.repeats}"
    if args.study:
        cmd += "".join(f" --study {s}" for s in args.study)
    _results.write("threads", cmd, rows)


if __name__ == "__main__":
    main()
