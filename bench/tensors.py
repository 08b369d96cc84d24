"""Benchmark of the tensors lens and its two studies; the README's numbers and pictures.

    python bench/tensors.py                   # lens timings + both studies (default configs)
    python bench/tensors.py --only lens       # lens timings only (about a minute)
    python bench/tensors.py --only study      # both studies, their tables and docs/*.png
    python bench/tensors.py --only study --reuse   # tables and pictures of the last runs

Run with one torch thread (``--threads 1``, the default). Timings are the best of
``--repeats`` runs. Peers in the same run:

* grid tensor of a deep ConvAC, N = 16 (65,536 assignments): deepscope ``grid_tensor``
  (chunked float64 forward; and with the exact modular residues) vs one unchunked float64
  forward of all assignments, and vs the closed-form contraction of the weights in NumPy;
* separation rank of the 256 x 256 odd-even matricization: exact modular elimination vs
  ``numpy.linalg.matrix_rank`` (float64 SVD rule), with the rank each one reports;
* CP-ALS on the grid tensor of a deep net with N = 8: the study's ALS vs TensorLy 0.10
  ``parafac`` (same number of terms and sweeps), time and relative error;
* ``rank_bound`` on a 16 x 16 image ConvAC (no peer: its grid has 4^256 entries).

Writes ``bench/results/tensors.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _timing import best_of as _best  # noqa: E402  (bench/ is on sys.path)

ROOT = Path(__file__).resolve().parent.parent


def lens_bench(repeats: int) -> dict:
    import deepscope as ds
    from deepscope.lenses.tensors import grid_tensor, rank_bound, separation_rank

    sys.path.insert(0, str(ROOT))
    from tests.lenses.tensors.oracle import contraction

    out = {}
    net = ds.nets.convac(16, 2, 2, seed=0)
    eye = torch.eye(2)
    t_grid, grid = _best(lambda: grid_tensor(net, eye, exact=False), repeats)
    t_exact, grid_x = _best(lambda: grid_tensor(net, eye), repeats)

    def one_batch():
        idx = torch.arange(2 ** 16)
        digits = (idx[:, None] // 2 ** torch.arange(15, -1, -1)) % 2
        x = eye.double()[digits].transpose(1, 2)
        params = {k: v.detach().double() for k, v in net.named_parameters()}
        with torch.no_grad():
            return torch.func.functional_call(net, params, (x,))

    t_batch, _ = _best(one_batch, repeats)
    t_oracle, dense = _best(lambda: contraction(net, eye), repeats)
    out["grid_n16"] = {"grid_tensor_s": t_grid, "grid_tensor_exact_s": t_exact,
                       "one_batch_forward_s": t_batch, "numpy_contraction_s": t_oracle,
                       "max_rel_diff_to_contraction": float(np.abs(grid.values.numpy() - dense)
                                                            .max() / np.abs(dense).max())}
    t_rank, res = _best(lambda: separation_rank(grid_x, "odd-even"), repeats)
    mat = grid.values.permute(*range(0, 16, 2), *range(1, 16, 2)).reshape(256, 256).numpy()
    t_np, np_rank = _best(lambda: int(np.linalg.matrix_rank(mat)), repeats)
    t_svd, svd = _best(lambda: separation_rank(grid, "odd-even", exact=False), repeats)
    out["rank_256"] = {"exact_s": t_rank, "exact_rank": res.rank, "svd_s": t_svd,
                       "svd_rank": svd.rank, "numpy_matrix_rank_s": t_np,
                       "numpy_matrix_rank": np_rank}
    image_net = ds.nets.convac((16, 16), 4, 8, space="log", in_channels=2, n_outputs=2)
    t_bound, bound = _best(lambda: rank_bound(image_net, "left-right"), repeats)
    mirror = ds.nets.convac((16, 16), 4, 8, pooling="mirror", space="log", in_channels=2)
    out["rank_bound_16x16"] = {"s": t_bound, "log2_bound_square": bound.log2_bound,
                               "log2_bound_mirror": rank_bound(mirror, "left-right").log2_bound}
    out["als_n8"] = als_bench()
    _lens_picture(grid_x)
    return out


def _lens_picture(grid) -> None:
    """docs/tensors_singular_values.png: the spectra of the README's lens example."""
    import deepscope as ds
    from deepscope.lenses.tensors import grid_tensor, separation_rank

    shallow = grid_tensor(ds.nets.convac(16, 2, 2, kind="shallow", shallow_terms=64, seed=0),
                          torch.eye(2))
    curves = {"deep, odd-even": separation_rank(grid, "odd-even"),
              "deep, left-right": separation_rank(grid, "left-right"),
              "shallow Z=64, odd-even": separation_rank(shallow, "odd-even")}
    fig, ax = ds.plots.plot_singular_values(curves)
    ax.set_title("deep ConvAC (N = 16, r = 2, seed 0) vs shallow", fontsize=10)
    fig.savefig(ROOT / "docs" / "tensors_singular_values.png", dpi=100)


