"""Weight matrices of a model and their eigenvalues, batched (private to the spectra lens)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True, eq=False)
class WeightMatrix:
    """One weight matrix of a model, as ``n_slices`` stacked ``N x M`` slices (``N >= M``).

    Attributes:
        layer: name of the module in ``model.named_modules()``.
        matrix: which matrix of the module: ``"weight"``, or ``"q"``, ``"k"``, ``"v"`` for
            the packed input projection of :class:`torch.nn.MultiheadAttention`.
        kind: ``"linear"`` (also ``transformers``' ``Conv1D``, stored transposed),
            ``"conv"``, ``"conv-transposed"``, ``"embedding"``, ``"attention"`` or
            ``"other"`` (any other module's 2-D ``weight``).
        weights: detached ``(n_slices, N, M)`` view or copy of the parameter (a conv layer
            as its ``kh x kw`` kernel-position slices, transposed so that ``N >= M``).
        shape: the parameter's original shape.
        aliases: other module names holding the same tensor (tied weights, e.g. GPT-2's
            ``lm_head`` and ``transformer.wte``): analysed once, under the first name.
        depthwise: a grouped conv with one input channel per group (each slice ``C x 1``
            has a single eigenvalue).
    """

    layer: str
    matrix: str
    kind: str
    weights: torch.Tensor
    shape: tuple[int, ...]
    aliases: tuple[str, ...] = ()
    depthwise: bool = False

    @property
    def N(self) -> int:  # noqa: N802 - the RMT name
        """Larger side of each slice."""
        return int(self.weights.shape[1])

    @property
    def M(self) -> int:  # noqa: N802 - the RMT name
        """Smaller side of each slice (the number of eigenvalues per slice)."""
        return int(self.weights.shape[2])

    @property
    def n_slices(self) -> int:
        """Number of slices (``kh * kw`` for a conv layer, else 1)."""
        return int(self.weights.shape[0])

    @property
    def q(self) -> float:
        """Aspect ratio ``N / M >= 1``."""
        return self.N / self.M


def _tall(w: torch.Tensor) -> torch.Tensor:
    """``(k, a, b)`` -> ``(k, N, M)`` with ``N >= M`` (a transposed view when needed)."""
    return w if w.shape[-2] >= w.shape[-1] else w.mT


def _conv_slices(weight: torch.Tensor, conv: str) -> torch.Tensor:
    """Conv weight ``(out, in/groups, *kernel)`` as kernel-position slices or one matrix."""
    out_c, in_c = weight.shape[:2]
    if conv == "reshape":
        return weight.reshape(1, out_c, -1)
    k = weight[0, 0].numel()
    return weight.reshape(out_c, in_c, k).permute(2, 0, 1)


def _join(module: str, param: str) -> str:
    return f"{module}.{param}" if module else param


def collect_all(model: nn.Module, conv: str
                ) -> tuple[list[WeightMatrix], list[tuple[str, str]]]:
    """Every weight matrix of ``model`` and every parameter *not* analysed, with why.

    Matrices: Linear, ``transformers`` ``Conv1D`` (``(in, out)``, transposed here), Conv
    1/2/3-D and transposed convs, Embedding(Bag), the packed (or separate) q/k/v input
    projection of MultiheadAttention, and any other module's 2-D floating ``weight``.
    A tensor reached under several names (tied weights) is analysed once; the other names
    are its ``aliases``. Returns ``(matrices, skipped)`` with ``skipped`` the
    ``(parameter name, reason)`` of every other parameter.
    """
    out: list[WeightMatrix] = []
    used: dict[int, int] = {}  # id(parameter) -> index in out
    consumed: set[str] = set()

    def add(name: str, param_name: str, tensor: torch.Tensor, make) -> None:
        consumed.add(_join(name, param_name))
        key = id(tensor)
        if key in used:
            i = used[key]
            m = out[i]
            out[i] = WeightMatrix(m.layer, m.matrix, m.kind, m.weights, m.shape,
                                  m.aliases + (name,), m.depthwise)
            return
        used[key] = len(out)
        out.extend(make())

    for name, mod in model.named_modules(remove_duplicate=False):
        if isinstance(mod, nn.MultiheadAttention):
            if mod.in_proj_weight is not None:
                w = mod.in_proj_weight.detach()
                add(name, "in_proj_weight", mod.in_proj_weight, lambda w=w, name=name: [
                    WeightMatrix(name, tag, "attention", _tall(part[None]), tuple(part.shape))
                    for tag, part in zip("qkv", w.chunk(3, dim=0))])
            else:
                for tag in "qkv":
                    p = getattr(mod, f"{tag}_proj_weight")
                    add(name, f"{tag}_proj_weight", p, lambda p=p, tag=tag, name=name: [
                        WeightMatrix(name, tag, "attention", _tall(p.detach()[None]),
                                     tuple(p.shape))])
            continue  # out_proj is a Linear submodule and is visited on its own
        weight = mod._parameters.get("weight") if hasattr(mod, "_parameters") else None
        if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
            continue
        w = weight.detach()
        shape = tuple(w.shape)
        if isinstance(mod, nn.modules.conv._ConvNd) and w.ndim >= 3:
            kind = "conv-transposed" if mod.transposed else "conv"
            depthwise = mod.groups > 1 and w.shape[1] == 1
            add(name, "weight", weight, lambda w=w, kind=kind, name=name, d=depthwise: [
                WeightMatrix(name, "weight", kind, _tall(_conv_slices(w, conv)), shape,
                             depthwise=d)])
        elif w.ndim != 2:
            continue
        elif type(mod).__name__ == "Conv1D" and hasattr(mod, "nf"):  # transformers' Conv1D
            add(name, "weight", weight, lambda w=w, name=name: [
                WeightMatrix(name, "weight", "linear", _tall(w.T[None]), shape)])
        else:
            kind = ("linear" if isinstance(mod, nn.Linear) else "embedding"
                    if isinstance(mod, (nn.Embedding, nn.EmbeddingBag)) else "other")
            add(name, "weight", weight, lambda w=w, kind=kind, name=name: [
                WeightMatrix(name, "weight", kind, _tall(w[None]), shape)])
    skipped = []
    for pname, p in model.named_parameters(remove_duplicate=False):
        if pname in consumed or id(p) in used:
            continue
        if not p.is_floating_point():
            why = f"not floating point ({str(p.dtype).replace('torch.', '')})"
        elif p.ndim < 2:
            why = "a vector (bias or normalisation scale), not a matrix"
        elif p.ndim == 2:
            why = "a 2-D parameter not named 'weight' (not read as a layer's matrix)"
        else:
            why = f"a {p.ndim}-D parameter of shape {tuple(p.shape)} outside a conv layer"
        skipped.append((pname, why))
    return out, skipped


def collect(model: nn.Module, conv: str) -> list[WeightMatrix]:
    """The weight matrices of :func:`collect_all`, in module order."""
    return collect_all(model, conv)[0]


def permuted(mats: list[WeightMatrix], seed: int) -> list[torch.Tensor]:
    """Each slice with its entries randomly permuted.

    The permutations come from one ``numpy.random.Generator(PCG64(seed))`` on the CPU (the
    same on every device; faster than ``torch.randperm``) and are applied on the weights'
    device.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    out = []
    for m in mats:
        w = m.weights
        k, n, mm = w.shape
        perm = np.stack([rng.permutation(n * mm) for _ in range(k)])
        flat = w.reshape(k, n * mm)
        idx = torch.from_numpy(perm).to(w.device)
        out.append(torch.gather(flat, 1, idx).reshape(k, n, mm))
    return out


def solve_dtype(w: torch.Tensor, dtype: torch.dtype | None) -> torch.dtype:
    """``dtype``, or by default the weights' own precision, at least float32."""
    if dtype is not None:
        return dtype
    return torch.float64 if w.dtype == torch.float64 else torch.float32


def batched_eigenvalues(stacks: list[torch.Tensor], dtype: torch.dtype | None
                        ) -> list[torch.Tensor]:
    """Ascending eigenvalues of ``W^T W`` for every slice of every ``(k, N, M)`` stack.

    Gram matrices of the same size ``M`` (from any layer, real or randomised) are stacked
    and handed to one ``torch.linalg.eigvalsh`` call. Returns, per stack, the ``(k, M)``
    eigenvalues (tiny negative round-off clamped to 0).
    """
    groups: dict[tuple, list[int]] = defaultdict(list)
    grams: list[torch.Tensor] = []
    for i, w in enumerate(stacks):
        w = w.to(solve_dtype(w, dtype))
        grams.append(w.mT @ w)
        groups[(w.shape[-1], w.device, w.dtype)].append(i)
    result: list[torch.Tensor | None] = [None] * len(stacks)
    for members in groups.values():
        big = torch.cat([grams[i] for i in members], dim=0)
        ev = torch.linalg.eigvalsh(big).clamp_min(0.0)
        start = 0
        for i in members:
            k = grams[i].shape[0]
            result[i] = ev[start:start + k]
            start += k
    return result  # type: ignore[return-value]
