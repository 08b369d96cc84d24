"""Benchmarks of the landscape lens (results go in BENCHMARKS.md).

    python bench/landscape.py                 # CPU: all cases
    python bench/landscape.py --quick         # smaller grids, fewer repeats
    python bench/landscape.py --threads 1     # one CPU thread (fairer on a shared machine)
    python bench/landscape.py --device cuda   # also vmap-batched vs one-by-one on the GPU

1. A 41 x 41 loss plane of a ~3.7k-parameter CNN on a batch of 512 digits:
   loss-landscapes 3.0.6 ``random_plane`` vs deepscope ``loss_plane`` in the same process,
   both against the floor "one forward pass per grid point" measured in the same run.
   Also what each returns at the centre of its grid versus the model's own loss.
2. A wide-first-layer MLP (64-2048-10): ``loss_plane`` with the affine first-layer
   shortcut vs without it.
3. ``--device cuda``: vmap-batched grid points (``chunk=None``) vs one by one (``chunk=1``).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from _timing import best_of as _best  # noqa: E402  (bench/ is on sys.path)




def _forward_floor(model, x, y, points: int, reps: int) -> float:
    with torch.no_grad():
        for _ in range(3):
            F.cross_entropy(model(x), y)
        t, _ = _best(lambda: [F.cross_entropy(model(x), y) for _ in range(50)], reps)
    return t / 50 * points


def bench_cnn(steps: int, reps: int, device: str) -> list[tuple[str, str, str]]:
    from deepscope.data import digits
    from deepscope.lenses import landscape as L
    from deepscope.nets import SmallCNN

    d = digits(image=True, seed=0, device=device)
    x, y = d.x_train[:512], d.y_train[:512]
    torch.manual_seed(0)
    model = SmallCNN().to(device).eval()
    n_params = sum(p.numel() for p in model.parameters())
    points = steps * steps
    floor = _forward_floor(model, x, y, points, reps)
    d1, d2 = L.random_direction(model, 0), L.random_direction(model, 1)
    ours_t, plane = _best(lambda: L.loss_plane(model, F.cross_entropy, (x, y), d1, d2,
                                               steps=(steps, steps)), reps)
    with torch.no_grad():
        model_loss = float(F.cross_entropy(model(x), y))
    rows = [(f"CNN {n_params} params, batch 512: one forward pass x {points} points (floor)",
             f"{floor:.3f} s", "")]
    rows.append((f"deepscope `loss_plane` {steps}x{steps}", f"{ours_t:.3f} s",
                 f"{ours_t / floor:.2f}x the floor; centre loss {plane.center_loss:.6f} = "
                 f"model loss {model_loss:.6f} (diff {abs(plane.center_loss - model_loss):.1e})"))
    try:
        import loss_landscapes
        from loss_landscapes.metrics import Loss
    except ImportError:
        rows.append(("loss-landscapes `random_plane`", "not installed", ""))
        return rows
    metric = Loss(F.cross_entropy, x, y)
    peer_t, grid = _best(lambda: loss_landscapes.random_plane(
        model, metric, distance=1.0, steps=steps, normalization="filter",
        deepcopy_model=True), reps)
    mid = float(grid[steps // 2, steps // 2])
    rows.append((f"loss-landscapes 3.0.6 `random_plane` {steps}x{steps}", f"{peer_t:.3f} s",
                 f"{peer_t / floor:.2f}x the floor; deepscope is {peer_t / ours_t:.2f}x its "
                 f"speed; its middle grid point has loss {mid:.6f} vs the model's "
                 f"{model_loss:.6f} (diff {abs(mid - model_loss):.1e}: the grid is off-centre)"))
    return rows


def bench_wide(steps: int, reps: int, device: str) -> list[tuple[str, str, str]]:
    from deepscope.data import digits
    from deepscope.lenses import landscape as L
    from deepscope.nets import MLP

    d = digits(seed=0, device=device)
    x, y = d.x_train[:512], d.y_train[:512]
    torch.manual_seed(0)
    model = MLP((64, 2048, 10), activation="relu").to(device).eval()
    points = steps * steps
    floor = _forward_floor(model, x, y, points, reps)
    d1, d2 = L.random_direction(model, 0), L.random_direction(model, 1)
    plain_t, a = _best(lambda: L.loss_plane(model, F.cross_entropy, (x, y), d1, d2,
                                            steps=steps, affine_first=False), reps)
    aff_t, b = _best(lambda: L.loss_plane(model, F.cross_entropy, (x, y), d1, d2,
                                          steps=steps), reps)
    diff = float(np.max(np.abs(a.loss - b.loss) / np.abs(a.loss)))
    return [
        (f"MLP 64-2048-10, batch 512: one forward pass x {points} points (floor)",
         f"{floor:.3f} s", ""),
        (f"`loss_plane` {steps}x{steps}, first layer recomputed per point", f"{plain_t:.3f} s",
         f"{plain_t / floor:.2f}x the floor"),
        (f"`loss_plane` {steps}x{steps}, affine first layer (default)", f"{aff_t:.3f} s",
         f"{aff_t / floor:.2f}x the floor, {plain_t / aff_t:.1f}x faster than recomputing; "
         f"max relative difference {diff:.1e}"),
    ]


def bench_gpu(steps: int, reps: int) -> list[tuple[str, str, str]]:
    from deepscope.data import digits
    from deepscope.lenses import landscape as L
    from deepscope.nets import SmallCNN

    d = digits(image=True, seed=0, device="cuda")
    x, y = d.x_train[:512], d.y_train[:512]
    torch.manual_seed(0)
    model = SmallCNN().cuda().eval()
    d1, d2 = L.random_direction(model, 0), L.random_direction(model, 1)
    L.loss_plane(model, F.cross_entropy, (x, y), d1, d2, steps=5)  # warm-up
    one_t, a = _best(lambda: L.loss_plane(model, F.cross_entropy, (x, y), d1, d2,
                                          steps=steps, chunk=1), reps)
    vm_t, b = _best(lambda: L.loss_plane(model, F.cross_entropy, (x, y), d1, d2,
                                         steps=steps), reps)
    diff = float(np.max(np.abs(a.loss - b.loss) / np.abs(a.loss)))
    return [(f"CUDA, CNN, {steps}x{steps}: one grid point per pass", f"{one_t:.3f} s", ""),
            (f"CUDA, CNN, {steps}x{steps}: vmap-batched chunks (default)", f"{vm_t:.3f} s",
             f"{one_t / vm_t:.1f}x faster than one by one; max relative difference {diff:.1e}")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="21 x 21 grids, 1 repeat")
    parser.add_argument("--device", default="cpu", help="device of cases 1 and 2")
    parser.add_argument("--reps", type=int, default=3, help="repeats (the minimum is kept)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    steps = 21 if args.quick else 41
    reps = 1 if args.quick else args.reps
    torch.set_grad_enabled(True)
    rows = bench_cnn(steps, reps, args.device) + bench_wide(steps, reps, args.device)
    if args.device.startswith("cuda"):
        rows += bench_gpu(steps, reps)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    print("| work | time | notes |\n|---|---|---|")
    for work, t, note in rows:
        print(f"| {work} | {t} | {note} |")


if __name__ == "__main__":
    main()
