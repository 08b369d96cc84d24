"""The exact segment through a ResNet-18-shaped net (issue 12's regions floor).

    python bench/resnet18_segment.py                 # 2 threads (the floor is "on 2 cores")
    python bench/resnet18_segment.py --threads 1

ResNet-18's shape (He et al. 2016: 7x7 stride-2 stem, BatchNorm, 3x3 stride-2 max-pool,
4 stages x 2 basic blocks with residual adds, global average pool, linear head) at random
init in eval mode, the exact regions along the segment between two random 3x32x32 inputs.
First :func:`segment_cost` estimates the work, then :func:`regions_on_segment` does it with
no budget; the JSON records both, the time of the breakpoint walk and of the exact output
maps, regions per second and peak RSS (``bench/results/resnet18_segment.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _results import write  # noqa: E402

from deepscope.lenses.regions import regions_on_segment, segment_cost  # noqa: E402


class Block(nn.Module):
    """A basic residual block: conv-BN-ReLU-conv-BN plus the (projected) input, ReLU."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                   nn.BatchNorm2d(cout)) if stride != 1 or cin != cout
                     else nn.Identity())
        self.relu2 = nn.ReLU()

    def forward(self, x):
        return self.relu2(self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x))))) + self.down(x))


def resnet18(classes: int = 10) -> nn.Module:
    """ResNet-18's shape: 7x7 stem, BN, max-pool, 4 x 2 basic blocks, 11.2M parameters."""
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
              nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes)]
    return nn.Sequential(*layers).eval()


class _Clock:
    """A progress factory that notes when each layer finished (the walk's end is the last)."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def __call__(self, description: str, total: int):
        clock = self

        class Task:
            def advance(self, n: int = 1) -> None:
                clock.marks.append(("advance", time.perf_counter()))

            def update(self, **kw) -> None:
                clock.marks.append((kw.get("description", ""), time.perf_counter()))
                print(f"  {time.perf_counter() - clock.start:7.1f} s  {kw.get('description', '')}",
                      flush=True)

        self.start = time.perf_counter()
        yield Task()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = resnet18()
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(2, 3, 32, 32, generator=g)

    est = segment_cost(net, a, b)
    print(f"estimate: {est.regions:,.0f} regions [{est.low:,.0f}, {est.high:,.0f}], "
          f"walk ~{est.seconds:,.0f} s (probes took {est.probe_seconds:.1f} s)", flush=True)

    clock = _Clock()
    start = time.perf_counter()
    seg = regions_on_segment(net, a, b, progress=clock)
    total = time.perf_counter() - start
    maps_at = next(t for d, t in clock.marks if d.endswith("; maps"))
    walk_s = maps_at - clock.start
    out = {
        "params": sum(p.numel() for p in net.parameters()), "threads": args.threads,
        "regions": int(seg.count), "pieces": int(seg.pieces), "complete": bool(seg.complete),
        "seconds": round(total, 1), "walk_seconds": round(walk_s, 1),
        "maps_seconds": round(total - walk_s, 1),
        "regions_per_s": round(seg.count / total, 1),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "codes_shape": list(seg.codes.shape),
        "estimate": {"regions": round(est.regions), "low": round(est.low),
                     "high": round(est.high), "walk_seconds": round(est.seconds, 1),
                     "probe_seconds": round(est.probe_seconds, 1)},
    }
    print(out, flush=True)
    cmd = "python bench/resnet18_segment.py" + (f" --threads {args.threads}"
                                                 if args.threads != 2 else "")
    name = "resnet18_segment" if args.threads == 2 else f"resnet18_segment_t{args.threads}"
    write(name, cmd, out)


if __name__ == "__main__":
    main()
