"""Benchmarks of ``ds.sweep`` (results go in BENCHMARKS.md and bench/results/sweeps.json).

    python bench/sweeps.py                    # overhead (local, bare pool, ray) + info-plane
    python bench/sweeps.py --skip-ray         # without Ray
    python bench/sweeps.py --epochs 8000      # the 50-seed info-plane at the paper's length

1. Overhead per run: 100 trivial runs (``sweep-probe``: one row, no report) through the
   ``local`` executor (2 workers x 1 thread), against a bare ``ProcessPoolExecutor`` (same
   workers, same start method) calling the same ``run_study`` for the same 100 configs, and
   a bare pool writing the row with the store alone (create, record, flush, done). Best of
   ``--repeats``, alternating. Ray: the same 100 runs on a local instance (``num_cpus=2``),
   cold (first sweep: worker processes start and import torch) and warm.
2. The 50-seed ``info-plane``: one stacked run through ``run_study`` against the same
   config through ``ds.sweep(seeds=50)`` (the study stacks seeds, so the sweep keeps one
   50-seed run).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import sweep_probe  # noqa: E402,F401  (registers sweep-probe)

import deepscope as ds  # noqa: E402

N_RUNS = 100
WORKERS = 2


def _init() -> None:
    torch.set_num_threads(1)


def _bare_run_study(args: tuple[str, int]) -> str:
    from deepscope.studies import run_study

    root, seed = args
    cfg = sweep_probe.ProbeConfig(first_seed=seed)
    return run_study("sweep-probe", cfg, root=root, report=False).id


def _bare_store(args: tuple[str, int]) -> str:
    from deepscope.store import RunStore

    root, seed = args
    run = RunStore(root).create("sweep-probe", {"value": 1.0, "first_seed": seed}, [seed],
                                run_id=f"bare-{seed:04d}")
    run.record(step=0, lens="probe", layer="", metric="value", value=1.0, seed=seed)
    run.flush()
    run.set_status("done")
    return run.id


def _bare(fn, root: Path) -> float:
    t0 = time.perf_counter()
    with ProcessPoolExecutor(WORKERS, mp_context=mp.get_context("fork"),
                             initializer=_init) as pool:
        list(pool.map(fn, [(str(root), s) for s in range(N_RUNS)]))
    return time.perf_counter() - t0


def _sweep(root: Path, executor="local") -> float:
    t0 = time.perf_counter()
    sw = ds.sweep("sweep-probe", seeds=N_RUNS, root=root, executor=executor,
                  workers=WORKERS if executor == "local" else None, report=False)
    elapsed = time.perf_counter() - t0
    assert sw.manifest["counts"] == {"done": N_RUNS}, sw.manifest["counts"]
    return elapsed


def bench_overhead(repeats: int, with_ray: bool) -> dict:
    times: dict[str, list[float]] = {"local": [], "bare_run_study": [], "bare_store": []}
    for _ in range(repeats):
        for name in times:
            root = Path(tempfile.mkdtemp(prefix="sweepbench-"))
            try:
                if name == "local":
                    times[name].append(_sweep(root))
                elif name == "bare_run_study":
                    times[name].append(_bare(_bare_run_study, root))
                else:
                    times[name].append(_bare(_bare_store, root))
            finally:
                shutil.rmtree(root, ignore_errors=True)
    best = {k: min(v) for k, v in times.items()}
    out = {"runs": N_RUNS, "workers": WORKERS, "times_s": times, "best_s": best,
           "local_over_bare_run_study": best["local"] / best["bare_run_study"],
           "local_over_bare_store": best["local"] / best["bare_store"],
           "per_run_ms": {k: 1000 * v / N_RUNS for k, v in best.items()}}
    # a rerun of a finished sweep only checks that every run is done
    root = Path(tempfile.mkdtemp(prefix="sweepbench-"))
    _sweep(root)
    out["rerun_done_sweep_s"] = _sweep(root)
    shutil.rmtree(root, ignore_errors=True)
    if with_ray:
        import ray

        from deepscope.sweeps import RayExecutor

        ex = RayExecutor(num_cpus=WORKERS)
        t0 = time.perf_counter()
        ex._init()
        out["ray_init_s"] = time.perf_counter() - t0
        ray_times = []
        for _ in range(repeats + 1):
            root = Path(tempfile.mkdtemp(prefix="sweepbench-"))
            ray_times.append(_sweep(root, ex))
            shutil.rmtree(root, ignore_errors=True)
        ray.shutdown()
        out["ray_cold_s"] = ray_times[0]
        out["ray_warm_s"] = min(ray_times[1:])
        out["ray_warm_over_bare_run_study"] = out["ray_warm_s"] / best["bare_run_study"]
    return out


def bench_info_plane(seeds: int, epochs: int) -> dict:
    from deepscope.studies import run_study
    from deepscope.studies.info_plane import InfoPlaneConfig

    fixed = {"epochs": epochs}
    cfg = InfoPlaneConfig(seeds=seeds, epochs=epochs)
    root = Path(tempfile.mkdtemp(prefix="sweepbench-"))
    try:
        t0 = time.perf_counter()
        run = run_study("info-plane", cfg, root=root / "single", report=False)
        single = time.perf_counter() - t0
        t0 = time.perf_counter()
        sw = ds.sweep("info-plane", seeds=seeds, fixed=fixed, root=root / "sweep",
                      report=False)
        swept = time.perf_counter() - t0
        rows_single = run.rows()
        runs = sw.manifest["runs"]
        same = sw.measurements()[["step", "lens", "layer", "metric", "value", "seed"]]
        same = same.sort_values(["seed", "step", "lens", "layer", "metric"]).reset_index(drop=True)
        ref = run.measurements().sort_values(["seed", "step", "lens", "layer", "metric"])
        identical = bool(ref.reset_index(drop=True).equals(same))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"seeds": seeds, "epochs": epochs, "single_run_s": single, "sweep_s": swept,
            "sweep_over_single": swept / single, "sweep_runs": len(runs),
            "rows": rows_single, "bit_identical": identical}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-info-plane", action="store_true")
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    result: dict = {}
    result["overhead"] = bench_overhead(args.repeats, not args.skip_ray)
    print(json.dumps({"overhead": result["overhead"]}, indent=1), flush=True)
    if not args.skip_info_plane:
        result["info_plane"] = bench_info_plane(args.seeds, args.epochs)
        print(json.dumps({"info_plane": result["info_plane"]}, indent=1), flush=True)
    from _results import RESULTS, write

    path = RESULTS / "sweeps.json"
    previous = json.loads(path.read_text()).get("results", {}) if path.exists() else {}
    for key in ("overhead", "info_plane"):  # a part skipped now keeps its last result
        if key not in result and key in previous:
            result[key] = previous[key]
        elif key in result:
            result[key]["command"] = "python bench/sweeps.py " + " ".join(sys.argv[1:])
    write("sweeps", "python bench/sweeps.py " + " ".join(sys.argv[1:]), result)


if __name__ == "__main__":
    main()
