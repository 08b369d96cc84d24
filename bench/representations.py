"""Benchmark of the representations lens against scikit-dimension 0.5.0 and torch-cka 0.21.

    python bench/representations.py --threads 1            # the sizes of the issue
    python bench/representations.py --quick --threads 1     # smaller sizes, same comparisons
    python bench/representations.py --device cuda           # on a GPU
    python bench/representations.py --figures docs          # README pictures from the study

Each timing is the best of ``--repeats`` runs, in the same process, on the same data:

* ``stream``: linear CKA of two ``n x p`` activation sets streamed in batches through
  :class:`deepscope.lenses.representations.CKA` (plain and debiased), against the floor of
  the three Gram products ``X^T Y, X^T X, Y^T Y`` of every batch (plain GEMMs, same dtype).
* ``matrix``: the ``L x L`` layer CKA matrix of two MLPs in one pass over ``n`` inputs with
  :func:`cka_matrix`, against the floor of its GEMMs (every cross product and Gram of the
  captured activations) and against torch-cka's ``CKA.compare`` on the same models and
  batches (torch-cka averages the unbiased HSIC over minibatches, so its values differ from
  the full-data CKA; the table gives the largest difference to deepscope's debiased values).
* ``twonn``: :func:`intrinsic_dimension` (TwoNN, MLE) on ``n x p`` points of a 10-dimensional
  linear manifold against scikit-dimension's ``TwoNN`` / ``MLE`` and against the floor of the
  one distance GEMM ``X X^T`` TwoNN needs.

Results go to ``bench/results/representations[_quick][_<device>].json``; ``python
bench/tables.py`` makes BENCHMARKS.md's table from them.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import warnings
from pathlib import Path

import _results  # noqa: E402  (bench/ is on sys.path)
import numpy as np
import torch
from _timing import best_of  # noqa: E402

from deepscope.lenses import representations as rep


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_stream(n, p, batch, device, repeats):
    """Streamed linear CKA vs the three Gram products of every batch."""
    g = _gen(0)
    shared = torch.randn(n, 64, generator=g)
    xs = (shared @ torch.randn(64, p, generator=g) + torch.randn(n, p, generator=g)).to(device)
    ys = (shared @ torch.randn(64, p, generator=g) + torch.randn(n, p, generator=g)).to(device)
    bx, by = xs.split(batch), ys.split(batch)

    def floor():
        for a, b in zip(bx, by):
            a.T @ b
            a.T @ a
            b.T @ b
        _sync(device)

    def stream(debiased):
        acc = rep.CKA(debiased=debiased)
        for a, b in zip(bx, by):
            acc.update(a, b)
        return acc.compute().value

    t_floor, _ = best_of(floor, repeats)
    t_plain, v_plain = best_of(lambda: stream(False), repeats)
    t_deb, v_deb = best_of(lambda: stream(True), repeats)
    flop = 2.0 * n * p * p * 3
    return {"n": n, "p": p, "batch": batch, "floor_s": t_floor, "cka_s": t_plain,
            "cka_debiased_s": t_deb, "ratio": t_plain / t_floor,
            "ratio_debiased": t_deb / t_floor, "gflop": flop / 1e9,
            "cka": v_plain, "cka_debiased": v_deb}


def _mlp(depth, width, d_in, seed, kaiming=True):
    """A ReLU MLP; ``kaiming`` keeps the activations' scale through depth (PyTorch's default
    Linear init shrinks it about 2x per layer)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers = []
        for i in range(depth):
            lin = torch.nn.Linear(d_in if i == 0 else width, width)
            if kaiming:
                torch.nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            layers += [lin, torch.nn.ReLU()]
        return torch.nn.Sequential(*layers)


def _torch_cka(a, b, x, layers, batch, device):
    """torch-cka's layer matrix (hooks it leaves on the models are removed afterwards)."""
    import contextlib
    import io

    import torch_cka
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(x.cpu()), batch_size=batch, shuffle=False)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            c = torch_cka.CKA(a, b, "a", "b", model1_layers=layers, model2_layers=layers,
                              device=str(device))
            c.compare(loader)
            return c.export()["CKA"].numpy()
    finally:
        for mod in (a, b):
            for sub in mod.modules():
                sub._forward_hooks.clear()


