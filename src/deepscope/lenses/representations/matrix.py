"""CKA between every layer pair of two models (or one model with itself), in one data pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deepscope.errors import check_int, param_error
from deepscope.lenses._model import check_model
from deepscope.lenses.representations._forward import (
    iterate,
    iterate_pair,
    select_layers,
)
from deepscope.lenses.representations._moments import Cross, Moments, linear_cka, self_cross

__all__ = ["CKAMatrix", "cka_matrix"]


@dataclass(frozen=True, eq=False)
class CKAMatrix:
    """Linear CKA of every pair ``(layers_a[i], layers_b[j])``.

    Attributes:
        lens: ``"representations.cka_matrix"``.
        values: ``(len(layers_a), len(layers_b))`` array of CKA values.
        layers_a: Layer names of the first model (rows).
        layers_b: Layer names of the second model (columns).
        n: Examples seen.
        debiased: Whether the unbiased HSIC estimator was used.
        same_model: Whether the columns come from the first model itself.
        complete: False when ``max_batches`` stopped the pass before the data ended.
    """

    lens: str
    values: np.ndarray
    layers_a: tuple[str, ...]
    layers_b: tuple[str, ...]
    n: int
    debiased: bool
    same_model: bool
    complete: bool = True

    def to_frame(self):
        """One row per layer pair: ``layer, layer_b, cka``."""
        import pandas as pd

        rows = [{"layer": a, "layer_b": b, "cka": float(self.values[i, j])}
                for i, a in enumerate(self.layers_a) for j, b in enumerate(self.layers_b)]
        return pd.DataFrame(rows)

    def tidy(self):
        """``layer, layer_b, metric ('cka' or 'cka_debiased'), value``, one row per pair."""
        df = self.to_frame().rename(columns={"cka": "value"})
        df.insert(2, "metric", "cka_debiased" if self.debiased else "cka")
        return df


def cka_matrix(model_a: Any, model_b: Any, data: Any, *, layers_a: Any = None,
               layers_b: Any = None, debiased: bool = False,
               max_batches: int | None = None) -> CKAMatrix:
    """Linear CKA between every layer of ``model_a`` and every layer of ``model_b``.

    One pass over ``data``: each batch runs through both models (no grad, eval mode, both
    restored afterwards) and every layer pair's feature-space sums are updated (see
    :class:`~deepscope.lenses.representations.CKA`), so the result is exact and memory is
    ``sum_i sum_j p_i q_j`` float64 numbers, independent of the number of examples. With
    ``model_b=None`` the model is compared with itself (one forward pass per batch; each
    unordered pair is computed once).

    Args:
        model_a: A ``torch.nn.Module``.
        model_b: A second module fed the same batches, or None for ``model_a`` itself.
        data: A batch or an iterable of batches: inputs (a tensor, a tuple of tensors, a
            dict of keyword arguments) or ``(inputs, targets)`` pairs; targets are ignored.
        layers_a: ``named_modules()`` names or glob patterns of ``model_a`` (None: every
            leaf module). A module's output is flattened per example; a tuple/dict output
            contributes its first tensor.
        layers_b: The same for ``model_b`` (None: every leaf, or ``layers_a`` when
            ``model_b`` is None).
        debiased: Use the unbiased HSIC estimator (Nguyen et al. 2021).
        max_batches: Stop after this many batches (``complete=False`` if data remained).

    Returns:
        A :class:`CKAMatrix`.

    Raises:
        DeepscopeValueError: Unknown layers, a layer that runs more than once per forward
            pass, or empty data.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        >>> m = cka_matrix(net, None, torch.randn(64, 4), layers_a=["0", "1", "2"])
        >>> m.values.shape
        (3, 3)
    """
    func = "cka_matrix"
    check_model(model_a, func, "model_a")
    if model_b is not None:
        check_model(model_b, func, "model_b")
    if not isinstance(debiased, bool):
        raise param_error("debiased", func, "a bool", debiased, type_error=True)
    if max_batches is not None:
        check_int(max_batches, "max_batches", func, low=1)
    la = select_layers(model_a, layers_a, func, "layers_a")
    same = model_b is None
    if same:
        lb = la if layers_b is None else select_layers(model_a, layers_b, func, "layers_b")
    else:
        lb = select_layers(model_b, layers_b, func, "layers_b")
    mom_a: dict[str, Moments] = {name: Moments() for name in la}
    mom_b: dict[str, Moments] = ({} if same else {name: Moments() for name in lb})
    if same:
        for name in lb:
            mom_a.setdefault(name, Moments())
    cross: dict[tuple[str, str], Cross] = {}
    pairs = []
    for a in la:
        for b in lb:
            key = tuple(sorted((a, b))) if same else (a, b)
            if same and a == b:
                continue
            if key not in cross:
                cross[key] = Cross()
                pairs.append(key)
    complete = True
    seen = 0
    if same:
        stream = iterate(model_a, data, list(mom_a), func)
    else:
        stream = iterate_pair(model_a, model_b, data, la, lb, func)
    for reps in stream:
        if max_batches is not None and seen >= max_batches:
            complete = False
            break
        seen += 1
        ra, rb = reps if not same else (reps, reps)
        prepared_a = {n: mom_a[n].prepare(t) for n, t in ra.items() if n in mom_a}
        prepared_b = ({n: mom_b[n].prepare(t) for n, t in rb.items()} if not same
                      else prepared_a)
        for n, (xs, sq) in prepared_a.items():
            mom_a[n].update(xs, sq)
        if not same:
            for n, (xs, sq) in prepared_b.items():
                mom_b[n].update(xs, sq)
        for a, b in pairs:
            xs, sa = prepared_a[a]
            ys, sb = prepared_b[b]
            if ys.device != xs.device:
                ys, sb = ys.to(xs.device), sb.to(xs.device)
            cross[(a, b)].update(xs, sa, ys, sb)
    moms_b = mom_a if same else mom_b
    n = next(iter(mom_a.values())).n
    if n < (4 if debiased else 2):
        raise param_error("data", func, f"at least {4 if debiased else 2} examples", n)
    values = np.empty((len(la), len(lb)))
    for i, a in enumerate(la):
        for j, b in enumerate(lb):
            if same and a == b:
                c = self_cross(mom_a[a])
                values[i, j] = linear_cka(mom_a[a], mom_a[a], c, debiased)
                continue
            key = tuple(sorted((a, b))) if same else (a, b)
            ma, mb = mom_a[key[0]], moms_b[key[1]]
            if ma.G.device != mb.G.device:
                mb = _moved(mb, ma.G.device)
            values[i, j] = linear_cka(ma, mb, cross[key], debiased)
    return CKAMatrix(lens="representations.cka_matrix", values=values, layers_a=tuple(la),
                     layers_b=tuple(lb), n=n, debiased=debiased, same_model=same,
                     complete=complete)


def _moved(m: Moments, device: torch.device) -> Moments:
    out = Moments()
    out.n, out.width = m.n, m.width
    out.s, out.G, out.ax = m.s.to(device), m.G.to(device), m.ax.to(device)
    out.A1, out.A2 = m.A1.to(device), m.A2.to(device)
    return out
