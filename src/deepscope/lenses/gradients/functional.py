"""Private engine of :mod:`deepscope.lenses.gradients`: functional gradients with torch.func.

Nothing here touches the user's module state: parameters are detached copies, buffers are
cloned (so a BatchNorm in training mode cannot move the running statistics), ``.grad`` is
never written and the train/eval mode is never changed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.func import grad, vjp, vmap

from deepscope.lenses.gradients.walsh import cube_inputs, elementary_symmetric, fwht, popcount
from deepscope.lenses.gradients.per_example import per_example_engine

__all__ = ["FunctionalModel", "Moments", "parity_sums", "target_gradient_moments"]

#: Working-memory budget (bytes) of one chunk of per-target / per-example gradients.
BUDGET = 256 * 2 ** 20


class FunctionalModel:
    """Detached parameters, cloned buffers and a ``forward(params, x)`` of a module."""

    def __init__(self, model: torch.nn.Module) -> None:
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.names = tuple(n for n, _ in named)
        self.params = {n: p.detach() for n, p in named}
        self.frozen = {n: p.detach() for n, p in model.named_parameters()
                       if not p.requires_grad}
        self.buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
        self.sizes = [p.numel() for p in self.params.values()]
        self.model = model
        first = next(iter(self.params.values()), None)
        self.device = first.device if first is not None else torch.device("cpu")
        self.dtype = first.dtype if first is not None else torch.float32

    @property
    def n_params(self) -> int:
        return int(sum(self.sizes))

    def forward(self, params: dict[str, torch.Tensor], x: Any) -> Any:
        """The model on ``x`` (a tensor, a tuple of positional inputs or a dict of keywords)."""
        from deepscope.lenses._model import functional

        # fresh buffer copies per call: a BatchNorm in training mode updates them in place
        buffers = {k: b.clone() for k, b in self.buffers.items()}
        return functional(self.model, ({**params, **self.frozen}, buffers), x)

    def flatten(self, grads: dict[str, torch.Tensor], lead: int) -> torch.Tensor:
        """Concatenate per-parameter gradients with ``lead`` leading dims into ``(..., P)``."""
        parts = [grads[n].reshape(*grads[n].shape[:lead], -1) for n in self.names]
        return torch.cat(parts, dim=-1)


class Moments:
    """Running per-coordinate mean, centred second moment and raw second moment (float64).

    Chunks are merged with Chan et al.'s pairwise update, so the variance never comes from
    the difference of two large numbers.
    """

    def __init__(self, n_coords: int, device: torch.device) -> None:
        self.count = 0
        self.mean = torch.zeros(n_coords, dtype=torch.float64, device=device)
        self.m2 = torch.zeros_like(self.mean)
        self.sq = torch.zeros_like(self.mean)

    def update(self, rows: torch.Tensor) -> None:
        rows = rows.to(torch.float64)
        nb = rows.shape[0]
        mean_b = rows.mean(0)
        m2_b = ((rows - mean_b) ** 2).sum(0)
        total = self.count + nb
        delta = mean_b - self.mean
        self.mean += delta * (nb / total)
        self.m2 += m2_b + delta ** 2 * (self.count * nb / total)
        self.sq += (rows ** 2).sum(0)
        self.count = total


def _output_cotangents(loss_fn: Callable, out: torch.Tensor, targets: torch.Tensor
                       ) -> torch.Tensor:
    """``d loss_fn(out, t) / d out`` for every target row ``t`` (vectorised with vmap)."""
    return vmap(grad(lambda o, t: loss_fn(o, t)), in_dims=(None, 0))(out, targets)


def target_gradient_moments(fm: FunctionalModel, loss_fn: Callable, x: torch.Tensor,
                            targets: torch.Tensor, chunk: int | None) -> Moments:
    """Moments over targets of the full-batch gradients ``grad_w loss_fn(model(x), t)``.

    One forward pass is shared by all targets; each target's gradient is a vector-Jacobian
    product of the model with that target's output cotangent, vmapped over a chunk.
    """
    out, vjp_fn = vjp(lambda p: fm.forward(p, x), fm.params)
    out = out.detach()
    if chunk is None:
        per = 8 * (fm.n_params + 2 * out.numel()) + 1
        chunk = max(1, min(targets.shape[0], BUDGET // per))
    moments = Moments(fm.n_params, fm.device)
    for start in range(0, targets.shape[0], chunk):
        cot = _output_cotangents(loss_fn, out, targets[start:start + chunk])
        (grads,) = vmap(vjp_fn)(cot.to(out.dtype))
        moments.update(fm.flatten(grads, 1))
    return moments


def parity_sums(fm: FunctionalModel, loss_fn: Callable, d: int, k: int | None,
                batch_size: int, inputs: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """Per-coordinate sums that give the exact gradient statistics over a parity family.

    With ``b(x)`` / ``a(x)`` the per-example gradients of the label-odd / label-even parts
    of the loss, the gradient for the parity ``chi_S`` is ``A + B(S)`` with ``A = E_x a(x)``
    and ``B(S) = E_x chi_S(x) b(x)`` (a Walsh-Hadamard coefficient of ``b``).

    Returns (float64, per coordinate):
        ``a_mean``: ``A``. ``b_sq``: ``E_x b(x)^2`` (the ``G^2`` of Theorem 1, summed over
        coordinates). ``sum_b``: ``sum_{S in family} B(S)``. ``sum_b_sq``:
        ``sum_{S in family} B(S)^2``. ``size``: the family size (scalar).
        For ``k is None`` the family is all ``2^d`` parities: ``sum_b = b(1...1)`` and
        ``sum_b_sq = E_x b(x)^2`` (Parseval). ``inputs`` (sampled) replaces the full cube,
        only for ``k is None``.
    """
    engine = per_example_engine(fm, loss_fn)
    dev, dt = fm.device, fm.dtype
    n_total = 2 ** d if inputs is None else inputs.shape[0]
    P = fm.n_params
    a_sum = torch.zeros(P, dtype=torch.float64, device=dev)
    b_sq = torch.zeros_like(a_sum)
    sum_b = torch.zeros_like(a_sum)
    for start in range(0, n_total, batch_size):
        stop = min(start + batch_size, n_total)
        x = (cube_inputs(start, stop, d, dtype=dt, device=dev) if inputs is None
             else inputs[start:stop])
        a_sum += engine.even_sum(x)
        weights = None if k is None else elementary_symmetric(x, k).to(dt)
        sq, weighted = engine.odd_sums(x, weights)
        b_sq += sq
        if weighted is not None:
            sum_b += weighted
    out = {"a_mean": a_sum / n_total, "b_sq": b_sq / n_total}
    if k is None:
        ones = torch.ones(1, d, dtype=dt, device=dev)
        out["sum_b"] = engine.odd_rows(ones)[0].to(torch.float64)
        out["sum_b_sq"] = out["b_sq"].clone()
        out["size"] = torch.tensor(2.0 ** d, dtype=torch.float64)
        return out
    out["sum_b"] = sum_b / n_total
    out["sum_b_sq"] = _level_energy(engine.odd_rows, d, k, P, batch_size, dev, dt)
    out["size"] = torch.tensor(float(math.comb(d, k)), dtype=torch.float64)
    return out


def _level_energy(odd_rows: Callable, d: int, k: int, n_params: int, batch_size: int,
                  dev: torch.device, dt: torch.dtype) -> torch.Tensor:
    """``sum_{|S| = k} B(S)^2`` per coordinate, by a fast WHT of the per-example gradients.

    The ``(2^d, P)`` matrix of per-example gradients is transformed in column chunks that
    fit :data:`BUDGET`; a chunk that is not the whole matrix recomputes the per-example
    gradients (time traded for memory).
    """
    n = 2 ** d
    cols = max(1, min(n_params, BUDGET // (8 * n)))
    level = popcount(torch.arange(n, device=dev, dtype=torch.int64), d) == k
    energy = torch.zeros(n_params, dtype=torch.float64, device=dev)
    for c0 in range(0, n_params, cols):
        c1 = min(c0 + cols, n_params)
        mat = torch.empty(n, c1 - c0, dtype=torch.float64, device=dev)
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            x = cube_inputs(start, stop, d, dtype=dt, device=dev)
            mat[start:stop] = odd_rows(x)[:, c0:c1]
        coef = fwht(mat)[level] / n
        energy[c0:c1] = (coef ** 2).sum(0)
    return energy
