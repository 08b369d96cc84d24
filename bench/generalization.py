"""Benchmarks of the generalization lens and its studies (results go in BENCHMARKS.md).

    python bench/generalization.py --threads 1                 # lens kernels (a minute)
    python bench/generalization.py --threads 1 --studies       # + every study's default run,
                                                               #   README pictures -> docs/
    python bench/generalization.py --zoo-full-only             # only the 162-net zoo, 2 workers

Writes ``bench/results/generalization.json``. Compared in the same run:

1. ``max-margin``'s closed-form engine (numba) against an autograd step (``torch.optim.SGD``)
   and a closed-form numpy step, per GD step, on Soudry et al.'s 24-point data.
2. The exact operator norm of a convolution: Sedghi et al.'s FFT (``spectral``) against the
   SVD of the dense matrix of the convolution (built from its Jacobian), with their agreement.
3. PAC-Bayes flatness: every probe of a bisection step in one ``vmap``-batched forward pass
   (``chunk=16``) against one forward pass per probe (``chunk=1``), same numbers.
4. ``--studies``: wall time and the headline numbers of each study's default run.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import _results  # noqa: E402  (bench/ is on sys.path)
from _timing import best_of  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def bench_engine() -> dict:
    from deepscope.studies.max_margin.engine import Engine, LinearModel, compiled
    from deepscope.studies.max_margin.work import separable_data

    x, y = separable_data(10, 0.3, 0)
    a = y[:, None] * x
    lr = 1.0 / (np.linalg.norm(x, 2) ** 2 / 4)
    compiled()
    Engine("gd", a, np.array([2]), lr)(LinearModel(2), None, None)  # compile
    n = 1_000_000
    t_engine, _ = best_of(lambda: Engine("gd", a, np.array([n]), lr)(LinearModel(2), None,
                                                                       None), 3)
    at = torch.from_numpy(a)
    model = LinearModel(2)
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def autograd_steps(k=2000):
        for _ in range(k):
            opt.zero_grad()
            torch.nn.functional.softplus(-model(at)).sum().backward()
            opt.step()
    t_auto, _ = best_of(autograd_steps, 3)
    w = np.zeros(2)
    m = np.empty(len(a))
    g = np.empty(2)

    def numpy_steps(k=20000):
        for _ in range(k):
            np.dot(a, w, out=m)
            np.exp(m, out=m)
            np.add(m, 1.0, out=m)
            np.reciprocal(m, out=m)
            np.dot(m, a, out=g)
            np.multiply(g, lr, out=g)
            np.add(w, g, out=w)
    t_np, _ = best_of(numpy_steps, 3)
    per = {"engine_us": t_engine / n * 1e6, "autograd_us": t_auto / 2000 * 1e6,
           "numpy_us": t_np / 20000 * 1e6}
    per["engine_1e7_s"] = per["engine_us"] * 10
    per["autograd_1e7_min"] = per["autograd_us"] * 10 / 60
    per["speedup_vs_autograd"] = per["autograd_us"] / per["engine_us"]
    per["speedup_vs_numpy"] = per["numpy_us"] / per["engine_us"]
    return per


def bench_conv() -> dict:
    from torch import nn

    from deepscope.lenses import generalization as gen

    out = {}
    for c, n in ((8, 12), (16, 16)):
        g = torch.Generator().manual_seed(0)
        conv = nn.Conv2d(c, c, 3, padding=1, padding_mode="circular", bias=False).double()
        with torch.no_grad():
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=g, dtype=torch.float64))
        t_fft, s = best_of(lambda: gen.spectral(conv, input_shape=(c, n, n)), 3)

        def dense():
            x = torch.zeros(c * n * n, dtype=torch.float64)
            jac = torch.autograd.functional.jacobian(
                lambda v: conv(v.reshape(1, c, n, n)).reshape(-1), x, vectorize=True)
            return float(torch.linalg.matrix_norm(jac, ord=2))
        t_dense, ref = best_of(dense, 1)
        out[f"{c}ch_{n}x{n}"] = {"fft_s": t_fft, "dense_s": t_dense,
                                 "ratio": t_dense / t_fft, "fft": float(s.operator_norms[0]),
                                 "dense": ref,
                                 "rel_diff": abs(float(s.operator_norms[0]) - ref) / ref}
    return out


def bench_pac_bayes() -> dict:
    from torch.nn import functional as F

    from deepscope.data.digits import digits
    from deepscope.lenses import generalization as gen
    from deepscope.studies._generalization import mlp, train_until

    d = digits(seed=0)
    net = mlp(64, 256, 2, 10, 0)
    train_until(net, d.x_train, d.y_train, lr=0.05, batch_size=64, max_epochs=60, seed=0)
    kw = dict(target_increase=0.1, n_draws=8, repeats=2, steps=12, seed=0)
    data = (d.x_train[:512], d.y_train[:512])
    t_v, a = best_of(lambda: gen.pac_bayes_flatness(net, F.cross_entropy, data, chunk=16, **kw))
    t_1, b = best_of(lambda: gen.pac_bayes_flatness(net, F.cross_entropy, data, chunk=1, **kw))
    return {"params": sum(p.numel() for p in net.parameters()), "vmap_s": t_v, "loop_s": t_1,
            "ratio": t_1 / t_v, "sigma_vmap": a.sigma, "sigma_loop": b.sigma,
            "spread": a.spread}


def run_studies(zoo_full: bool, only_zoo_full: bool = False) -> dict:
    from deepscope import studies

    out = {}
    root = Path("/tmp/deepscope_bench_generalization" + ("_zoo" if only_zoo_full else ""))
    shutil.rmtree(root, ignore_errors=True)
    plans = [("max-margin", [], "max_margin"), ("matrix-factorization", [], "matrix_factorization"),
             ("network-size", [], "network_size"),
             ("generalization-measures", [], "generalization_measures")]
    if only_zoo_full:
        plans = []
    if zoo_full or only_zoo_full:
        plans.append(("generalization-measures",
                      ["lrs=0.02,0.05,0.1", "batch_sizes=32,128,512", "widths=64,128,256",
                       "depths=1,2,3", "workers=2"], "generalization_measures_full"))
    for name, sets, fig in plans:
        t0 = time.perf_counter()
        run = studies.run_study(name, sets=sets, root=root, progress=False)
        wall = time.perf_counter() - t0
        mod = sys.modules[f"deepscope.studies.{name.replace('-', '_')}.figures"]
        table = mod.summary_table(run)
        entry = {"sets": sets, "wall_s": wall, "summary": json.loads(table.to_json(
            orient="records"))}
        if hasattr(mod, "measure_table"):
            entry["measures"] = json.loads(mod.measure_table(run).to_json(orient="records"))
        if name == "generalization-measures":
            nets = mod.nets(run)
            entry["nets"] = int(len(nets))
            entry["fitted"] = int((nets.reached > 0.5).sum())
        out[fig] = entry
        src = run.figures_dir / f"{name.replace('-', '_')}.png"
        if src.exists():
            shutil.copy(src, ROOT / "docs" / f"{fig}.png")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--studies", action="store_true")
    parser.add_argument("--zoo-full", action="store_true")
    parser.add_argument("--zoo-full-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.zoo_full_only:
        res = {"load_avg": list(__import__("os").getloadavg()),
               "studies": run_studies(False, only_zoo_full=True)}
        _results.write("generalization_zoo_full", "python bench/generalization.py "
                       "--zoo-full-only", res)
        print(json.dumps(res, indent=1)[:3000])
        return
    res = {"machine": {"python": platform.python_version(), "torch": torch.__version__,
                       "threads": args.threads, "load_avg": list(__import__("os").getloadavg())}}
    res["engine"] = bench_engine()
    print("engine", res["engine"], flush=True)
    res["conv"] = bench_conv()
    print("conv", res["conv"], flush=True)
    res["pac_bayes"] = bench_pac_bayes()
    print("pac_bayes", res["pac_bayes"], flush=True)
    if args.studies:
        res["studies"] = run_studies(args.zoo_full)
    command = "python bench/generalization.py" + (" --studies" if args.studies else "") + (
        " --zoo-full" if args.zoo_full else "")
    _results.write("generalization", command, res)
    print(json.dumps(res, indent=1)[:4000])


if __name__ == "__main__":
    main()
