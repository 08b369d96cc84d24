"""How much each layer's representation moves under a nuisance transformation.

For a layer ``f`` and a transformation ``t`` of the inputs,

.. math::
    \\mathrm{sensitivity} = \\frac{\\mathbb E_x \\lVert f(t(x)) - f(x) \\rVert^2}
    {\\mathbb E_{x, x'} \\lVert f(x) - f(x') \\rVert^2}
    = \\frac{\\mathbb E_x \\lVert f(t(x)) - f(x) \\rVert^2}{2\\,\\mathrm{tr}\\,\\mathrm{Cov} f(x)}

is 0 for a layer that ignores the transformation and about 1 when a transformed input is as
far from its original as two random inputs are; ``invariance = 1 - sensitivity``. The
linear CKA between ``f(x)`` and ``f(t(x))`` is reported beside it. Everything streams over
batches (sums only), so memory does not grow with the data. "Layers discard what is
irrelevant to the target" (Vicente 2019, arXiv 1908.10206; Achille & Soatto 2018, arXiv
1706.01350) predicts invariance rising with depth for nuisances such as small shifts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deepscope.errors import check_float, check_int, param_error
from deepscope.lenses._model import check_model
from deepscope.lenses.representations._forward import (
    batches,
    forward_layers,
    model_device,
    select_layers,
    split_batch,
)
from deepscope.lenses.representations._moments import Cross, Moments, linear_cka
from deepscope.seeding import make_generator

__all__ = ["InvarianceResult", "gaussian_noise", "invariance", "pixel_shift"]


@dataclass(frozen=True, eq=False)
class InvarianceResult:
    """Per-layer sensitivity to a transformation of the inputs.

    Attributes:
        lens: ``"representations.invariance"``.
        layers: Layer names.
        sensitivity: Mean squared displacement over twice the total variance, per layer.
        invariance: ``1 - sensitivity``.
        cka: Linear CKA of each layer's representations of the original and transformed inputs.
        n: Inputs seen.
        transform: ``repr`` of the transformation.
        seed: Seed of the transformation's randomness (None for a generator).
        complete: False when ``max_batches`` stopped before the data ended.
    """

    lens: str
    layers: tuple[str, ...]
    sensitivity: np.ndarray
    invariance: np.ndarray
    cka: np.ndarray
    n: int
    transform: str
    seed: int | None
    complete: bool = True

    def to_frame(self):
        """One row per layer: ``layer, sensitivity, invariance, cka``."""
        import pandas as pd

        return pd.DataFrame({"layer": list(self.layers), "sensitivity": self.sensitivity,
                             "invariance": self.invariance, "cka": self.cka})

    def tidy(self):
        """``layer, metric (sensitivity, invariance, cka), value``."""
        return self.to_frame().melt(id_vars="layer", var_name="metric", value_name="value")


class _Shift:
    def __init__(self, pixels: int) -> None:
        self.pixels = pixels

    def __repr__(self) -> str:
        return f"pixel_shift(pixels={self.pixels})"

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if x.ndim < 3:
            raise param_error("transform", "pixel_shift", "applied to images (n, ..., h, w)",
                              f"inputs of shape {tuple(x.shape)}")
        p = self.pixels
        direction = torch.randint(0, 4, (x.shape[0],), generator=gen).to(x.device)
        out = torch.zeros_like(x)
        h, w = x.shape[-2], x.shape[-1]
        moves = {0: (p, 0), 1: (-p, 0), 2: (0, p), 3: (0, -p)}
        for d, (dy, dx) in moves.items():
            sel = direction == d
            if not bool(sel.any()):
                continue
            src = x[sel]
            dst = torch.zeros_like(src)
            ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h),
                                                                        slice(0, h + dy))
            xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w),
                                                                        slice(0, w + dx))
            dst[..., yd, xd] = src[..., ys, xs]
            out[sel] = dst
        return out


class _Noise:
    def __init__(self, std: float) -> None:
        self.std = std

    def __repr__(self) -> str:
        return f"gaussian_noise(std={self.std:g})"

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        noise = torch.randn(x.shape, generator=gen, dtype=x.dtype)
        return x + self.std * noise.to(x.device)


def pixel_shift(pixels: int = 1) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """A transformation moving every image ``pixels`` up, down, left or right (at random per
    image, zero fill); for inputs ``(n, ..., h, w)``."""
    return _Shift(check_int(pixels, "pixels", "pixel_shift", low=1))


def gaussian_noise(std: float = 0.1) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """A transformation adding ``std`` times standard normal noise to the inputs."""
    return _Noise(check_float(std, "std", "gaussian_noise", low=0.0, closed="neither"))


def invariance(model: Any, data: Any, transform: Any, *, layers: Any = None,
               seed: int | torch.Generator = 0,
               max_batches: int | None = None) -> InvarianceResult:
    """Per-layer sensitivity of ``model``'s representations to ``transform`` of the inputs.

    Args:
        model: A ``torch.nn.Module`` (run without grad, in eval mode, restored afterwards).
        data: A batch or an iterable of batches: inputs (a tensor) or ``(inputs, targets)``
            pairs; the transformation applies to the input tensor.
        transform: ``transform(inputs, generator) -> inputs`` of the same shape, e.g.
            :func:`pixel_shift` or :func:`gaussian_noise`.
        layers: ``named_modules()`` names or globs (None: every leaf module).
        seed: Seed (or ``torch.Generator``, on the CPU) of the transformation's randomness.
        max_batches: Stop after this many batches (``complete=False`` if data remained).

    Returns:
        An :class:`InvarianceResult`.

    Raises:
        DeepscopeValueError: Unknown layers, a transformation that changes the shape, a
            constant layer.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
        >>> r = invariance(net, torch.randn(50, 1, 8, 8), gaussian_noise(0.01), layers=["1"])
        >>> bool(r.sensitivity[0] < 0.01)
        True
    """
    func = "invariance"
    check_model(model, func)
    if not callable(transform):
        raise param_error("transform", func, "a callable transform(inputs, generator)",
                          type(transform).__name__, type_error=True)
    if max_batches is not None:
        check_int(max_batches, "max_batches", func, low=1)
    gen, seed_int = make_generator(seed, "seed", func)
    names = select_layers(model, layers, func)
    device = model_device(model)
    sq = {n: 0.0 for n in names}
    mo = {n: Moments() for n in names}
    mt = {n: Moments() for n in names}
    cr = {n: Cross() for n in names}
    seen, complete = 0, True
    for batch in batches(data, func):
        if max_batches is not None and seen >= max_batches:
            complete = False
            break
        inputs, kw = split_batch(batch, func, device)
        if kw or len(inputs) != 1:
            raise param_error("data", func, "batches whose inputs are one tensor",
                              "several input tensors")
        x = inputs[0]
        xt = transform(x, gen)
        if not isinstance(xt, torch.Tensor) or xt.shape != x.shape:
            raise param_error("transform", func, "a callable returning inputs of the same shape",
                              getattr(xt, "shape", type(xt).__name__))
        ro = forward_layers(model, (x,), False, names, func)
        rt = forward_layers(model, (xt,), False, names, func)
        seen += 1
        for n in names:
            a, b = ro[n], rt[n]
            sq[n] += float(((b.to(torch.float64) - a.to(torch.float64)) ** 2).sum())
            xs, sa = mo[n].prepare(a)
            ys, sb = mt[n].prepare(b)
            mo[n].update(xs, sa)
            mt[n].update(ys, sb)
            cr[n].update(xs, sa, ys, sb)
    if seen == 0:
        raise param_error("data", func, "at least one batch", "no batches")
    n_total = mo[names[0]].n
    if n_total < 2:
        raise param_error("data", func, "at least 2 inputs", n_total)
    sens, cka_vals = [], []
    for n in names:
        m = mo[n]
        total_var = float(torch.trace(m.G) - (m.s @ m.s) / m.n) / (m.n - 1)
        if not total_var > 0:
            raise param_error("layers", func, "layers whose output varies across inputs",
                              f"a constant output of {n!r}")
        sens.append(sq[n] / m.n / (2.0 * total_var))
        cka_vals.append(linear_cka(m, mt[n], cr[n], False))
    s = np.asarray(sens)
    return InvarianceResult(lens="representations.invariance", layers=tuple(names),
                            sensitivity=s, invariance=1.0 - s, cka=np.asarray(cka_vals),
                            n=n_total, transform=repr(transform), seed=seed_int,
                            complete=complete)
