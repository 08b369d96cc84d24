"""Benchmark of the weight-spectra lens against WeightWatcher 0.7.7 and powerlaw 1.5.

    python bench/spectra.py              # MLP 784-1000-1000-1000-10 and a conv net, 300 SGD steps
    python bench/spectra.py --quick      # fewer training steps and repeats
    python bench/spectra.py --device cuda

The models train on scikit-learn's digits upsampled to 28 x 28 (784 inputs): the MLP of the
issue, and a SmallCNN with 64/128 channels and a 512-wide hidden layer. On the same model
in the same process, each timing is the best of ``--repeats`` runs:

* ``bare eigensolves``: deepscope's batched ``eigvalsh`` of every Gram matrix (real only,
  and real + randomised) — the floor any spectral analysis pays;
* deepscope ``analyze_weights`` alpha-only (``mp_fit=False, randomize=False``) and full;
* WeightWatcher ``analyze()`` with its defaults and with ``randomize=True, mp_fit=True``;
* the ``powerlaw`` package's ``Fit`` on one layer's eigenvalues vs ``fit_power_law``.

It prints a Markdown table with ratios and the largest alpha difference to WeightWatcher
(layers with >= 20 eigenvalues; WeightWatcher switches to another estimator below 20).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import platform
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from _timing import best_of as _best  # noqa: E402  (bench/ is on sys.path)


def _data(device):
    from deepscope.data import digits

    d = digits(image=True, device=device)
    up = F.interpolate(d.x_train, size=(28, 28), mode="bilinear", align_corners=False)
    return up, d.y_train


def _train(net, x, y, steps, seed=0):
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(y), (32,), generator=g).to(x.device)
        opt.zero_grad()
        F.cross_entropy(net(x[idx]), y[idx]).backward()
        opt.step()
    return net


def _models(steps, device):
    from deepscope.nets import MLP, SmallCNN

    x, y = _data(device)
    torch.manual_seed(0)
    mlp = _train(MLP((784, 1000, 1000, 1000, 10), activation="relu").to(device),
                 x.reshape(len(x), -1), y, steps)
    torch.manual_seed(0)
    cnn = _train(SmallCNN(channels=(64, 128), hidden=512, image_size=28).to(device), x, y,
                 steps)
    return {"MLP 784-1000-1000-1000-10": mlp, "SmallCNN 64-128-512 (28x28)": cnn}




def _quiet(fn):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()


def bench_model(name, net, repeats, rows):
    import weightwatcher as ww

    from deepscope.lenses.spectra import matrices as _mat
    from deepscope.lenses.spectra import analyze_weights

    mats = _mat.collect(net, "slices")
    rand = _mat.permuted(mats, 0)
    t_bare, _ = _best(lambda: _mat.batched_eigenvalues([m.weights for m in mats], None),
                      repeats)
    t_bare2, _ = _best(lambda: _mat.batched_eigenvalues([m.weights for m in mats] + rand,
                                                        None), repeats)
    t_a64, _ = _best(lambda: analyze_weights(net, mp_fit=False, randomize=False,
                                             dtype=torch.float64), repeats)
    t_alpha, ours_a = _best(lambda: analyze_weights(net, mp_fit=False, randomize=False),
                            repeats)
    t_full, ours = _best(lambda: analyze_weights(net), repeats)
    watcher = ww.WeightWatcher(model=net)
    t_ww, det = _best(lambda: _quiet(lambda: watcher.analyze()), repeats)
    t_wwf, det_f = _best(lambda: _quiet(lambda: watcher.analyze(randomize=True, mp_fit=True)),
                         max(1, repeats // 2))
    f = ours.to_frame()
    big = f["n_evals"].to_numpy() >= 20
    d_alpha = float(np.max(np.abs(f["alpha"].to_numpy()[big] - det["alpha"].to_numpy()[big])))
    spikes_equal = int((f["n_spikes"].to_numpy() == det_f["num_spikes"].to_numpy()).sum())
    rows.append((name, "bare eigensolves (float32 Gram, batched), real only / real + randomised",
                 f"{t_bare:.3f} s / {t_bare2:.3f} s", "", ""))
    rows.append((name, "analyze_weights alpha-only vs WW analyze() defaults",
                 f"{t_alpha:.3f} s", f"{t_ww:.3f} s", f"**{t_ww / t_alpha:.1f}x** (floor 1.5x)"))
    rows.append((name, "same, with dtype=torch.float64", f"{t_a64:.3f} s", f"{t_ww:.3f} s",
                 f"{t_ww / t_a64:.1f}x"))
    rows.append((name, "analyze_weights full vs WW analyze(randomize=True, mp_fit=True)",
                 f"{t_full:.3f} s", f"{t_wwf:.3f} s", f"**{t_wwf / t_full:.1f}x** (floor 5x)"))
    rows.append((name, "full analysis / bare eigensolves it needs (real + randomised)",
                 f"{t_full / t_bare2:.2f}x", "", "floor <= 1.5x"))
    rows.append((name, "alpha-only / bare eigensolves (real)", f"{t_alpha / t_bare:.2f}x", "",
                 "floor <= 1.5x"))
    rows.append((name, "max |alpha - WW alpha| (layers >= 20 eigenvalues); MP spikes equal",
                 f"{d_alpha:.2e}; {spikes_equal}/{len(f)} layers", "", "floor <= 0.02"))
    return ours


def bench_powerlaw(res, repeats, rows):
    import powerlaw

    from deepscope.lenses.spectra import fit_power_law

    i = res.index("fc2")
    ev = res.eigenvalues[i]
    t_ours, fit = _best(lambda: fit_power_law(torch.as_tensor(ev)), repeats)
    t_pl, ref = _best(lambda: _quiet(lambda: powerlaw.Fit(ev[ev > 0], verbose=False)), 1)
    rows.append(("MLP fc2 (1000 eigenvalues)", "fit_power_law vs powerlaw.Fit",
                 f"{t_ours * 1e3:.1f} ms", f"{t_pl:.2f} s",
                 f"**{t_pl / t_ours:.0f}x**; |Δalpha| = {abs(fit.alpha - ref.alpha):.1e}, "
                 f"same xmin: {bool(np.isclose(fit.xmin, ref.xmin))}"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="60 training steps, 2 repeats")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    steps, repeats = (60, 2) if args.quick else (args.steps, args.repeats)
    device = torch.device(args.device)
    models = _models(steps, device)
    rows = []
    res = None
    for name, net in models.items():
        out = bench_model(name, net, repeats, rows)
        res = res or out
    bench_powerlaw(res, repeats, rows)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nweight spectra: {steps} SGD steps, device {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
          f"load average {load:.1f}\n")
    print("| model | work | deepscope | peer | ratio / floor |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
