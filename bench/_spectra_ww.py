"""Spectra lens beside WeightWatcher 0.7.7 on the real-model matrix (``real_models.py --ww``).

Per model, in one process, one thread:

* which matrices each tool analyses on the whole model (deepscope reads every 2-D weight and
  analyses a tied tensor once; WeightWatcher skips matrices with fewer than its ``min_evals``
  eigenvalues, 8 in its code, and analyses a tied tensor under each name);
* the matrices BOTH analyse, one module per distinct weight tensor, gathered into an
  ``nn.ModuleDict`` (the same module objects, so the same tensors): both tools run on that
  container, so every timing ratio compares the same matrices;
* on it, best of a few runs, the two tools alternating: WeightWatcher's default
  ``analyze()`` against deepscope's alpha-only path ``analyze_weights(mp_fit=False,
  randomize=False)``, and WeightWatcher's ``analyze(randomize=True, mp_fit=True)`` against
  deepscope's full default ``analyze_weights()`` (power law, MP fit, randomised ESD with its
  MP fit);
* the same four timings on the whole model, each tool on the matrices it chooses;
* the alphas of the shared matrices: the largest difference where both fit on at least 20
  eigenvalues (below 20 WeightWatcher switches to a bias-corrected estimator), and how many
  shared matrices WeightWatcher fits where deepscope gives no fit (fewer than its
  ``min_evals`` eigenvalues, WeightWatcher's 8 by default).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import warnings

import numpy as np
import torch
from _timing import best_of
from torch import nn

from deepscope.lenses.spectra import analyze_weights
from deepscope.lenses.spectra import matrices as _mat

#: Below this many eigenvalues WeightWatcher 0.7.7 fits alpha with another estimator.
WW_SAME_ESTIMATOR = 20


def _quiet(fn):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()


def _ww(model: nn.Module, full: bool):
    import weightwatcher as ww

    watcher = ww.WeightWatcher(model=model)
    if full:
        return _quiet(lambda: watcher.analyze(randomize=True, mp_fit=True))
    return _quiet(lambda: watcher.analyze())


def _ds(model: nn.Module, full: bool):
    if full:
        return analyze_weights(model)
    return analyze_weights(model, mp_fit=False, randomize=False)


def analysed_names(model: nn.Module) -> set[str]:
    """Every module name deepscope analyses a matrix of (tied tensors: all their names)."""
    names = set()
    for m in _mat.collect(model, "slices"):
        names.update((m.layer, *m.aliases))
    return names


def shared_container(model: nn.Module, details) -> tuple[nn.ModuleDict, list[str]]:
    """The modules whose weight both tools analyse, once per distinct tensor, in WW's order.

    ``details`` is WeightWatcher's default frame on ``model``; its ``longname`` is the
    module's name in ``model.named_modules()``. Returns the container (keys ``"0"``, ``"1"``,
    ...) and the original module name of each key.
    """
    names_ds = analysed_names(model)
    seen, mods, names = set(), [], []
    for longname in details["longname"]:
        if longname not in names_ds:
            continue
        mod = model.get_submodule(longname)
        key = id(mod.weight)
        if key in seen:
            continue
        seen.add(key)
        mods.append(mod)
        names.append(longname)
    return nn.ModuleDict({str(i): m for i, m in enumerate(mods)}), names


def _alphas(ds_frame, ww_frame) -> dict:
    ours = {str(r.layer): (float(r.alpha), int(r.n_evals)) for r in ds_frame.itertuples()}
    diffs, small, ww_only = [], 0, 0
    for r in ww_frame.itertuples():
        a_ds, n = ours[str(r.longname)]
        a_ww = float(r.alpha)
        if math.isnan(a_ds) and math.isfinite(a_ww):
            ww_only += 1
            continue
        if n < WW_SAME_ESTIMATOR:
            small += 1 if math.isfinite(a_ds) else 0
            continue
        if math.isfinite(a_ds) and math.isfinite(a_ww):
            diffs.append(abs(a_ds - a_ww))
    return {"compared": len(diffs), "max_abs_diff": max(diffs) if diffs else None,
            "fitted_below_20_evals": small, "ww_fit_below_min_evals": ww_only}


def _pair(fn_ww, fn_ds, repeats: int) -> tuple[float, object, float, object]:
    """Best of ``repeats`` for each tool, the two calls alternating (load hits both alike)."""
    t_ww, t_ds = float("inf"), float("inf")
    for _ in range(max(1, repeats)):
        dt, out_ww = best_of(fn_ww)
        t_ww = min(t_ww, dt)
        dt, out_ds = best_of(fn_ds)
        t_ds = min(t_ds, dt)
    return t_ww, out_ww, t_ds, out_ds


def _times(model: nn.Module, repeats: tuple[int, int]) -> tuple[dict, object, object]:
    """WW default vs deepscope alpha-only (best of ``repeats[0]``), full vs full (``[1]``)."""
    t = {}
    t["ww_default_s"], ww_d, t["ds_alpha_s"], ds_a = _pair(
        lambda: _ww(model, False), lambda: _ds(model, False), repeats[0])
    t["ww_full_s"], _, t["ds_full_s"], _ = _pair(
        lambda: _ww(model, True), lambda: _ds(model, True), repeats[1])
    t = {k: round(v, 4) for k, v in t.items()}
    t["ww_matrices"] = len(ww_d)
    t["ds_matrices"] = len(ds_a.to_frame())
    t["ratio_default"] = round(t["ww_default_s"] / t["ds_alpha_s"], 2)
    t["ratio_full"] = round(t["ww_full_s"] / t["ds_full_s"], 2)
    return t, ww_d, ds_a


def side_by_side(name: str, model: nn.Module, repeats: tuple[int, int]) -> dict:
    """Timings and alpha check of one model (see the module docstring).

    ``repeats``: best of how many runs for the default/alpha-only pair and the full pair.
    """
    logging.disable(logging.WARNING)
    torch.set_num_threads(1)
    whole, ww_whole, ds_whole = _times(model, repeats)
    box, names = shared_container(model, ww_whole)
    shared, ww_shared, ds_shared = _times(box, repeats)
    if not shared["ww_matrices"] == shared["ds_matrices"] == len(names):
        raise RuntimeError(f"{name}: the shared container gives {shared['ww_matrices']} "
                           f"WeightWatcher / {shared['ds_matrices']} deepscope matrices, "
                           f"expected {len(names)}")
    ww_shared = ww_shared.assign(longname=[names[int(k)] for k in ww_shared["longname"]])
    ds_frame = ds_shared.to_frame()
    ds_frame = ds_frame.assign(layer=[names[int(k)] for k in ds_frame["layer"]])
    ds_names = analysed_names(model)
    ww_names = list(ww_whole["longname"])
    out = {"whole": whole, "shared": shared, "alpha": _alphas(ds_frame, ww_shared),
           "only_ww": sorted(set(ww_names) - ds_names),
           "ww_tied_repeats": sorted(n for n in ww_names if n in ds_names and n not in names),
           "only_ds": sorted(set(ds_whole.to_frame()["layer"]) - set(names)),
           "evals_shared": int(np.sum(ds_frame["n_evals"].to_numpy()))}
    print(f"{name:18s} shared {len(names):3d}: WW {shared['ww_default_s']:.3f} s / ds "
          f"{shared['ds_alpha_s']:.3f} s = {shared['ratio_default']:.1f}x; full WW "
          f"{shared['ww_full_s']:.2f} s / ds {shared['ds_full_s']:.3f} s = "
          f"{shared['ratio_full']:.1f}x; alpha {out['alpha']}", flush=True)
    return out
