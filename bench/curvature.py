"""Curvature lens vs PyHessian 0.1, side by side on the same CNN and batch (BENCHMARKS.md).

    python bench/curvature.py             # full: 3 repetitions, 5 trace seeds
    python bench/curvature.py --quick     # 1 repetition, 2 trace seeds
    python bench/curvature.py --device cuda

Model: ``SmallCNN(hidden=34)`` (3,808 parameters) trained 150 full-batch SGD steps on
scikit-learn's digits; batch: the first 512 training images; loss: cross-entropy. Truth:
the dense float64 Hessian from plain double-backward autograd (not deepscope's code).

Rows: top-1 and top-5 eigenvalues at the same tolerance (1e-3; PyHessian's is the relative
change between power iterations, deepscope's the relative residual), with Hessian-vector
products (HVPs) counted in both tools and errors against the dense eigenvalues; the trace
to 1% relative standard error with Hutch++ and with plain Hutchinson (and PyHessian's
Hutchinson at its defaults); the density (SLQ, 1 run of 100 steps, PyHessian's defaults).
PyHessian needs care: its constructor puts the model in eval mode and runs
``backward(create_graph=True)`` on it, so ``.grad`` is cleared and the mode restored after
each use (two objects on one model without that give 2x the Hessian).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

F = torch.nn.functional


def _setup(device: str):
    from deepscope.data import digits
    from deepscope.nets import SmallCNN

    torch.manual_seed(0)
    data = digits(image=True, seed=0)
    model = SmallCNN(hidden=34)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(model(data.x_train), data.y_train).backward()
        opt.step()
    model.zero_grad(set_to_none=True)
    model.eval()
    x, y = data.x_train[:512].to(device), data.y_train[:512].to(device)
    return model.to(device), x, y


def _dense(model, x, y) -> torch.Tensor:
    """Dense float64 Hessian by double-backward autograd on a copy (rows in chunks)."""
    import copy

    m = copy.deepcopy(model).double()
    params = [p for p in m.parameters()]
    loss = F.cross_entropy(m(x.double()), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    flat = torch.cat([g.reshape(-1) for g in grads])
    n = flat.numel()
    rows = []
    for i in range(0, n, 256):
        eye = torch.eye(n, dtype=torch.float64, device=x.device)[i:i + 256]
        hv = torch.autograd.grad(flat, params, eye, retain_graph=True, is_grads_batched=True)
        rows.append(torch.cat([h.reshape(h.shape[0], -1) for h in hv], 1))
    h = torch.cat(rows)
    return (h + h.T) / 2


class _PyHessian:
    """PyHessian with its HVPs counted, ``.grad`` cleared and the mode restored per use."""

    def __init__(self, model, x, y, device):
        import importlib

        ph = importlib.import_module("pyhessian.hessian")  # the module, not the class

        self.ph, self.model, self.x, self.y = ph, model, x, y
        self.cuda = device.startswith("cuda")
        self.count = 0
        original = ph.hessian_vector_product

        def counted(*args, **kwargs):
            self.count += 1
            return original(*args, **kwargs)

        ph.hessian_vector_product = counted

    def run(self, method: str, **kwargs):
        was = self.model.training
        self.model.zero_grad(set_to_none=True)
        self.count = 0
        try:
            obj = self.ph.hessian(self.model, F.cross_entropy, data=(self.x, self.y),
                                  cuda=self.cuda)
            return getattr(obj, method)(**kwargs), self.count
        finally:
            self.model.zero_grad(set_to_none=True)
            self.model.train(was)


def _timed(fn, reps: int, device: str):
    best, out = float("inf"), None
    for _ in range(reps):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best, out


def _figure(model, x, y, path: str) -> None:
    """Hessian vs Gauss-Newton density of the trained CNN (5 runs x 100 steps each)."""
    from matplotlib.figure import Figure

    from deepscope.lenses import curvature as C
    from deepscope.plots import plot_hessian_density

    fig = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for kind in ("hessian", "gauss-newton"):
        dens = C.hessian_density(model, F.cross_entropy, (x, y), n_runs=5, n_iter=100,
                                 kind=kind, n_grid=1500)
        plot_hessian_density(dens, ax, label=f"{kind} (mean {dens.moment(1):.3g})")
        print(f"{kind}: min node {float(dens.nodes.min()):.4g}, max node "
              f"{float(dens.nodes.max()):.4g}, mean eigenvalue {dens.moment(1):.4g}, "
              f"n_hvp {dens.n_hvp}")
    ax.set_xlabel("eigenvalue")
    ax.set_title(f"SmallCNN on digits, {x.shape[0]} images: Hessian vs Gauss-Newton (SLQ)",
                 fontsize=9)
    fig.savefig(path, dpi=110)


def _fmt(values) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repetition, 2 trace seeds")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--figure", help="also save the README density picture here (PNG)")
    args = parser.parse_args()
    reps, seeds = (1, 2) if args.quick else (3, 5)
    dev = args.device

    from deepscope.lenses import curvature as C

    model, x, y = _setup(dev)
    n_params = sum(p.numel() for p in model.parameters())
    t = time.perf_counter()
    ev = torch.linalg.eigvalsh(_dense(model, x, y)).cpu()
    dense_s = time.perf_counter() - t
    top, trace = ev.flip(0)[:5], float(ev.sum())
    peer = _PyHessian(model, x, y, dev)
    rows = []

    def err(vals, k):
        got = torch.tensor([float(v) for v in vals], dtype=torch.float64)
        return float(((got.sort(descending=True).values - top[:k]).abs() / top[:k]).max())

    for k in (1, 5):
        ds_s, ds = _timed(lambda: C.hessian_eigs(model, F.cross_entropy, (x, y), k=k,
                                                 tol=1e-3), reps, dev)
        ph_s, (ph, ph_n) = _timed(lambda: peer.run("eigenvalues", top_n=k, tol=1e-3), reps,
                                  dev)
        ph_vals = [float(v) for v in ph[0]]
        ph_sorted = all(a >= b for a, b in zip(ph_vals, ph_vals[1:]))
        rows.append((f"top-{k} eigenvalues", f"{ds_s:.3f}", f"{ph_s:.3f}", str(ds.n_hvp),
                     str(ph_n), f"{ph_n / ds.n_hvp:.1f}x",
                     f"deepscope {_fmt(ds.eigenvalues.tolist())} (max rel. err "
                     f"{err(ds.eigenvalues.tolist(), k):.1e}); PyHessian {_fmt(ph_vals)} "
                     f"({'sorted' if ph_sorted else 'unsorted'}, max rel. err after sorting "
                     f"{err(ph_vals, k):.1e}); dense {_fmt(top[:k].tolist())}"))

    for method in ("hutch++", "hutchinson"):
        results = [C.hessian_trace(model, F.cross_entropy, (x, y), method=method, rtol=1e-2,
                                   max_hvp=20000, seed=s) for s in range(seeds)]
        t_s, _ = _timed(lambda m=method: C.hessian_trace(model, F.cross_entropy, (x, y),
                                                         method=m, rtol=1e-2, max_hvp=20000),
                        reps, dev)
        n = statistics.mean(r.n_hvp for r in results)
        errs = [abs(r.estimate - trace) / trace for r in results]
        rows.append((f"trace, {method} to 1% rel. stderr", f"{t_s:.3f}", "", f"{n:.0f}", "",
                     "", f"mean over {seeds} seeds; |error| vs dense trace {trace:.4g}: "
                     f"max {max(errs):.2%}, mean {statistics.mean(errs):.2%}"))
    ph_s, (ph_tr, ph_n) = _timed(lambda: peer.run("trace"), reps, dev)
    ph_est = statistics.mean(ph_tr)
    rows.append(("trace, PyHessian Hutchinson (maxIter=100, tol=1e-3)", "", f"{ph_s:.3f}", "",
                 str(ph_n), "", f"estimate {ph_est:.4g}, error {abs(ph_est - trace) / trace:.2%}"
                 " (stops on relative change of the running mean, no error estimate)"))

    ds_s, dens = _timed(lambda: C.hessian_density(model, F.cross_entropy, (x, y), n_runs=1,
                                                  n_iter=100), reps, dev)
    try:
        peer.run("density", iter=100, n_v=1)
        ph_note = "ran"
    except Exception as exc:  # torch.eig is gone from PyTorch
        ph_note = f"fails: {type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
    rows.append(("density (SLQ, 1 run x 100 steps)", f"{ds_s:.3f}", "", str(dens.n_hvp), "",
                 "", f"deepscope mean eigenvalue {dens.moment(1):.3g} vs dense "
                 f"{trace / n_params:.3g}; PyHessian density() {ph_note}"))

    if args.figure:
        _figure(model, x, y, args.figure)
    print(f"\nCurvature, SmallCNN(hidden=34) ({n_params} parameters), batch {x.shape[0]}, "
          f"device {dev}, torch {torch.__version__}, {platform.machine()}; dense Hessian "
          f"{dense_s:.1f} s; times are the minimum of {reps}.\n")
    print("| workload | deepscope s | PyHessian s | deepscope HVPs | PyHessian HVPs | "
          "HVP ratio | values |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
