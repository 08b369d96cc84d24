"""Benchmarks of the energy family: Ising sampling, RBM training and partition functions.

    python bench/energy.py            # full sizes (the numbers in BENCHMARKS.md)
    python bench/energy.py --quick    # smaller sizes, for a smoke run
    python bench/energy.py --figure docs/energy.png   # only the README figure

Everything runs on one thread (``torch.set_num_threads(1)``, ``OMP_NUM_THREADS=1``).

* Ising at T_c, L = 40: ``ds.data.ising`` with Swendsen-Wang (25,000 decorrelated
  configurations, burn-in and thinning measured) against vectorised checkerboard Metropolis
  (cost per sweep and integrated autocorrelation time measured on the same lattice) and a
  pure-Python single-spin Metropolis sweep (the kind of code whose data took 24 h): seconds
  per effectively independent configuration, and ratios.
* RBM 64-500 on the binarised digits: 20 epochs of PCD-1 through ``deepscope.train.fit``
  against scikit-learn's ``BernoulliRBM`` (also PCD-1), same epochs, batch and learning rate;
  AIS ``log Z`` (100 chains, 14,500 temperatures, Salakhutdinov & Murray's count) of both
  trained models and their train log-likelihood, with reverse AIS.
* RBM 64-20 on the digits: exact enumeration against AIS.

Every timing is recorded twice: wall seconds and this process's CPU seconds
(``time.process_time``, one thread). On a shared, busy machine the wall time includes waiting
for a core; the CPU time does not, so ratios are taken from CPU seconds.

Results go to ``bench/results/energy.json``; a Markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import deepscope as ds  # noqa: E402
from deepscope.data.ising import integrated_autocorrelation_time  # noqa: E402


class _Clock:
    """Wall and CPU seconds of a block: ``with _Clock() as c: ...; c.wall, c.cpu``."""

    def __enter__(self):
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.w0
        self.cpu = time.process_time() - self.c0
        return False


def _python_metropolis_sweep(s: list[list[int]], beta: float, rng: random.Random) -> None:
    L = len(s)
    for _ in range(L * L):
        i, j = rng.randrange(L), rng.randrange(L)
        nb = s[(i + 1) % L][j] + s[i - 1][j] + s[i][(j + 1) % L] + s[i][j - 1]
        d = 2 * s[i][j] * nb
        if d <= 0 or rng.random() < math.exp(-beta * d):
            s[i][j] = -s[i][j]


def ising_bench(quick: bool) -> dict:
    L, tc = 40, ds.data.ONSAGER_TC
    n = 2500 if quick else 25_000
    out: dict = {"L": L, "T": tc}
    with _Clock() as c:
        sw = ds.data.ising(L, [tc], n, seed=0, n_chains=50)
    out["sw"] = {"n": n, "seconds": c.cpu, "wall_seconds": c.wall, "burn_in": sw.burn_in,
                 "thin": sw.thin, "tau_energy": float(sw.tau_energy[0]),
                 "tau_abs_m": float(sw.tau_abs_m[0]),
                 "abs_m": float(np.abs(sw.magnetisation).mean())}
    out["sw"]["seconds_per_sample"] = out["sw"]["seconds"] / n
    sweeps, chains = (400, 8) if quick else (3000, 16)
    with _Clock() as c:
        cb = ds.data.ising(L, [tc], sweeps * chains, seed=1, n_chains=chains,
                           algorithm="checkerboard", burn_in=sweeps, thin=1)
    sec = c.cpu
    per_sweep = sec / (2 * sweeps) / chains
    tau = float(max(integrated_autocorrelation_time(np.abs(cb.magnetisation[0]).reshape(chains, -1)),
                    cb.tau_energy[0]))
    out["checkerboard"] = {"seconds_per_sweep_per_chain": per_sweep, "tau_abs_m": tau,
                           "sweeps_measured": sweeps,
                           "seconds_per_sample": per_sweep * max(1.0, 2 * tau)}
    rng = random.Random(0)
    s = [[1] * L for _ in range(L)]
    reps = 5 if quick else 20
    with _Clock() as c:
        for _ in range(reps):
            _python_metropolis_sweep(s, 1 / tc, rng)
    py_sweep = c.cpu / reps
    out["python"] = {"seconds_per_sweep": py_sweep,
                     "seconds_per_sample": py_sweep * max(1.0, 2 * tau),
                     "note": "tau taken from the checkerboard run (same single-spin dynamics)"}
    out["python"]["hours_for_25000"] = out["python"]["seconds_per_sample"] * 25_000 / 3600
    return out


def _digits() -> torch.Tensor:
    return (ds.data.digits(standardize=False).x_train > 0.5).float()


def rbm_bench(quick: bool) -> dict:
    from sklearn.neural_network import BernoulliRBM

    from deepscope.train import fit

    v = _digits()
    epochs, n_betas = (3, 2000) if quick else (20, 14_500)
    out: dict = {"n_train": int(v.shape[0]), "epochs": epochs, "n_betas": n_betas}
    rbm = ds.nets.RBM(64, 500, init_std=0.01, generator=torch.Generator().manual_seed(0))
    step = ds.nets.ContrastiveDivergence(k=1, persistent=True, seed=0)
    with _Clock() as c:
        fit(rbm, None, (v, v), step_fn=step, lr=0.05, epochs=epochs, batch_size=100, seed=0)
    out["deepscope_train_s"], out["deepscope_train_wall_s"] = c.cpu, c.wall
    sk = BernoulliRBM(n_components=500, learning_rate=0.05, batch_size=100, n_iter=epochs,
                      random_state=0)
    with _Clock() as c:
        sk.fit(v.numpy())
    out["sklearn_train_s"], out["sklearn_train_wall_s"] = c.cpu, c.wall
    other = ds.nets.RBM(64, 500)
    with torch.no_grad():
        other.W.copy_(torch.as_tensor(sk.components_.T, dtype=torch.float32))
        other.b.copy_(torch.as_tensor(sk.intercept_visible_, dtype=torch.float32))
        other.c.copy_(torch.as_tensor(sk.intercept_hidden_, dtype=torch.float32))
    for name, model in (("deepscope", rbm), ("sklearn", other)):
        with _Clock() as c:
            z = ds.lenses.energy.partition_function(model, "ais", n_chains=100,
                                                    n_betas=n_betas, seed=0, data=v,
                                                    reverse=True)
        ll = ds.lenses.energy.log_likelihood(model, v, log_z=z)
        out[f"{name}_ais"] = {"seconds_forward_and_reverse": c.cpu, "wall_seconds": c.wall,
                              "log_z": z.log_z,
                              "stderr": z.stderr, "log_z_upper": z.log_z_upper,
                              "train_log_likelihood": ll.mean}
    small = ds.nets.RBM(64, 20, init_std=0.01, generator=torch.Generator().manual_seed(1))
    fit(small, None, (v, v), step_fn=ds.nets.ContrastiveDivergence(k=1, seed=1), lr=0.05,
        epochs=epochs, batch_size=100, seed=1)
    with _Clock() as c:
        exact = ds.lenses.energy.partition_function(small, "exact")
    t_exact = c.cpu
    with _Clock() as c:
        ais = ds.lenses.energy.partition_function(small, "ais", n_chains=100, n_betas=n_betas,
                                                  data=v)
    out["rbm_64_20"] = {"exact_log_z": exact.log_z, "exact_s": t_exact, "ais_log_z": ais.log_z,
                        "ais_stderr": ais.stderr, "ais_s": c.cpu}
    return out


def figure(path: str) -> None:
    """Binder cumulants of L = 8, 16 around T_c, and AIS on a 64-20 RBM trained on digits."""
    from matplotlib.figure import Figure

    from deepscope.train import fit

    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    temps = np.linspace(1.9, 2.7, 11)
    for L in (8, 16):
        ds.plots.plot_ising_observables(ds.data.ising(L, temps, 2000, seed=L), "binder", ax=ax1)
    ax1.set_title("Swendsen-Wang samples: Binder cumulants cross near T_c", fontsize=9)
    v = _digits()
    rbm = ds.nets.RBM(64, 20, init_std=0.01, generator=torch.Generator().manual_seed(1))
    fit(rbm, None, (v, v), step_fn=ds.nets.ContrastiveDivergence(k=1, seed=1), lr=0.05,
        epochs=20, batch_size=100, seed=1)
    exact = ds.lenses.energy.partition_function(rbm, "exact").log_z
    ais = ds.lenses.energy.partition_function(rbm, "ais", n_chains=200, n_betas=5000, data=v,
                                              reverse=True)
    ds.plots.plot_ais_weights(ais, ax=ax2, exact=exact)
    ax2.set_title("AIS on an RBM 64-20 trained on the digits", fontsize=9)
    fig.savefig(path, dpi=110)
    print(f"exact {exact:.4f}  AIS {ais.log_z:.4f} +- {ais.stderr:.4f}  "
          f"reverse {ais.log_z_upper:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--figure", default=None, help="only draw the README figure here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.figure:
        figure(args.figure)
        return
    import datetime

    res = {"command": "python bench/energy.py" + (" --quick" if args.quick else ""),
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": {"cpus": os.cpu_count(), "torch": torch.__version__, "threads": 1,
                       "processor": platform.processor() or platform.machine()},
           "results": {"ising": ising_bench(args.quick), "rbm": rbm_bench(args.quick)}}
    path = Path(__file__).parent / "results" / ("energy_quick.json" if args.quick else
                                                "energy.json")
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(res, indent=2))
    i, r = res["results"]["ising"], res["results"]["rbm"]
    print(f"| Ising 40x40 at T_c | s per independent config | tau (sweeps) |")
    print("|---|---|---|")
    print(f"| Swendsen-Wang ({i['sw']['n']} configs in {i['sw']['seconds']:.1f} s, thin "
          f"{i['sw']['thin']}) | {i['sw']['seconds_per_sample']:.2e} | {i['sw']['tau_abs_m']:.2f} |")
    print(f"| checkerboard Metropolis | {i['checkerboard']['seconds_per_sample']:.2e} | "
          f"{i['checkerboard']['tau_abs_m']:.0f} |")
    print(f"| pure-Python Metropolis | {i['python']['seconds_per_sample']:.2e} | same |")
    print(f"\nRBM 64-500 (CPU s): train deepscope {r['deepscope_train_s']:.1f}, sklearn "
          f"{r['sklearn_train_s']:.1f}; AIS forward+reverse "
          f"{r['deepscope_ais']['seconds_forward_and_reverse']:.1f}")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
