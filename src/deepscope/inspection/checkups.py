"""The checkups ``inspect`` runs: each lens family called with budgets sized to the model.

Private module of :mod:`deepscope.inspection`. A :class:`Checkup` names what it needs and
turns a model (and data, loss) into an :class:`Outcome`: tidy rows, headline metrics and
findings. Lenses registered in :mod:`deepscope.lenses.registry` join by name.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from deepscope.errors import DeepscopeValueError, param_error

__all__ = ["CHECKUPS", "DEFAULT_LENSES", "Checkup", "NotApplicable", "Outcome", "budgets",
           "choose"]

#: The lenses ``inspect`` runs when none are named.
DEFAULT_LENSES = ("spectra", "curvature", "landscape", "gradients", "information", "regions")
_SERVED = {"model", "weights", "data", "loss"}


@dataclass
class _Context:
    model: nn.Module
    data: Any
    loss_fn: Callable | None
    seed: int
    budget: dict


@dataclass
class Outcome:
    """What one lens gave: tidy rows, headline metrics and findings (plain sentences)."""

    rows: list[tuple[str, str, float]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Checkup:
    """A lens as ``inspect`` runs it: what it needs and how to call it on a model."""

    name: str
    needs: tuple[str, ...]
    run: Callable[[_Context], Outcome]


def budgets(n_params: int) -> dict:
    """Work sized to the model: fewer Hessian-vector products and plane points when big.

    Above one million parameters (a GPT-2-small forward+backward takes about a second on
    2 cores, one Hessian-vector product about 5 s): 15 products for the top eigenvalue,
    15 trace probes (10 minimum for Hutchinson), an 11 x 11 loss plane, 5 sharpness
    steps (above ten million parameters the curvature products run one at a time, power
    iteration and Hutchinson, so memory stays that of one product). Smaller models get
    60 / 40 / 21 x 21 / 20. Regions stop at 10,000 regions or
    20 s (60 s for big models).
    """
    big = n_params > 1_000_000
    return {"eig_hvp": 15 if big else 60, "trace_hvp": 15 if big else 40,
            "plane": 11 if big else 21, "sharpness_steps": 5 if big else 20,
            "regions": 10_000, "regions_s": 60.0 if big else 20.0}


def _second_order_model(model: nn.Module) -> nn.Module:
    """fp16/bf16 models are upcast (a copy) to float32 for second-order work."""
    p = next(model.parameters(), None)
    if p is not None and p.dtype in (torch.float16, torch.bfloat16):
        return copy.deepcopy(model).float()
    return model


# ------------------------------------------------------------------ core checkups


def _spectra(ctx: _Context) -> Outcome:
    from deepscope.lenses.spectra import analyze_weights

    res = analyze_weights(ctx.model, seed=ctx.seed)
    frame = res.to_frame()
    out = Outcome()
    for r in frame.itertuples(index=False):
        layer = r.layer if r.matrix == "weight" else f"{r.layer}.{r.matrix}"
        out.rows += [(layer, "alpha", float(r.alpha)), (layer, "log_norm", float(r.log_norm)),
                     (layer, "stable_rank", float(r.stable_rank))]
    fitted = frame[frame.alpha.notna()]
    outside = fitted[(fitted.alpha < 2) | (fitted.alpha > 6)]
    out.metrics = {"matrices": float(len(frame)), "mean_alpha": float(fitted.alpha.mean())
                   if len(fitted) else math.nan, "alpha_outside_2_6": float(len(outside))}
    if len(outside):
        names = ", ".join(f"{a} ({b:.2f})" for a, b in zip(outside.layer[:5], outside.alpha))
        out.findings.append(f"spectra: {len(outside)} of {len(fitted)} fitted matrices have "
                            f"alpha outside [2, 6]: {names}{' ...' if len(outside) > 5 else ''}")
    unfit = int(frame.alpha.isna().sum())
    if unfit:
        out.findings.append(f"spectra: {unfit} matrices too small for a power-law fit "
                            f"(fewer than {res.params['min_evals']} eigenvalues)")
    if res.skipped:
        out.findings.append(f"spectra: {len(res.skipped)} parameters are not matrices "
                            "(biases, norms; listed in the result)")
    return out


#: Above this many parameters curvature keeps two vectors only (power iteration and
#: one-at-a-time Hutchinson probes): Lanczos' basis of 15 vectors of 124M float64 entries
#: alone is 15 GB, and a vmapped chunk of 16 probes multiplies the product's memory by 16.
LOW_MEMORY_PARAMS = 10_000_000


def _curvature_low_memory(model: nn.Module, ctx: _Context) -> Outcome:
    from deepscope.lenses.curvature import hvp

    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    gen = torch.Generator().manual_seed(ctx.seed)
    v = torch.randn(n, generator=gen)
    v /= v.norm()
    top = math.nan
    for _ in range(ctx.budget["eig_hvp"]):
        w = hvp(model, ctx.loss_fn, ctx.data, v).detach().cpu()
        top = float(v @ w)
        v = w / w.norm().clamp_min(1e-30)
    probes = []
    for _ in range(ctx.budget["trace_hvp"]):
        z = (torch.randint(0, 2, (n,), generator=gen) * 2 - 1).to(torch.float32)
        probes.append(float(z @ hvp(model, ctx.loss_fn, ctx.data, z).detach().cpu()))
    est = float(sum(probes) / len(probes))
    err = float(torch.tensor(probes).std() / math.sqrt(len(probes))) if len(probes) > 1 else math.nan
    out = Outcome(metrics={"top_eigenvalue": top, "trace": est, "trace_stderr": err,
                           "hvp": float(ctx.budget["eig_hvp"] + ctx.budget["trace_hvp"])})
    out.rows = [("model", k, val) for k, val in out.metrics.items()]
    out.findings.append(f"curvature: top Hessian eigenvalue about {top:.4g} (power iteration, "
                        f"{ctx.budget['eig_hvp']} products; low-memory path above "
                        f"{LOW_MEMORY_PARAMS:,} parameters); trace {est:.4g} +- {err:.2g}")
    return out


def _curvature(ctx: _Context) -> Outcome:
    from deepscope.lenses.curvature import hessian_eigs, hessian_trace

    model = _second_order_model(ctx.model)
    if sum(p.numel() for p in model.parameters()) > LOW_MEMORY_PARAMS:
        return _curvature_low_memory(model, ctx)
    eig = hessian_eigs(model, ctx.loss_fn, ctx.data, max_hvp=ctx.budget["eig_hvp"], tol=1e-2,
                       seed=ctx.seed)
    tr = hessian_trace(model, ctx.loss_fn, ctx.data, method="hutchinson",
                       max_hvp=max(ctx.budget["trace_hvp"], 10), rtol=0.05, seed=ctx.seed)
    top = float(eig.eigenvalues[0])
    out = Outcome(metrics={"top_eigenvalue": top, "trace": tr.estimate,
                           "trace_stderr": tr.stderr, "hvp": float(eig.n_hvp + tr.n_hvp)})
    out.rows = [("model", k, v) for k, v in out.metrics.items()]
    conv = "converged" if bool(eig.converged[0]) else "not converged within the budget"
    out.findings.append(f"curvature: top Hessian eigenvalue {top:.4g} ({conv}, "
                        f"{eig.n_hvp} products, {eig.ad_mode}); trace {tr.estimate:.4g} "
                        f"+- {tr.stderr:.2g}")
    return out


def _landscape(ctx: _Context) -> Outcome:
    from deepscope.lenses.landscape import loss_plane, random_direction, sharpness

    n = ctx.budget["plane"]
    d1, d2 = random_direction(ctx.model, ctx.seed), random_direction(ctx.model, ctx.seed + 1)
    plane = loss_plane(ctx.model, ctx.loss_fn, ctx.data, d1, d2, steps=(n, n))
    sharp = sharpness(ctx.model, ctx.loss_fn, ctx.data, steps=ctx.budget["sharpness_steps"],
                      seed=ctx.seed)
    rise = float(plane.loss.max() - plane.center_loss)
    out = Outcome(metrics={"loss": float(plane.center_loss), "plane_max_rise": rise,
                           "plane_min_loss": float(plane.loss.min()),
                           "sharpness": float(sharp.value)})
    out.rows = [("model", k, v) for k, v in out.metrics.items()]
    lower = plane.center_loss - float(plane.loss.min())
    out.findings.append(f"landscape: loss {plane.center_loss:.4g}; along two filter-normalised "
                        f"random directions it rises by up to {rise:.4g}"
                        + (f" and falls by {lower:.4g} (not at a minimum)" if lower > 1e-6
                           else "") + f"; epsilon-sharpness {sharp.value:.3g}%")
    return out


def _split(data: Any) -> list:
    """One batch cut into up to 4 batches (gradient SNR needs at least two gradients)."""
    from deepscope.lenses._model import as_batches, first_tensor

    batches = list(as_batches(data, "inspect"))
    if len(batches) >= 2:
        return batches
    x, y = batches[0]
    n = first_tensor(x).shape[0]
    k = min(4, n)
    if k < 2:
        raise DeepscopeValueError("gradients: one sample gives one gradient; the SNR needs "
                                  "a batch of at least 2 samples.")
    bounds = [round(i * n / k) for i in range(k + 1)]

    def cut(v, a, b):
        if isinstance(v, torch.Tensor) and v.ndim and v.shape[0] == n:
            return v[a:b]
        if isinstance(v, dict):
            return {key: cut(t, a, b) for key, t in v.items()}
        if isinstance(v, (tuple, list)):
            return type(v)(cut(t, a, b) for t in v)
        return v

    return [(cut(x, a, b), cut(y, a, b)) for a, b in zip(bounds, bounds[1:])]


def _gradients(ctx: _Context) -> Outcome:
    from deepscope.lenses.gradients import gradient_snr

    res = gradient_snr(ctx.model, ctx.loss_fn, _split(ctx.data))
    out = Outcome(metrics={"gradient_snr": float(res.total_snr)})
    out.rows = [(m, "snr", float(v)) for m, v in zip(res.modules, res.module_snr)]
    out.rows.append(("model", "snr", float(res.total_snr)))
    out.findings.append(f"gradients: signal-to-noise ratio of the gradient across batches "
                        f"{res.total_snr:.3g}")
    return out


def _information(ctx: _Context) -> Outcome:
    import warnings

    from deepscope.activations import capture
    from deepscope.lenses._model import as_batches, call, first_tensor
    from deepscope.lenses.information import information_plane

    x, y = next(iter(as_batches(ctx.data, "inspect")))
    if not isinstance(y, torch.Tensor) or y.ndim != 1 or y.is_floating_point():
        raise NotApplicable("information needs class labels (targets of shape (N,)) to "
                            "measure I(T;Y)")
    n = first_tensor(x).shape[0]
    with capture(ctx.model) as acts, torch.no_grad():
        call(ctx.model, x)
    layers = {k: v for k, v in acts.items() if v.shape[0] == n}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = information_plane(layers, y)
        red = information_plane(layers, y, pool=True, project=4, bins=8, range=(-3.0, 3.0),
                                seed=ctx.seed)
    out = Outcome(metrics={"layers": float(len(raw.layers)),
                           "degenerate_raw": float(raw.degenerate.sum()),
                           "degenerate_reduced": float(red.degenerate.sum())})
    out.rows = [(name, m, float(v)) for name, a, b in zip(red.layers, red.i_xt, red.i_ty)
                for m, v in (("i_xt", a), ("i_ty", b))]
    bad = [name for name, d in zip(raw.layers, raw.degenerate) if d]
    if bad:
        out.findings.append(f"information: raw binning is degenerate (I(X;T) = log2 {n}) for "
                            f"{len(bad)} of {len(raw.layers)} layers ({', '.join(bad[:4])}"
                            f"{' ...' if len(bad) > 4 else ''}); after pooling and a 4-d "
                            f"projection {int(red.degenerate.sum())} remain")
    dead = [name for name, v in layers.items()
            if v.dim() >= 2 and bool((v.flatten(1) == 0).all(0).any())]
    if dead:
        out.findings.append(f"information: layers with units dead on the whole batch: "
                            f"{', '.join(dead[:5])}{' ...' if len(dead) > 5 else ''}")
    return out


def _regions(ctx: _Context) -> Outcome:
    from deepscope.lenses._model import as_batches
    from deepscope.lenses.regions import regions_on_segment, segment_cost

    x, _ = next(iter(as_batches(ctx.data, "inspect")))
    if not isinstance(x, torch.Tensor) or x.shape[0] < 2 or not x.is_floating_point():
        raise NotApplicable("regions need one floating input tensor with at least two "
                            "samples (the segment between the first two)")
    start = time.monotonic()        # the estimate first, inside the time budget
    cost = segment_cost(ctx.model, x[0], x[1])
    left = max(ctx.budget["regions_s"] - (time.monotonic() - start), 1.0)
    seg = regions_on_segment(ctx.model, x[0], x[1], max_regions=ctx.budget["regions"],
                             time_limit=left)
    out = Outcome(metrics={"regions": float(seg.count), "complete": float(seg.complete)})
    out.rows = [("model", "regions", float(seg.count))]
    if seg.pieces >= 0:
        out.rows.append(("model", "pieces", float(seg.pieces)))
    pieces = f" ({seg.pieces:,} linear pieces of the output)" if seg.pieces >= 0 else ""
    if seg.complete:
        out.findings.append(f"regions: {seg.count:,} activation regions{pieces} on the "
                            "segment between the first two inputs")
        return out
    out.metrics["regions_estimate"] = cost.regions
    out.rows.append(("model", "regions_estimate", cost.regions))
    out.findings.append(f"regions: at least {seg.count:,} activation regions on the segment "
                        f"between the first two inputs (budget hit after layer "
                        f"{seg.stopped_at!r}); "
                        f"segment_cost estimates {cost.regions:,.0f} "
                        f"[{cost.low:,.0f}, {cost.high:,.0f}] and a {cost.seconds:,.0f} s walk")
    return out


CHECKUPS: dict[str, Checkup] = {
    "spectra": Checkup("spectra", ("weights",), _spectra),
    "curvature": Checkup("curvature", ("model", "loss", "data"), _curvature),
    "landscape": Checkup("landscape", ("model", "loss", "data"), _landscape),
    "gradients": Checkup("gradients", ("model", "loss", "data"), _gradients),
    "information": Checkup("information", ("model", "data", "activations"), _information),
    "regions": Checkup("regions", ("model", "data", "piecewise_linear"), _regions),
}


class NotApplicable(Exception):
    """A lens that cannot run on what inspect has (recorded as skipped, with why)."""


#: Argument names a registered lens may take, and what inspect passes for them.
_ARGUMENTS = {"model": "model", "net": "model", "module": "model", "model_a": "model",
              "model_b": "itself", "loss_fn": "loss_fn", "data": "data", "batch": "data",
              "batches": "batches"}
#: Arguments for which None is the meaning inspect wants (``model_b=None``: the model with
#: itself, e.g. the layer-by-layer CKA matrix of one model).
_NONE_MEANS = {"itself"}


def _arguments(func: Callable, ctx: _Context, name: str) -> list:
    """Positional arguments of ``func`` bound by name; a required one inspect lacks: skip."""
    import inspect as _inspect

    values = {"model": ctx.model, "loss_fn": ctx.loss_fn, "data": ctx.data, "itself": None,
              "batches": None if ctx.data is None else _split(ctx.data)}
    args = []
    for p in _inspect.signature(func).parameters.values():
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) or \
                p.default is not p.empty:
            break
        key = _ARGUMENTS.get(p.name)
        if key is None or (values[key] is None and key not in _NONE_MEANS):
            raise NotApplicable(f"{name} needs '{p.name}', which inspect cannot provide from "
                                "a model, a batch and a loss")
        args.append(values[key])
    return args


def _from_registry(name: str) -> Checkup:
    from deepscope.lenses.registry import get_lens

    spec = get_lens(name)

    def run(ctx: _Context) -> Outcome:
        if set(spec.needs) - _SERVED:
            raise NotApplicable(f"{name} needs {sorted(set(spec.needs) - _SERVED)}, which "
                                "inspect cannot provide from a model and a batch")
        result = spec.func(*_arguments(spec.func, ctx, name))
        frame = result.tidy() if hasattr(result, "tidy") else None
        out = Outcome()
        if frame is not None:
            out.rows = [(str(r.layer), str(r.metric), float(r.value))
                        for r in frame.itertuples(index=False)]
        return out

    return Checkup(name, spec.needs, run)


def choose(lenses: Sequence[str] | None) -> list[Checkup]:
    if lenses is None:
        return [CHECKUPS[n] for n in DEFAULT_LENSES]
    if isinstance(lenses, str) or not all(isinstance(n, str) for n in lenses):
        raise param_error("lenses", "inspect", "a list of lens names", lenses, type_error=True)
    out = []
    for name in lenses:
        if name == "all":
            from deepscope.lenses.registry import lenses as registered

            out += [CHECKUPS[n] for n in DEFAULT_LENSES]
            out += [_from_registry(s.name) for s in registered()
                    if s.family not in CHECKUPS and set(s.needs) <= _SERVED]
        elif name in CHECKUPS:
            out.append(CHECKUPS[name])
        else:
            out.append(_from_registry(name))
    return list({c.name: c for c in out}.values())


