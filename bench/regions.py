"""Benchmarks of the regions lens (results go in BENCHMARKS.md).

    python bench/regions.py --quick                 # anchors + a few sizes (about a minute)
    python bench/regions.py                         # widths 16..256 x depths 2..6
    python bench/regions.py --device cuda           # the same on a GPU
    python bench/regions.py --figure docs/regions_partition.png   # the README picture

1. Exact plane partition of a 2-W-...-W-1 ReLU MLP with PyTorch default initialisation
   (``torch.manual_seed(0)``) on the box [-2, 2]^2: regions and seconds, against SplineCam's
   published numbers (Humayun et al., CVPR 2023; it cannot be installed here): 2-64-64-64-1,
   12,042 regions in 86 s; 2-32-32-32-32-1, 3,091 regions in 28 s, on a 2-core CPU.
2. Dense grids of several resolutions on the same nets: distinct activation patterns found
   (never more than the exact count) and seconds.
3. Segment counts: 1,000 segments between random pairs of points through a
   784-256-256-256-10 ReLU MLP: the batched breakpoint path (one call) against the
   per-region path it replaced (every interval carries its affine map; timed on the first
   100 segments and extrapolated, and checked to give the same counts and pieces) and
   against one call per segment (a sample of 50, extrapolated). Then Telgarsky's sawtooth
   (2^L pieces) with ``regions_on_segment``, against the per-region path up to L = 16.

    python bench/regions.py --segments-only --threads 1   # only the segment tables
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
from torch import nn
from _timing import best_of as _timed  # noqa: E402  (bench/ is on sys.path)

SPLINECAM = {(64, 3): (12042, 86.0), (32, 4): (3091, 28.0)}


def _mlp(width: int, depth: int, d_in: int = 2, d_out: int = 1, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(d_in if i == 0 else width, width), nn.ReLU()]
    layers.append(nn.Linear(width, d_out))
    return nn.Sequential(*layers)




def bench_plane(sizes, grids, device: str, reps: int) -> list[dict]:
    from deepscope.lenses import regions as R

    rows = []
    for width, depth in sizes:
        net = _mlp(width, depth).to(device)
        o = torch.zeros(2, device=device)
        d = torch.eye(2, device=device)
        secs, part = _timed(lambda: R.regions_in_plane(net, o, d, (-2, 2, -2, 2),
                                                       boundary=False), reps)
        row = {"net": "-".join(["2", *[str(width)] * depth, "1"]), "width": width,
               "depth": depth, "regions": part.count, "seconds": secs,
               "area_error": abs(float(part.areas.sum()) - 16.0)}
        for res in grids:
            g = torch.linspace(-2, 2, res, dtype=torch.float64, device=device)
            pts = torch.cartesian_prod(g, g)
            gs, found = _timed(lambda: R.count_patterns(net, pts))
            row[f"grid{res}"] = (found, gs)
        if (width, depth) in SPLINECAM:
            n_sc, s_sc = SPLINECAM[(width, depth)]
            row["splinecam"] = (n_sc, s_sc)
        rows.append(row)
        print(f"  {row['net']}: {part.count} regions in {secs:.3f} s", flush=True)
    return rows


def bench_segments(n: int, device: str, old_n: int) -> dict:
    """The batched breakpoint path on ``n`` segments, against the per-region path (every
    interval carries its affine map; the path before the breakpoint rewrite) on the first
    ``old_n`` of them, extrapolated, and one call per segment on a sample of 50."""
    from deepscope.lenses.regions import segment as line
    from deepscope.lenses import regions as R
    from deepscope.lenses.regions.trace import Walk

    net = _mlp(256, 3, d_in=784, d_out=10).to(device)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, 784, generator=gen).to(device)
    b = torch.randn(n, 784, generator=gen).to(device)
    secs, many = _timed(lambda: R.regions_on_segments(net, a, b))
    row = {"n": n, "seconds": secs, "mean_regions": float(many.counts.mean()),
           "mean_pieces": float(many.pieces.mean())}
    if old_n:
        old_n = min(old_n, n)

        def old():
            walk = Walk(net, "bench", 1e-9)
            cells, res = line.per_region(walk, a[:old_n].double(), b[:old_n].double())
            return (torch.bincount(cells.seg, minlength=old_n).cpu().numpy(),
                    line.count_pieces(cells.seg, res.out[:, 0], old_n).cpu().numpy())

        old_secs, (counts, pieces) = _timed(old)
        row["old_seconds"] = old_secs / old_n * n
        row["old_n"] = old_n
        row["agree"] = bool((counts == many.counts[:old_n]).all()
                            and (pieces == many.pieces[:old_n]).all())
    sample = min(50, n)
    one_secs, _ = _timed(lambda: [R.regions_on_segment(net, a[i], b[i]) for i in range(sample)])
    row["per_segment_seconds"] = one_secs / sample * n
    return row


def bench_sawtooth(depth: int, device: str, old: bool) -> dict:
    """Telgarsky's sawtooth (2^depth pieces) on [0, 1] with ``regions_on_segment``."""
    from deepscope.lenses.regions import segment as line
    from deepscope.lenses import regions as R
    from deepscope.lenses.regions.trace import Walk
    from deepscope.nets import sawtooth_net

    net = sawtooth_net(depth).to(device)
    zero = torch.zeros(1, 1, dtype=torch.float64, device=device)
    secs, seg = _timed(lambda: R.regions_on_segment(net, zero[0], zero[0] + 1))
    row = {"depth": depth, "pieces": seg.pieces, "seconds": secs}
    if old:
        old_secs, (cells, _) = _timed(lambda: line.per_region(Walk(net, "bench", 1e-9), zero,
                                                              zero + 1))
        row["old_seconds"], row["old_count"] = old_secs, cells.n
    return row


