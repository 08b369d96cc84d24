"""Every lens family on every model of the real-model matrix (README "Real models").

    python bench/real_models.py                       # the matrix -> bench/results/real_models.json
    python bench/real_models.py --markdown            # print the README table from the JSON

Models: ``transformers`` GPT-2, BERT, ViT, ConvNeXt, ResNet, MobileNetV2 built from tiny
configs at random init, and hand-written modules with timm's patterns (ConvNeXt's
LayerNorm2d that permutes and GELU class; MobileNetV3's Hardswish, squeeze-excite with
Hardsigmoid, depthwise convs), from ``tests/models/zoo.py``. Every cell is a result with
its time or the refusal the lens gives (which names the module/op). One thread.

    python bench/real_models.py --ww                  # spectra vs WeightWatcher (JSON: *_ww)

``--ww`` puts the spectra lens beside WeightWatcher 0.7.7 (the ``bench`` extra) on every model
of the matrix, in the same process (how: ``bench/_spectra_ww.py``).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy/torch load: one thread, as set below

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.models import zoo  # noqa: E402

from deepscope import capture, losses  # noqa: E402
from deepscope.lenses.curvature import hessian_eigs  # noqa: E402
from deepscope.lenses.gradients import gradient_snr  # noqa: E402
from deepscope.lenses.information import information_plane  # noqa: E402
from deepscope.lenses.landscape import loss_line, random_direction  # noqa: E402
from deepscope.lenses.regions import regions_on_segment  # noqa: E402
from deepscope.lenses.spectra import analyze_weights  # noqa: E402

LENSES = ("information", "spectra", "curvature", "landscape", "regions", "gradients")


def _first(x):
    return x if isinstance(x, torch.Tensor) else next(iter(x.values()))


def _split(inputs, y, k=2):
    n = _first(inputs).shape[0]
    cut = n // k
    out = []
    for i in range(k):
        sl = slice(i * cut, (i + 1) * cut)
        xi = inputs[sl] if isinstance(inputs, torch.Tensor) else {a: v[sl] for a, v in inputs.items()}
        yi = y[sl] if y.shape[0] == n else y
        out.append((xi, yi))
    return out


def lens_cell(lens: str, model: nn.Module, batch, loss) -> str:
    inputs, y = batch
    if lens == "information":
        with capture(model) as acts:
            with torch.no_grad():
                model(**inputs) if isinstance(inputs, dict) else model(inputs)
        labels = y if y.ndim == 1 else y[:, 0]
        keep = {k: v for k, v in acts.items() if v.shape[0] == labels.shape[0]}
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = information_plane(keep, labels)
            pooled = information_plane(keep, labels, pool=True, project=4, bins=8,
                                       range=(-3.0, 3.0))
        return (f"{len(keep)} layers; degenerate {int(raw.degenerate.sum())} raw, "
                f"{int(pooled.degenerate.sum())} pooled+projected")
    if lens == "spectra":
        res = analyze_weights(model)
        frame = res.to_frame()
        return (f"{len(frame)} matrices ({int(frame.alpha.notna().sum())} fitted, "
                f"{int((frame.aliases != '').sum())} tied), "
                f"{len(res.skipped)} params skipped with reason")
    if lens == "curvature":
        res = hessian_eigs(model, loss, batch, max_hvp=10, tol=1e-2, seed=0)
        return f"top eig {float(res.eigenvalues[0]):.3g} ({res.n_hvp} HVPs, {res.ad_mode})"
    if lens == "landscape":
        line = loss_line(model, loss, batch, random_direction(model, 0), steps=5)
        return f"loss {line.loss[2]:.3g}, max on line {line.loss.max():.3g}"
    if lens == "regions":
        if not isinstance(inputs, torch.Tensor):
            x = inputs.get("pixel_values")
            if x is None:
                return "refused: token inputs (embedding lookup) have no input segment"
        else:
            x = inputs
        seg = regions_on_segment(model, x[0], x[1], max_regions=20000, time_limit=60)
        done = "" if seg.complete else f", budget hit after {seg.stopped_at!r}"
        return f"{seg.count} regions{done}"
    if lens == "gradients":
        res = gradient_snr(model, loss, _split(inputs, y))
        return f"SNR {res.total_snr:.3g}"
    raise ValueError(lens)


def _short(message: str) -> str:
    """The part of a refusal that names the module/op (the lens's full message is longer)."""
    import re

    first = message.splitlines()[0]
    m = re.search(r"Got (.*?), which is not piecewise linear", first)
    if m:
        return m.group(1) + " is not piecewise linear or not supported"
    m = re.search(r"Got (\w+), which failed with (\w+)", first)
    if m:
        return f"{m.group(1)} is not traceable by torch.fx ({m.group(2)}: Python control flow)"
    return first[:200]


def matrix() -> dict:
    rows = {}
    for name in zoo.MODELS:
        model, batch, loss_name = zoo.build(name)
        loss = getattr(losses, loss_name)
        n_params = sum(p.numel() for p in model.parameters())
        row = {"params": n_params, "loss": loss_name}
        for lens in LENSES:
            t0 = time.perf_counter()
            try:
                cell = lens_cell(lens, model, batch, loss)
                ok = not cell.startswith("refused")
            except Exception as err:  # noqa: BLE001 - a refusal is a result of the matrix
                cell, ok = f"refused: {_short(str(err))}", False
            row[lens] = {"ok": ok, "result": cell, "seconds": round(time.perf_counter() - t0, 3)}
            print(f"{name:18s} {lens:12s} {row[lens]['seconds']:7.2f}s {cell}", flush=True)
        rows[name] = row
    return rows


def markdown(data: dict) -> str:
    head = "| model | params | " + " | ".join(LENSES) + " |"
    lines = [head, "|" + "---|" * (len(LENSES) + 2)]
    for name, row in data["results"]["matrix"].items():
        cells = []
        for lens in LENSES:
            c = row[lens]
            cells.append(f"{c['result']} ({c['seconds']:.2f} s)" if c["ok"] else c["result"])
        lines.append(f"| {name} | {row['params']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ww_side_by_side(repeats: int) -> None:
    """Spectra vs WeightWatcher on every model of the matrix -> ``real_models_ww.json``."""
    try:
        import weightwatcher
    except ImportError:
        raise SystemExit("--ww needs WeightWatcher: pip install -c bench/constraints.txt "
                         "'weightwatcher==0.7.7' 'powerlaw==1.5'") from None
    import powerlaw
    from _results import write
    from _spectra_ww import side_by_side

    from deepscope.lenses.spectra.analysis import MIN_EVALS

    reps = (4 * repeats, repeats)
    rows = {name: side_by_side(name, zoo.build(name)[0], reps) for name in zoo.MODELS}
    command = "python bench/real_models.py --ww" + (f" --repeats {repeats}" if repeats != 3
                                                    else "")
    write("real_models_ww", command, {
        "repeats_default": reps[0], "repeats_full": reps[1], "threads": torch.get_num_threads(),
        "weightwatcher": weightwatcher.__version__, "min_evals": MIN_EVALS,
        "powerlaw": getattr(powerlaw, "__version__", "?"), "models": rows})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "real_models.json"))
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--ww", action="store_true",
                    help="only the spectra lens beside WeightWatcher -> real_models_ww.json")
    ap.add_argument("--repeats", type=int, default=3,
                    help="with --ww: best of this many full analyses (4x as many of the fast "
                         "default ones)")
    args = ap.parse_args()
    out = Path(args.out)
    if args.markdown:
        print(markdown(json.loads(out.read_text())))
        return
    torch.set_num_threads(1)
    if args.ww:
        ww_side_by_side(args.repeats)
        return
    import datetime
    import os

    command = "python bench/real_models.py"
    data = {"command": command, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                        "load_avg_1m": round(os.getloadavg()[0], 1), "torch": torch.__version__,
                        "threads": 1},
            "results": {"matrix": matrix()}}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1))
    print(markdown(data))


if __name__ == "__main__":
    main()
