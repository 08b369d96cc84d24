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
        kind: ``"linear"``, ``"conv"``, ``"embedding"`` or ``"attention"``.
        weights: detached ``(n_slices, N, M)`` view or copy of the parameter (a conv layer
            as its ``kh x kw`` kernel-position slices, transposed so that ``N >= M``).
        shape: the parameter's original shape.
    """

    layer: str
    matrix: str
    kind: str
    weights: torch.Tensor
    shape: tuple[int, ...]

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


def collect(model: nn.Module, conv: str) -> list[WeightMatrix]:
    """Every Linear / Conv / Embedding / attention projection of ``model``, in module order."""
    out: list[WeightMatrix] = []
    for name, mod in model.named_modules():
        if isinstance(mod, nn.MultiheadAttention):
            if mod.in_proj_weight is not None:
                w = mod.in_proj_weight.detach()
                for tag, part in zip("qkv", w.chunk(3, dim=0)):
                    out.append(WeightMatrix(name, tag, "attention", _tall(part[None]),
                                            tuple(part.shape)))
            else:
                for tag in "qkv":
                    p = getattr(mod, f"{tag}_proj_weight").detach()
                    out.append(WeightMatrix(name, tag, "attention", _tall(p[None]),
                                            tuple(p.shape)))
            continue  # out_proj is a Linear submodule and is visited on its own
        weight = getattr(mod, "weight", None)
        if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
            continue
        w = weight.detach()
        if isinstance(mod, nn.Linear) and w.ndim == 2:
            out.append(WeightMatrix(name, "weight", "linear", _tall(w[None]), tuple(w.shape)))
        elif isinstance(mod, nn.modules.conv._ConvNd) and w.ndim >= 3:
            out.append(WeightMatrix(name, "weight", "conv", _tall(_conv_slices(w, conv)),
                                    tuple(w.shape)))
        elif isinstance(mod, (nn.Embedding, nn.EmbeddingBag)) and w.ndim == 2:
            out.append(WeightMatrix(name, "weight", "embedding", _tall(w[None]),
                                    tuple(w.shape)))
    return out


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