def make_figure(path: str) -> None:
    """The README picture: a 2-64-64-64-1 MLP trained on two moons, its exact partition."""
    from deepscope.data import moons
    from deepscope.lenses import regions as R
    from deepscope.plots import plot_regions

    net = _mlp(64, 3)
    x, y = moons(400, noise=0.1, seed=0)
    x = (x - x.mean(0)) / x.std(0)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(600):
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(net(x)[:, 0], y.float())
        loss.backward()
        opt.step()
    acc = float(((net(x)[:, 0] > 0).long() == y).float().mean())
    t0 = time.perf_counter()
    part = R.regions_in_plane(net, torch.zeros(2), torch.eye(2), (-2, 2, -2, 2))
    secs = time.perf_counter() - t0
    fig, ax = plot_regions(part, points=x.numpy(), point_colors=np.where(
        y.numpy() == 1, "#d62728", "#1f77b4"), color="class", linewidth=0.15)
    ax.set_title(f"2-64-64-64-1 ReLU MLP on two moons: {part.count:,} regions")
    for c in ax.collections[-1:]:
        c.set_sizes([7])
    fig.set_size_inches(5.2, 5.2)
    fig.savefig(path, dpi=100)
    from PIL import Image  # matplotlib's own dependency; a palette keeps the PNG small

    Image.open(path).convert("RGB").quantize(colors=96).save(path, optimize=True)
    init = R.regions_in_plane(_mlp(64, 3), torch.zeros(2), torch.eye(2), (-2, 2, -2, 2),
                              boundary=False)
    print(f"figure {path}: trained net (train accuracy {acc:.3f}) has {part.count} regions "
          f"({secs:.2f} s with the boundary); at initialisation {init.count}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="anchors and a few sizes")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    ap.add_argument("--segments", type=int, default=1000)
    ap.add_argument("--old-segments", type=int, default=100,
                    help="segments timed with the per-region path (0: skip it)")
    ap.add_argument("--old-sawtooth", type=int, default=16,
                    help="time the per-region path on sawtooths up to this depth")
    ap.add_argument("--segments-only", action="store_true", help="only the segment tables")
    ap.add_argument("--reps", type=int, default=3, help="best of this many plane runs")
    ap.add_argument("--figure", default=None, help="write the README picture here and exit")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.figure:
        make_figure(args.figure)
        return
    cmd = "python bench/regions.py" + (" --quick" if args.quick else "") + \
        (f" --device {args.device}" if args.device != "cpu" else "") + \
        (f" --threads {args.threads}" if args.threads else "") + \
        (" --segments-only" if args.segments_only else "") + \
        (f" --old-segments {args.old_segments}" if args.old_segments != 100 else "") + \
        (f" --old-sawtooth {args.old_sawtooth}" if args.old_sawtooth != 16 else "")
    if args.segments_only:
        print(f"# regions bench: torch {torch.__version__}, device {args.device}, "
              f"threads {torch.get_num_threads()}", flush=True)
        print_segments(args, cmd)
        return
    if args.quick:
        sizes = [(16, 2), (32, 4), (64, 3), (128, 2)]
        grids = [64, 256, 1024]
    else:
        sizes = [(w, d) for w in (16, 32, 64, 128, 256) for d in (2, 3, 4, 6)
                 if w * d <= 512] + [(32, 4)]
        sizes = sorted(set(sizes))
        grids = [64, 256, 1024]
    print(f"# regions bench: torch {torch.__version__}, {platform.processor() or 'cpu'}, "
          f"device {args.device}, threads {torch.get_num_threads()}", flush=True)
    rows = bench_plane(sizes, grids, args.device, args.reps)
    print(f"\n### Exact plane partition on [-2, 2]^2 vs dense grids (`{cmd}`)\n")
    head = ["net", "exact regions", "exact s", "regions/s"] + \
        [f"grid {g}² found (s)" for g in grids] + ["SplineCam (published)", "speed-up"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = [r["net"], f"{r['regions']:,}", f"{r['seconds']:.3f}",
                 f"{r['regions'] / r['seconds']:,.0f}"]
        cells += [f"{r[f'grid{g}'][0]:,} ({r[f'grid{g}'][1]:.2f})" for g in grids]
        if "splinecam" in r:
            n_sc, s_sc = r["splinecam"]
            cells += [f"{n_sc:,} regions, {s_sc:.0f} s", f"{s_sc / r['seconds']:,.0f}x"]
        else:
            cells += ["", ""]
        print("| " + " | ".join(cells) + " |")
    worst = max(r["area_error"] for r in rows)
    print(f"\nlargest |sum of areas - 16| over these partitions: {worst:.1e}")
    print_segments(args, cmd)


def print_segments(args: argparse.Namespace, cmd: str) -> None:
    seg = bench_segments(args.segments, args.device, args.old_segments)
    print(f"\n### {seg['n']:,} segments through a 784-256-256-256-10 MLP (`{cmd}`)\n")
    print("| batched s | per-region path s (extrapolated) | speed-up | one call per segment s "
          "(extrapolated) | mean regions | mean pieces | counts and pieces agree |")
    print("|---|---|---|---|---|---|---|")
    if "old_seconds" in seg:
        old = (f"{seg['old_seconds']:.2f} (timed on {seg['old_n']})",
               f"{seg['old_seconds'] / seg['seconds']:.1f}x", f"{seg['agree']}")
    else:
        old = ("", "", "")
    print(f"| {seg['seconds']:.2f} | {old[0]} | {old[1]} | {seg['per_segment_seconds']:.2f} | "
          f"{seg['mean_regions']:.1f} | {seg['mean_pieces']:.1f} | {old[2]} |")
    rows = [bench_sawtooth(d, args.device, d <= args.old_sawtooth) for d in (12, 16, 20)]
    print(f"\n### Telgarsky's sawtooth on [0, 1], `regions_on_segment` (`{cmd}`)\n")
    print("| L | pieces (= 2^L) | s | per-region path s | speed-up |")
    print("|---|---|---|---|---|")
    for r in rows:
        old = (f"{r['old_seconds']:.2f}", f"{r['old_seconds'] / r['seconds']:.1f}x") \
            if "old_seconds" in r else ("", "")
        print(f"| {r['depth']} | {r['pieces']:,} | {r['seconds']:.2f} | {old[0]} | {old[1]} |")


if __name__ == "__main__":
    main()