def check_nan(device):
    """torch-cka and deepscope on two default-init 12-layer MLPs (activations shrink with
    depth): does either give NaN?"""
    a = _mlp(12, 256, 64, 1, kaiming=False).to(device)
    b = _mlp(12, 256, 64, 2, kaiming=False).to(device)
    x = torch.randn(2000, 64, generator=_gen(3)).to(device)
    layers = [str(2 * i + 1) for i in range(12)]
    ours = rep.cka_matrix(a, b, list(x.split(500)), layers_a=layers, layers_b=layers,
                          debiased=True)
    try:
        peer = f"{int(np.isnan(_torch_cka(a, b, x, layers, 500, device)).sum())} NaN of 144"
    except AssertionError as exc:
        peer = f"AssertionError: {exc}"
    return {"deepscope_nan": int(np.isnan(ours.values).sum()), "torch_cka": peer,
            "deepscope_diag_min": float(np.min(np.diag(ours.values)))}


def bench_matrix(n, n_layers, width, batch, device, repeats, with_peer):
    """cka_matrix of two MLPs (every ReLU is a layer) vs its GEMM floor and torch-cka."""
    d_in = 64
    a = _mlp(n_layers, width, d_in, 1).to(device)
    b = _mlp(n_layers, width, d_in, 2).to(device)
    x = torch.randn(n, d_in, generator=_gen(3)).to(device)
    batches = list(x.split(batch))
    layers = [str(2 * i + 1) for i in range(n_layers)]

    def ours():
        return rep.cka_matrix(a, b, batches, layers_a=layers, layers_b=layers)

    def ours_debiased():
        return rep.cka_matrix(a, b, batches, layers_a=layers, layers_b=layers, debiased=True)

    def acts(model, xb):
        out, h = [], xb
        for m in model:
            h = m(h)
            if isinstance(m, torch.nn.ReLU):
                out.append(h)
        return out

    def floor():
        with torch.no_grad():
            for xb in batches:
                ra, rb = acts(a, xb), acts(b, xb)
                for u in ra:
                    u.T @ u
                    for v in rb:
                        u.T @ v
                for v in rb:
                    v.T @ v
        _sync(device)

    t_floor, _ = best_of(floor, repeats)
    t_ours, m = best_of(ours, repeats)
    t_deb, md = best_of(ours_debiased, repeats)
    out = {"n": n, "layers": n_layers, "width": width, "batch": batch, "floor_s": t_floor,
           "cka_matrix_s": t_ours, "cka_matrix_debiased_s": t_deb,
           "ratio": t_ours / t_floor, "diag_mean_cka": float(np.mean(np.diag(m.values))),
           "diag_mean_cka_debiased": float(np.mean(np.diag(md.values)))}
    if with_peer:
        try:
            import torch_cka  # noqa: F401
        except ImportError as exc:  # pragma: no cover
            out["torch_cka"] = f"not installed: {exc}"
            return out
        t_peer, vals = best_of(lambda: _torch_cka(a, b, x, layers, batch, device), 1)
        out.update({"torch_cka_s": t_peer, "speedup_vs_torch_cka": t_peer / t_ours,
                    "max_abs_diff_to_debiased": float(np.max(np.abs(vals - md.values)))})
    return out


