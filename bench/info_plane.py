"""Benchmarks of the information-plane foundation (results go in BENCHMARKS.md).

    python bench/info_plane.py                 # everything below, 1 and 50 seeds
    python bench/info_plane.py --skip-study50  # quick
    python bench/info_plane.py --only kde      # just the KDE part (e.g. on a GPU box)

1. Binning MI of all layers at all capture epochs: deepscope's vectorised estimator vs a
   straightforward per-layer ``numpy.unique(axis=0)`` reference on the same activations
   (same numbers, speed ratio). Also one snapshot alone (the "< 10 ms" floor).
2. Whole ``info-plane`` study wall time (training + MI at every capture, default config)
   for 1 seed and 50 seeds.
3. KDE (pairwise upper + lower bounds) on one 4096-sample snapshot: time on CPU (and CUDA
   where available) and peak memory.
4. The stacked trainer alone: microseconds per optimizer step for 1 and 50 seeds.

``--device cuda`` runs the study and the trainer on the GPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch


def _np_reference(act: np.ndarray, y: np.ndarray, bins: int, lo: float, hi: float):
    """The straightforward way: digitize, then count distinct rows with numpy.unique."""
    act = act.astype(np.float64)  # deepscope bins float32 activations in float64 arithmetic
    idx = np.clip(np.floor((act - lo) / (hi - lo) * bins), 0, bins - 1).astype(np.int64)

    def h(rows: np.ndarray) -> float:
        _, counts = np.unique(rows, axis=0, return_counts=True)
        p = counts / counts.sum()
        return float(-(p * np.log2(p)).sum())

    h_t = h(idx)
    h_t_given_y = sum((y == c).mean() * h(idx[y == c]) for c in np.unique(y))
    return h_t, h_t - h_t_given_y


def _snapshots(seed: int = 0):
    from deepscope.data import tishby12
    from deepscope.studies.info_plane import InfoPlaneConfig
    from deepscope.train import StackedMLPTrainer

    cfg = InfoPlaneConfig()
    X, y = tishby12()
    trainer = StackedMLPTrainer(X, y, widths=cfg.widths, activation=cfg.activation,
                                seeds=[seed], lr=cfg.lr, batch_size=cfg.batch_size)
    snaps = []
    trainer.run(cfg.epochs, capture_epochs=[int(e) for e in cfg.capture_epochs()],
                on_capture=lambda s: snaps.append([a[0].clone() for a in s.activations]))
    return snaps, y


def bench_binning(reps: int = 3) -> dict:
    from deepscope.lenses.information import information_plane_stacked

    t0 = time.perf_counter()
    snaps, y = _snapshots()
    train_s = time.perf_counter() - t0
    yn = y.numpy()
    n_layers = len(snaps[0])

    def ours():
        return [[information_plane_stacked(a[None], y, method="binning", bins=30,
                                           range=(-1.0, 1.0)) for a in snap] for snap in snaps]

    def ref():
        return [[_np_reference(a.numpy(), yn, 30, -1.0, 1.0) for a in snap] for snap in snaps]

    ours_t = min(_timed(ours) for _ in range(reps))
    ref_t = min(_timed(ref) for _ in range(1))
    a, b = ours(), ref()
    diff = max(max(abs(float(r.i_xt[0]) - q[0]), abs(float(r.i_ty[0]) - q[1]))
               for ra, qa in zip(a, b) for r, q in zip(ra, qa))
    one = min(_timed(lambda: [information_plane_stacked(x[None], y, method="binning", bins=30,
                                                        range=(-1.0, 1.0)) for x in snaps[-1]])
              for _ in range(20))
    return {"snapshots": len(snaps), "layers": n_layers, "deepscope_s": ours_t,
            "numpy_unique_s": ref_t, "speedup": ref_t / ours_t, "max_abs_diff_bits": diff,
            "one_snapshot_ms": one * 1e3, "training_1_seed_s": train_s}


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_study(seeds: int, device: str) -> dict:
    from deepscope.studies import run_study

    with tempfile.TemporaryDirectory() as root:
        t = time.perf_counter()
        run = run_study("info-plane", sets=[f"seeds={seeds}"], root=root, device=device,
                        report=True)
        wall = time.perf_counter() - t
        m = run.manifest
    return {"seeds": seeds, "device": device, "wall_s": wall, "timings": m.get("timings"),
            "report_s": m.get("report_s")}


def bench_train(device: str, epochs: int = 100) -> list[dict]:
    """Microseconds per optimizer step of the default net on the study's data."""
    from deepscope.data import tishby12
    from deepscope.studies.info_plane import InfoPlaneConfig
    from deepscope.train import StackedMLPTrainer

    cfg = InfoPlaneConfig()
    X, y = tishby12(device=device)
    out = []
    for seeds in (1, 50):
        trainer = StackedMLPTrainer(X, y, widths=cfg.widths, activation=cfg.activation,
                                    seeds=range(seeds), lr=cfg.lr, batch_size=cfg.batch_size)
        trainer.run(5)  # warm-up
        steps = epochs * -(-trainer.n_train // cfg.batch_size)
        t = time.perf_counter()
        trainer.run(5 + epochs)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        us = (time.perf_counter() - t) / steps * 1e6
        out.append({"seeds": seeds, "device": device, "us_per_step": us,
                    "us_per_seed_step": us / seeds})
    return out


_KDE_CHILD = r"""
import json, resource, sys, time, torch
from deepscope.lenses.information import information_plane_stacked
dev = sys.argv[1]
g = torch.Generator().manual_seed(0)
acts = [torch.rand(1, 4096, w, generator=g).mul(2).sub(1).to(dev) for w in (10, 7, 5, 4, 3, 2)]
y = (torch.rand(4096, generator=g) < 0.5).long().to(dev)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # inputs exist; nothing computed yet
information_plane_stacked(acts[0], y, method="kde", noise_variance=1e-3)  # warm-up
if dev.startswith("cuda"):
    torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
best = float("inf")
for _ in range(3):
    t = time.perf_counter()
    for a in acts:
        information_plane_stacked(a, y, method="kde", noise_variance=1e-3)
    if dev.startswith("cuda"):
        torch.cuda.synchronize()
    best = min(best, time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = {"device": dev, "six_layers_s": best, "rss_growth_mb": (peak - base) / 1024}
if dev.startswith("cuda"):
    out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
print(json.dumps(out))
"""


def bench_kde() -> list[dict]:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results = []
    for dev in devices:
        out = subprocess.run([sys.executable, "-c", _KDE_CHILD, dev], capture_output=True,
                             text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["binning", "study", "kde", "train"], default=None)
    parser.add_argument("--device", default="cpu", help="device of the study and trainer runs")
    parser.add_argument("--skip-study50", action="store_true")
    parser.add_argument("--seeds", type=int, default=50, help="seeds of the big study run")
    args = parser.parse_args()
    info = {"python": platform.python_version(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "cuda": torch.cuda.is_available()}
    print(json.dumps({"machine": info}))
    if args.only in (None, "binning"):
        print(json.dumps({"binning": bench_binning()}))
    if args.only in (None, "kde"):
        print(json.dumps({"kde": bench_kde()}))
    if args.only in (None, "train"):
        print(json.dumps({"train": bench_train(args.device)}))
    if args.only in (None, "study"):
        print(json.dumps({"study": bench_study(1, args.device)}))
        if not args.skip_study50:
            print(json.dumps({"study": bench_study(args.seeds, args.device)}))



if __name__ == "__main__":
    main()
