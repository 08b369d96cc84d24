"""Neuron alignment: permute the hidden units of one network to match another's.

Activation matching (Li, Yosinski, Clune, Lipson & Hopcroft 2015, arXiv 1511.07543;
Entezari, Sedghi, Saukh & Neyshabur 2022, arXiv 2110.06296; Ainsworth, Hayase & Srinivasa
2023, arXiv 2209.04836): for every hidden layer, correlate the units of both networks over
the data and solve the assignment problem that maximises the summed correlation
(``scipy.optimize.linear_sum_assignment``). Permuting a layer's output units (rows of its
weight, its bias) and the next layer's input columns leaves the function unchanged.

Supported: ``nn.Sequential`` chains of ``Linear`` / ``Conv`` layers separated by
unit-wise modules (activations, dropout, pooling, ``Flatten``). A ``Flatten`` between a
conv and a linear layer turns a channel permutation into a block permutation of columns.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from deepscope.errors import DeepscopeValueError

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_UNITWISE = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.GELU, nn.ELU, nn.SiLU,
             nn.Softplus, nn.Identity, nn.Dropout, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d,
             nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.Hardtanh, nn.Mish)


def plan(model: nn.Module, func: str) -> list[tuple[str, list[str], str, bool]]:
    """``(layer, between, next_layer, flatten)`` for every permutable hidden layer."""
    if not isinstance(model, nn.Sequential):
        raise DeepscopeValueError(
            f"Neuron alignment in {func} supports nn.Sequential chains of Linear/Conv layers "
            f"and unit-wise modules; got {type(model).__name__}.")
    children = list(model.named_children())
    out = []
    current, between, flatten = None, [], False
    for name, mod in children:
        if isinstance(mod, _WEIGHTED):
            if getattr(mod, "groups", 1) != 1:
                raise DeepscopeValueError(f"Neuron alignment in {func} does not support "
                                          f"grouped convolutions ({name!r}).")
            if current is not None:
                out.append((current, between, name, flatten))
            current, between, flatten = name, [], False
        elif isinstance(mod, nn.Flatten):
            flatten = True
            between.append(name)
        elif isinstance(mod, _UNITWISE):
            between.append(name)
        else:
            raise DeepscopeValueError(
                f"Neuron alignment in {func} cannot permute through {name!r} "
                f"({type(mod).__name__}); supported: Linear/Conv, activations, pooling, "
                "dropout, Flatten.")
    return out


@torch.no_grad()
def _features(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per weighted layer: its units after the unit-wise modules, as ``(samples, units)``.

    The feature of a layer is the tensor just before the next weighted layer or Flatten.
    """
    feats: dict[str, torch.Tensor] = {}
    h = x
    current = None
    for name, mod in model.named_children():
        if isinstance(mod, (*_WEIGHTED, nn.Flatten)) and current is not None:
            feats.setdefault(current, h)
        if isinstance(mod, _WEIGHTED):
            current = name
        params = {n: p.detach() for n, p in mod.named_parameters()}
        bufs = {n: b.detach().clone() for n, b in mod.named_buffers()}
        h = functional_call(mod, (params, bufs), (h,))
    return {n: t.movedim(1, -1).reshape(-1, t.shape[1]) for n, t in feats.items()}


def _corr(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    a = a.double() - a.double().mean(0)
    b = b.double() - b.double().mean(0)
    sa = a.norm(dim=0).clamp_min(1e-12)
    sb = b.norm(dim=0).clamp_min(1e-12)
    return ((a.T @ b) / (sa[:, None] * sb[None, :])).cpu().numpy()


def _permute_out(mod: nn.Module, perm: torch.Tensor) -> None:
    mod.weight.data = mod.weight.data[perm].clone()
    if mod.bias is not None:
        mod.bias.data = mod.bias.data[perm].clone()


def _permute_in(mod: nn.Module, perm: torch.Tensor, block: int) -> None:
    if block > 1:
        idx = (perm[:, None] * block + torch.arange(block, device=perm.device)).reshape(-1)
    else:
        idx = perm
    mod.weight.data = mod.weight.data[:, idx].clone()


def align_impl(model_a: nn.Module, model_b: nn.Module, x: torch.Tensor, func: str
               ) -> tuple[nn.Module, list[np.ndarray]]:
    """A deep copy of ``model_b`` with hidden units permuted to match ``model_a`` on ``x``."""
    from scipy.optimize import linear_sum_assignment

    steps = plan(model_a, func)
    steps_b = plan(model_b, func)
    if [s[0] for s in steps] != [s[0] for s in steps_b]:
        raise DeepscopeValueError(f"model_a and model_b of {func} have different layers.")
    aligned = copy.deepcopy(model_b)
    perms: list[np.ndarray] = []
    fa = _features(model_a, x)
    for layer, _between, nxt, flatten in steps:
        fb = _features(aligned, x)
        if fa[layer].shape != fb[layer].shape:
            raise DeepscopeValueError(f"Layer {layer!r} has different widths in model_a and "
                                      f"model_b of {func}.")
        _, cols = linear_sum_assignment(_corr(fa[layer], fb[layer]), maximize=True)
        perm = torch.as_tensor(cols, dtype=torch.long, device=x.device)
        mods = dict(aligned.named_children())
        width = mods[layer].weight.shape[0]
        block = mods[nxt].weight.shape[1] // width if flatten else 1
        _permute_out(mods[layer], perm.to(mods[layer].weight.device))
        _permute_in(mods[nxt], perm.to(mods[nxt].weight.device), block)
        perms.append(cols)
    return aligned, perms


__all__ = ["align_impl", "plan"]