def bench_twonn(n, p, d, device, repeats, with_peer):
    """TwoNN and MLE against scikit-dimension, and TwoNN against its distance GEMM."""
    g = _gen(5)
    z = torch.randn(n, d, generator=g)
    q = torch.linalg.qr(torch.randn(p, d, generator=g))[0]
    x = (z @ q.T).contiguous()
    xd = x.to(device)

    def floor():
        xd @ xd.T
        _sync(device)

    t_floor, _ = best_of(floor, repeats)
    t_two, r_two = best_of(lambda: rep.intrinsic_dimension(xd, n_bootstrap=0), repeats)
    t_boot, r_boot = best_of(lambda: rep.intrinsic_dimension(xd, n_bootstrap=200), 1)
    t_mle, r_mle = best_of(lambda: rep.intrinsic_dimension(xd, method="mle", n_bootstrap=0),
                           repeats)
    out = {"n": n, "p": p, "true_d": d, "gemm_floor_s": t_floor, "twonn_s": t_two,
           "twonn_ratio_to_gemm": t_two / t_floor, "twonn": r_two.dimension,
           "twonn_with_200_bootstrap_s": t_boot, "twonn_interval": list(r_boot.interval),
           "mle_s": t_mle, "mle": r_mle.dimension}
    if with_peer:
        try:
            import skdim
        except ImportError as exc:  # pragma: no cover
            out["skdim"] = f"not installed: {exc}"
            return out
        arr = x.numpy().astype(np.float64)
        t_sk, sk = best_of(lambda: skdim.id.TwoNN().fit(arr).dimension_, 1)
        t_skm, skm = best_of(lambda: skdim.id.MLE().fit(arr, n_neighbors=20).dimension_, 1)
        out.update({"skdim_twonn_s": t_sk, "skdim_twonn": float(sk),
                    "speedup_twonn": t_sk / t_two, "skdim_mle_s": t_skm, "skdim_mle": float(skm),
                    "speedup_mle": t_skm / t_mle})
    return out


def make_figures(folder: Path) -> None:
    """Run the default ``layer-representations`` study, copy two report figures and write its
    summary table to ``bench/results/layer_representations_study.json``."""
    import shutil
    import tempfile

    from deepscope import studies

    with tempfile.TemporaryDirectory() as tmp:
        run = studies.run_study("layer-representations", root=tmp, progress=False)
        for name in ("cka_layers", "intrinsic_dimension"):
            src = run.path / "figures" / f"{name}.png"
            shutil.copy(src, folder / f"layer_representations_{name}.png")
        table = studies.get("layer-representations").summary_table(run)
        timings = run.manifest.get("timings_s", {})
    print(table.to_string(index=False))
    _results.write("layer_representations_study",
                   f"python bench/representations.py --figures {folder} --threads "
                   f"{torch.get_num_threads()}",
                   {"summary": table.to_dict(orient="records"), "timings_s": timings,
                    "threads": torch.get_num_threads()})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=("stream", "matrix", "twonn"), default=None)
    ap.add_argument("--no-peers", action="store_true", help="skip torch-cka / scikit-dimension")
    ap.add_argument("--figures", type=Path, default=None,
                    help="run the default study and write the README pictures into this folder")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.figures is not None:
        make_figures(args.figures)
        return 0
    device = torch.device(args.device)
    peers = not args.no_peers
    sizes = ({"stream": (10_000, 1024, 1000), "matrix": (2_000, 12, 256, 500),
              "twonn": (4_000, 512, 10)} if args.quick else
             {"stream": (50_000, 2048, 5000), "matrix": (10_000, 12, 512, 1000),
              "twonn": (10_000, 512, 10)})
    res = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
           "machine": platform.processor() or platform.machine(), "quick": args.quick}
    if args.only in (None, "stream"):
        res["stream"] = bench_stream(*sizes["stream"], device, args.repeats)
        print("stream", json.dumps(res["stream"]), flush=True)
    if args.only in (None, "matrix"):
        res["matrix"] = bench_matrix(*sizes["matrix"], device, args.repeats, peers)
        print("matrix", json.dumps(res["matrix"]), flush=True)
        if peers:
            res["nan_check"] = check_nan(device)
            print("nan_check", json.dumps(res["nan_check"]), flush=True)
    if args.only in (None, "twonn"):
        res["twonn"] = bench_twonn(*sizes["twonn"], device, args.repeats, peers)
        print("twonn", json.dumps(res["twonn"]), flush=True)
    suffix = ("_quick" if args.quick else "") + ("" if device.type == "cpu" else f"_{device.type}")
    if args.only:
        suffix += f"_{args.only}"
    _results.write(f"representations{suffix}", "python bench/representations.py "
                   + " ".join(argv if argv is not None else sys.argv[1:]), res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