def als_bench() -> dict:
    import deepscope as ds
    from deepscope.lenses.tensors import grid_tensor
    from deepscope.studies.depth_efficiency.als import cp_als

    rows = {}
    tensor = grid_tensor(ds.nets.convac(8, 2, 2, seed=1), torch.eye(2)).values.numpy()
    tensor = tensor / np.linalg.norm(tensor)
    try:
        import tensorly as tl
        from tensorly.decomposition import parafac
    except ImportError:                                   # the bench extra is not installed
        parafac = None
    for z in (16, 24, 32):
        t0 = time.perf_counter()
        err = cp_als(tensor, z, rng=np.random.default_rng(0), max_iter=1000, tol=0.0)
        mine = time.perf_counter() - t0
        row = {"deepscope_s": mine, "deepscope_error": err}
        if parafac is not None:
            t0 = time.perf_counter()
            cp = parafac(tl.tensor(tensor), rank=z, n_iter_max=1000, tol=0.0, init="random",
                         random_state=0)
            row["tensorly_s"] = time.perf_counter() - t0
            row["tensorly_error"] = float(np.linalg.norm(tl.cp_to_tensor(cp) - tensor))
        rows[str(z)] = row
    return rows


def study_bench(reuse: bool = False) -> dict:
    from deepscope.store import RunStore
    from deepscope.studies import get, run_study
    from deepscope.studies.depth_efficiency.figures import cp_table

    out = {}
    root = Path(os.environ.get("DS_BENCH_RUNS", "/tmp/deepscope_bench_runs"))
    for name in ("depth-efficiency", "pooling-geometry"):
        t0 = time.perf_counter()
        if reuse:                       # tables and pictures of the last finished run
            store = RunStore(root=root)
            runs = store.list()
            runs = runs[(runs.study == name) & (runs.status == "done")]
            run = store.open(runs.sort_values("id").id.iloc[-1])
            wall = float("nan")
        else:
            run = run_study(name, root=root)
            wall = time.perf_counter() - t0
        study = get(name)
        table = study.summary_table(run)
        out[name] = {"wall_s": wall, "train_and_measure_s":
                     run.manifest.get("train_and_measure_s"), "run": str(run.path),
                     "summary": json.loads(table.to_json(orient="records"))}
        if name == "depth-efficiency":
            out[name]["cp"] = json.loads(cp_table(run).to_json(orient="records"))
        for fig in study.figures(run):
            if fig.image is not None:
                fig.image.savefig(ROOT / "docs" / f"{name.replace('-', '_')}_{fig.name}.png",
                                  dpi=100)
        print(name, f"{wall:.1f} s", flush=True)
        print(table.to_string(), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("lens", "study"), default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reuse", action="store_true",
                        help="study: read the last finished runs under DS_BENCH_RUNS instead "
                             "of running again")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from _results import RESULTS, write

    path = RESULTS / "tensors.json"
    old = json.loads(path.read_text()).get("results", {}) if path.exists() else {}
    result = {}
    load = [round(x, 2) for x in os.getloadavg()]
    if args.only in (None, "lens"):
        result["lens"] = {**lens_bench(args.repeats), "threads": args.threads,
                          "load_average": load}
        print(json.dumps(result["lens"], indent=1), flush=True)
    if args.only in (None, "study"):
        result["study"] = {**study_bench(args.reuse), "threads": args.threads,
                           "load_average": load}
    command = "python bench/tensors.py " + " ".join(sys.argv[1:])
    write("tensors", command.strip(), {**old, **result})


if __name__ == "__main__":
    main()
