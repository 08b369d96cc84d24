"""Random directions in parameter space, normalised as Li et al. (2018) do."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from deepscope.errors import check_choice, param_error
from deepscope.seeding import make_generator

NORMALIZATIONS = ("filter", "layer", "none")


def _scale(d: torch.Tensor, w: torch.Tensor, per_filter: bool) -> torch.Tensor:
    """``d`` rescaled so each filter (row along dim 0) or the whole tensor has ``w``'s norm."""
    d64, w64 = d.double(), w.double()
    if per_filter and d.ndim > 1:
        dn = d64.flatten(1).norm(dim=1)
        wn = w64.flatten(1).norm(dim=1)
        factor = torch.where(dn > 0, wn / torch.where(dn > 0, dn, 1.0), 0.0)
        shape = (-1,) + (1,) * (d.ndim - 1)
        return (d64 * factor.reshape(shape)).to(d.dtype)
    dn, wn = d64.norm(), w64.norm()
    return (d64 * (wn / dn if dn > 0 else 0.0)).to(d.dtype)


def random_direction_impl(model: nn.Module, seed: Any, normalization: str,
                          include_biases: bool, func: str) -> OrderedDict[str, torch.Tensor]:
    """See :func:`deepscope.lenses.landscape.random_direction`."""
    check_choice(normalization, "normalization", func, NORMALIZATIONS)
    if not isinstance(include_biases, bool):
        raise param_error("include_biases", func, "a bool", include_biases, type_error=True)
    gen, _ = make_generator(seed, "seed", func)
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for name, p in model.named_parameters():
        w = p.detach()
        d = torch.randn(w.shape, generator=gen, dtype=torch.float64).to(w.dtype)
        d = d.to(w.device)
        if w.ndim <= 1 and not include_biases:
            d = torch.zeros_like(w)
        elif normalization != "none":
            d = _scale(d, w, per_filter=normalization == "filter")
        out[name] = d
    return out
