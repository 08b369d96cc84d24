"""Benchmarks of the gradient lens and the ``parity`` study (results go in BENCHMARKS.md).

    python bench/gradients.py                # d = 10..20, 16 sampled targets, 500 steps
    python bench/gradients.py --quick        # d = 10..14, 8 sampled targets, 200 steps
    python bench/gradients.py --device cuda  # on a GPU
    python bench/gradients.py --study        # also time the default parity/conditioning runs

1. Exact gradient variance across all ``2^d`` parities of a one-hidden-layer ReLU net
   (width ``10 d``, hinge loss, all ``2^d`` inputs): ``parity_gradient_variance`` against
   the naive way on the same net in the same process: for each of ``T`` sampled parity
   targets, the full gradient by ``torch.autograd.grad`` over all ``2^d`` inputs, then the
   sample variance of those gradients. Reported: time of the exact computation, naive time
   per target, the naive time extrapolated to all ``2^d`` targets (what an exact answer
   costs that way) and its ratio to ours, and the naive ``T``-target estimate over the
   exact value: random parities of about ``d/2`` bits carry almost none of the variance
   (it sits in the few low-degree parities), so sampled targets badly underestimate it.
2. The parity study's trainer (hand-written batched forward/backward of S stacked nets,
   ``baddbmm``) for S nets at once against the same S nets stepped one at a time:
   net-steps per second and the ratio (with ``--threads`` or 1 thread, the study's default).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time

import torch


def hinge(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (1 - out.squeeze(-1) * y).clamp(min=0).mean()


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _net(d: int, device: str) -> torch.nn.Module:
    torch.manual_seed(d)
    return torch.nn.Sequential(torch.nn.Linear(d, 10 * d), torch.nn.ReLU(),
                               torch.nn.Linear(10 * d, 1)).to(device)


def _cube(d: int, device: str) -> torch.Tensor:
    idx = torch.arange(2 ** d, device=device)
    bits = (idx[:, None] >> torch.arange(d, device=device)) & 1
    return (1 - 2 * bits).to(torch.float32)


def naive_variance(net: torch.nn.Module, d: int, n_targets: int, seed: int, device: str,
                   chunk: int = 65536) -> tuple[float, float]:
    """Sample variance of full gradients over ``n_targets`` random parities, one
    ``autograd.grad`` per target (inputs chunked for memory); returns (variance, seconds)."""
    x = _cube(d, device)
    gen = torch.Generator().manual_seed(seed)
    masks = torch.randint(0, 2, (n_targets, d), generator=gen).bool().to(device)
    params = list(net.parameters())
    t = time.perf_counter()
    grads = []
    for mask in masks:
        total = [torch.zeros_like(p) for p in params]
        for lo in range(0, len(x), chunk):
            xb = x[lo:lo + chunk]
            y = torch.where(mask, xb, torch.ones_like(xb)).prod(1)
            loss = hinge(net(xb), y) * (len(xb) / len(x))
            for acc, g in zip(total, torch.autograd.grad(loss, params)):
                acc += g
        grads.append(torch.cat([g.reshape(-1) for g in total]).double())
    _sync(device)
    seconds = time.perf_counter() - t
    g = torch.stack(grads)
    var = float(((g - g.mean(0)) ** 2).sum(1).sum() / (n_targets - 1))
    return var, seconds


def bench_variance(dims: list[int], n_targets: int, device: str) -> list[dict]:
    from deepscope.lenses.gradients import parity_gradient_variance

    rows = []
    for d in dims:
        net = _net(d, device)
        parity_gradient_variance(_net(6, device), hinge, 6)   # warm-up
        _sync(device)
        t = time.perf_counter()
        exact = parity_gradient_variance(net, hinge, d, batch_size=8192).variance
        _sync(device)
        ours = time.perf_counter() - t
        var, seconds = naive_variance(net, d, n_targets, seed=d, device=device)
        per_target = seconds / n_targets
        rows.append({"d": d, "width": 10 * d, "exact_s": ours, "naive_per_target_s": per_target,
                     "naive_all_targets_s": per_target * 2 ** d,
                     "ratio": per_target * 2 ** d / ours,
                     "naive_T_s": seconds, "exact_variance": exact,
                     "naive_over_exact": var / exact})
        print(f"  d={d}: exact {ours:.3f} s, naive {per_target:.3f} s/target", file=sys.stderr)
    return rows


def _timed(fn, device: str) -> float:
    _sync(device)
    t = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t


def bench_training(dims: list[int], nets: list[int], steps: int, device: str) -> list[dict]:
    from deepscope.data.parity import random_subset
    from deepscope.studies.parity.training import ParityGroup

    dev = torch.device(device)
    rows = []
    for d in dims:
        for s in nets:
            seeds = list(range(s))
            subsets = [random_subset(d, seed=i) for i in seeds]
            stacked = ParityGroup(d, 10 * d, seeds, subsets, dev)
            alone = [ParityGroup(d, 10 * d, [i], [subsets[i]], dev) for i in seeds]
            for g in (stacked, *alone):     # warm-up
                for _ in range(10):
                    g.step(128, 0.01)
            t_stacked = min(_timed(lambda: [stacked.step(128, 0.01) for _ in range(steps)],
                                   device) for _ in range(3))
            t_alone = min(_timed(lambda: [g.step(128, 0.01) for _ in range(steps)
                                          for g in alone], device) for _ in range(3))
            rows.append({"d": d, "nets": s, "stacked_net_steps_per_s": s * steps / t_stacked,
                         "one_at_a_time_net_steps_per_s": s * steps / t_alone,
                         "ratio": t_alone / t_stacked})
    return rows


def bench_study(device: str) -> list[dict]:
    from deepscope.studies import run_study

    rows = []
    for name in ("parity", "conditioning"):
        with tempfile.TemporaryDirectory() as root:
            t, c = time.perf_counter(), time.process_time()
            run_study(name, root=root, device=device, report=True)
            rows.append({"study": name, "wall_s": time.perf_counter() - t,
                         "cpu_s": time.process_time() - c})
    return rows


def _table(rows: list[dict], cols: list[tuple[str, str, str]]) -> str:
    head = "| " + " | ".join(c[1] for c in cols) + " |"
    sep = "|" + "|".join("---:" for _ in cols) + "|"
    body = ["| " + " | ".join(format(r[c[0]], c[2]) for c in cols) + " |" for r in rows]
    return "\n".join([head, sep, *body])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--targets", type=int, default=None, help="sampled targets (naive)")
    ap.add_argument("--study", action="store_true", help="also time the default studies")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dims = [10, 12, 14] if args.quick else [10, 12, 14, 16, 18, 20]
    n_targets = args.targets or (8 if args.quick else 16)
    steps = 200 if args.quick else 500
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"device {args.device}, threads {torch.get_num_threads()}, "
          f"argv {' '.join(sys.argv[1:]) or '(none)'}\n")
    rows = bench_variance(dims, n_targets, args.device)
    print(f"### Exact gradient variance over all 2^d parities vs naive per-target autograd "
          f"({n_targets} sampled targets)\n")
    print(_table(rows, [("d", "d", "d"), ("width", "width", "d"),
                        ("exact_s", "exact, all 2^d targets (s)", ".3f"),
                        ("naive_per_target_s", "naive per target (s)", ".4f"),
                        ("naive_all_targets_s", "naive, all 2^d targets (s, extrapolated)",
                         ".3g"),
                        ("ratio", "ratio", ".3g"),
                        ("naive_over_exact", f"naive {n_targets}-target estimate / exact",
                         ".3f")]))
    torch.set_num_threads(args.threads or 1)   # the study trains with threads=1
    train = bench_training([20, 30], [3, 12], steps, args.device)
    print(f"\n### Parity trainer: S nets stacked vs one at a time ({steps} SGD steps, "
          f"batch 128, width 10 d, {torch.get_num_threads()} thread(s), best of 3)\n")
    print(_table(train, [("d", "d", "d"), ("nets", "S nets", "d"),
                         ("stacked_net_steps_per_s", "stacked (net-steps/s)", ",.0f"),
                         ("one_at_a_time_net_steps_per_s", "one at a time (net-steps/s)",
                          ",.0f"),
                         ("ratio", "ratio", ".2f")]))
    if args.study:
        print("\n### Default study runs\n")
        print(_table(bench_study(args.device), [("study", "study", "s"),
                                                ("wall_s", "wall (s)", ".1f"),
                                                ("cpu_s", "CPU (s)", ".1f")]))


if __name__ == "__main__":
    main()
