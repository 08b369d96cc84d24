"""Benchmark of ``gradient_snr`` (per-example gradient SNR, Shalev-Shwartz et al. 2017).

    python bench/gradient_snr.py            # full sizes
    python bench/gradient_snr.py --quick    # small sizes, a few seconds
    python bench/gradient_snr.py --device cuda

No installed peer tool (weightwatcher, powerlaw, pyhessian, loss-landscapes) measures a
gradient signal-to-noise ratio, so the reference is the straightforward PyTorch way, run
in the same process on the same model and data: one ``zero_grad(); loss.backward()`` per
example, gradients copied out of ``.grad``, then mean and spread in float64. Both give the
same numbers (checked, max relative difference printed); the table reports times and the
ratio reference / deepscope. Models: the study's tuple network on 28 x 28 segment images
(SNR of N1's last layer ``score``, per example) and an MLP on 100-d inputs (all layers).
"""

from __future__ import annotations

import argparse
import platform

import torch
from torch import nn
from torch.nn import functional as F
from _timing import best_of as _time  # noqa: E402  (bench/ is on sys.path)


def _reference(model, loss_fn, x, y, names):
    """Per-example autograd loop through ``.grad`` (what one writes by hand)."""
    params = dict(model.named_parameters())
    grads = {n: [] for n in names}
    for i in range(len(x)):
        model.zero_grad()
        loss_fn(model(x[i:i + 1]), y[i:i + 1]).backward()
        for n in names:
            grads[n].append(params[n].grad.detach().to(torch.float64).flatten().clone())
    sig, noi = 0.0, 0.0
    for n in names:
        g = torch.stack(grads[n])
        mean = g.mean(0)
        sig += float(mean @ mean)
        noi += float(((g - mean) ** 2).sum(1).mean())
    return sig / noi




def _cases(quick: bool, device):
    from deepscope.data.segments import segment_tuples
    from deepscope.nets.tuple_net import TupleNet

    n = 128 if quick else 1024
    torch.manual_seed(0)
    cases = []
    for k in (1, 4):
        net = TupleNet(k).to(device)
        d = segment_tuples(n, k, seed=1, device=device)

        def hinge(out, y):
            return torch.relu(1 - y * out).mean()
        cases.append((f"TupleNet k={k}, N1 score layer, {n} examples", net, hinge,
                      d.images, d.labels, ["image_net.score.weight", "image_net.score.bias"]))
    mlp = nn.Sequential(nn.Linear(100, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                        nn.Linear(256, 10)).to(device)
    m = 512 if quick else 4096
    x = torch.randn(m, 100, device=device)
    y = torch.randint(0, 10, (m,), device=device)
    cases.append((f"MLP 100-256-256-10, all layers, {m} examples", mlp, F.cross_entropy, x, y,
                  [n for n, _ in mlp.named_parameters()]))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from deepscope.lenses.gradients.snr import gradient_snr

    device = torch.device(args.device)
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, device {device}\n")
    print("| case | deepscope gradient_snr (s) | per-example .backward loop (s) "
          "| ratio loop / deepscope | max rel. diff of SNR |")
    print("|---|---|---|---|---|")
    for name, model, loss_fn, x, y, names in _cases(args.quick, device):
        def ours():
            batches = [(x[i:i + 256], y[i:i + 256]) for i in range(0, len(x), 256)]
            return gradient_snr(model, loss_fn, batches, parameters=names,
                                per_example=True).total_snr

        t_ours, snr_ours = _time(ours, args.repeat)
        t_ref, snr_ref = _time(lambda: _reference(model, loss_fn, x, y, names), args.repeat)
        diff = abs(snr_ours - snr_ref) / abs(snr_ref)
        print(f"| {name} | {t_ours:.3f} | {t_ref:.3f} | {t_ref / t_ours:.1f}x | "
              f"{diff:.1e} |")


if __name__ == "__main__":
    main()
