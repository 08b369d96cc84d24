"""Evaluation engine of the landscape lens: the loss at many parameter points per data pass.

A *point* is ``base + sum_k c_k * basis_k`` for a coefficient row ``c``; all points of a
chunk are stacked along a new leading dimension and evaluated at once with
``torch.func.vmap(functional_call)``. When the model is a plain ``nn.Sequential`` whose
first child is a ``Linear`` or ``Conv`` layer, that layer's output is linear in its
(weight, bias), so it is computed once per basis tensor and batch and combined with the
coefficients: the rest of the network is all that runs per point.

The model itself is never touched: parameters are detached, buffers cloned, hooks unused.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn
from torch.func import vmap

from deepscope.errors import DeepscopeError, DeepscopeValueError, param_error
from deepscope.lenses import _model as _in

_AFFINE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
#: Working-set budget of one chunk of points, in bytes (a rough estimate; see ``auto_chunk``).
CHUNK_BUDGET = 256 * 2**20


def check_model(model: Any, name: str, func: str) -> nn.Module:
    """``model`` must be an ``nn.Module`` with at least one parameter."""
    return _in.check_model(model, func, name, parameters=True)


check_loss_fn = _in.check_loss_fn


def batches(data: Any, func: str, device: torch.device, loss_fn: Any = None
            ) -> list[tuple[Any, Any, int]]:
    """``data`` as a list of ``(inputs, targets, weight)`` on ``device``.

    Inputs of any structure the one way in accepts (tensor, tuple, dict); the weight is
    what ``loss_fn`` averages over (see :func:`deepscope.losses.count`).
    """
    return list(_in.each_batch(_in.as_batches(data, func), func, device, loss_fn))


def detached(model: nn.Module) -> OrderedDict[str, torch.Tensor]:
    """The model's parameters, detached (sharing storage; never written)."""
    return OrderedDict((n, p.detach()) for n, p in model.named_parameters())


def as_direction(direction: Any, params: Mapping[str, torch.Tensor], name: str,
                 func: str) -> OrderedDict[str, torch.Tensor]:
    """A direction as a dict matching ``params``: from a dict/list of tensors or a flat vector."""
    accepted = ("a dict name -> tensor matching model.named_parameters(), a list of tensors "
                "in that order, or a flat vector of all parameters")
    names = list(params)
    ref = next(iter(params.values()))
    if isinstance(direction, torch.Tensor) and direction.ndim == 1:
        total = sum(p.numel() for p in params.values())
        if direction.numel() != total:
            raise param_error(name, func, f"a flat vector of {total} values (one per parameter)",
                              f"{direction.numel()} values")
        parts = torch.split(direction.detach().to(ref.device), [p.numel() for p in params.values()])
        items = [(n, part.reshape(params[n].shape)) for n, part in zip(names, parts)]
    elif isinstance(direction, Mapping):
        if list(direction) != names and set(direction) != set(names):
            raise param_error(name, func, accepted, f"keys {list(direction)[:4]}...")
        items = [(n, direction[n]) for n in names]
    elif isinstance(direction, (list, tuple)) and len(direction) == len(names):
        items = list(zip(names, direction))
    else:
        raise param_error(name, func, accepted, type(direction).__name__, type_error=True)
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for n, t in items:
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != tuple(params[n].shape):
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise param_error(name, func, f"a tensor of shape {tuple(params[n].shape)} for "
                              f"{n!r}", got)
        t = t.detach().to(device=params[n].device, dtype=params[n].dtype)
        if not bool(torch.isfinite(t).all()):
            raise DeepscopeValueError(f"The direction {name!r} of {func} contains NaN or inf "
                                      f"in {n!r}.")
        out[n] = t
    return out


def _needs_sequential(model: nn.Module) -> bool:
    """BatchNorm-like modules in training mode update buffers in place: not vmap-able."""
    return any(m.training and getattr(m, "track_running_stats", False) for m in model.modules())


def _affine_split(model: nn.Module) -> tuple[str, nn.Module, nn.Module] | None:
    """``(first_name, first_layer, rest)`` for a plain Sequential starting with Linear/Conv."""
    if not isinstance(model, nn.Sequential) or type(model).forward is not nn.Sequential.forward:
        return None
    children = list(model.named_children())
    if not children or not isinstance(children[0][1], _AFFINE):
        return None
    first_name, first = children[0]
    if first._forward_hooks or first._forward_pre_hooks:
        return None
    return first_name, first, nn.Sequential(OrderedDict(children[1:]))


def _first_apply(layer: nn.Module, x: torch.Tensor, w: torch.Tensor,
                 b: torch.Tensor | None) -> torch.Tensor:
    if isinstance(layer, nn.Linear):
        return nn.functional.linear(x, w, b)
    return layer._conv_forward(x, w, b)


def _correct(out: Any, y: Any) -> torch.Tensor:
    """Number of correct argmax predictions (NaN when outputs are not class scores)."""
    from deepscope.losses import logits

    try:
        out = logits(out)
    except DeepscopeError:
        return torch.full((), float("nan"))
    if (isinstance(y, torch.Tensor) and out.ndim == 2 and y.ndim == 1
            and not y.is_floating_point() and y.shape[0] == out.shape[0]):
        return (out.argmax(-1) == y).sum().to(out.dtype)
    return torch.full((), float("nan"), dtype=out.dtype, device=out.device)


def auto_chunk(n_points: int, params: Mapping[str, torch.Tensor], x: Any) -> int:
    """Points per pass so one chunk stays near :data:`CHUNK_BUDGET`.

    Per point: the stacked parameters plus, as a rough estimate of the activations, 16
    times the input batch.
    """
    x = _in.first_tensor(x)
    n_params = sum(p.numel() for p in params.values())
    per_point = x.element_size() * (n_params + 16 * x.numel())
    return int(max(1, min(n_points, CHUNK_BUDGET // max(per_point, 1))))


class Evaluator:
    """Loss (and accuracy) of ``model`` at many parameter points, never mutating it.

    Args:
        model: The network; evaluated in its current mode (call ``.eval()`` first for
            dropout / BatchNorm nets if that is what you want to measure).
        loss_fn: ``loss_fn(outputs, targets) -> mean loss`` (vmap-compatible, as are
            ``torch.nn.functional`` losses).
        func: Public function name, for error messages.
        chunk: Points per pass, or ``None`` for :func:`auto_chunk`.
        affine_first: Use the affine first-layer shortcut: ``None`` where it applies.
    """

    def __init__(self, model: nn.Module, loss_fn: Callable, func: str, *,
                 chunk: int | None = None, affine_first: bool | None = None) -> None:
        self.model = model
        self.loss_fn = loss_fn
        self.func = func
        self.chunk = chunk
        self.buffers = OrderedDict((n, b.detach().clone()) for n, b in model.named_buffers())
        self.sequential = _needs_sequential(model)
        split = _affine_split(model)
        if affine_first and split is None:
            raise param_error("affine_first", func, "False or None unless the model is an "
                              "nn.Sequential whose first child is Linear/Conv", affine_first)
        self.split = split if (affine_first is not False and not self.sequential) else None

    # -------------------------------------------------------------- points
    def _one_fn(self, y: Any, rest: bool) -> Callable:
        loss_fn = self.loss_fn
        if rest:
            module = self.split[2]
            prefix = self.split[0] + "."
            bufs = {n: b for n, b in self.buffers.items() if not n.startswith(prefix)}
        else:
            module, bufs = self.model, self.buffers

        def one(p, inp):
            out = _in.functional(module, (p, bufs), inp)
            return loss_fn(out, y), _correct(out, y)

        return one

    @staticmethod
    def _combine(base: torch.Tensor | None, basis: list[torch.Tensor],
                 c: list[float]) -> torch.Tensor:
        """``base + sum_k c_k basis_k`` for one point (exact: ``base`` when every c is 0)."""
        out = basis[0] * c[0] if base is None else torch.add(base, basis[0], alpha=c[0])
        for t, ck in zip(basis[1:], c[1:]):
            out = out.add(t, alpha=ck)
        return out

    def _loop(self, base, basis, coeffs, names, x, z_base, z_basis, one):
        """One point per pass (the fastest way on a CPU)."""
        losses, corrects = [], []
        for row in coeffs.tolist():
            p = {n: self._combine(None if base is None else base[n], [b[n] for b in basis], row)
                 for n in names}
            inp = x if z_basis is None else self._combine(z_base, z_basis, row)
            loss, correct = one(p, inp)
            losses.append(loss.detach())
            corrects.append(correct)
        return torch.stack(losses), torch.stack(corrects)

    def _chunked(self, base, basis, coeffs, names, x, z_base, z_basis, one, chunk):
        """``chunk`` points per pass, stacked and evaluated with vmap (GPU)."""
        ref = next(iter(basis[0].values()))
        stacked_basis = {n: torch.stack([b[n] for b in basis]) for n in names}
        zb = None if z_basis is None else torch.stack(z_basis)
        c_all = coeffs.to(device=ref.device, dtype=ref.dtype)
        losses, corrects = [], []
        for start in range(0, c_all.shape[0], chunk):
            c = c_all[start:start + chunk]
            p = {}
            for n in names:
                t = torch.einsum("mk,k...->m...", c, stacked_basis[n])
                p[n] = t if base is None else base[n].unsqueeze(0) + t
            if zb is None:
                loss, correct = vmap(one, in_dims=(0, None))(p, x)
            else:
                z = torch.einsum("mk,k...->m...", c, zb)
                if z_base is not None:
                    z = z + z_base.unsqueeze(0)
                loss, correct = vmap(one, in_dims=(0, 0))(p, z)
            losses.append(loss)
            corrects.append(correct)
        return torch.cat(losses), torch.cat(corrects)

    # -------------------------------------------------------------- public entry
    @torch.no_grad()
    def evaluate(self, base: Mapping[str, torch.Tensor] | None,
                 basis: list[Mapping[str, torch.Tensor]], coeffs: torch.Tensor,
                 data: list) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean loss and accuracy (float64, CPU, shape ``(P,)``) at every coefficient row.

        Args:
            base: The offset point (``None`` for zero).
            basis: ``k`` parameter dicts.
            coeffs: ``(P, k)`` float64 coefficients.
            data: Batches from :func:`batches`.
        """
        names = list(basis[0])
        dev = basis[0][names[0]].device
        n_pts = coeffs.shape[0]
        total_loss = torch.zeros(n_pts, dtype=torch.float64, device=dev)
        total_correct = torch.zeros(n_pts, dtype=torch.float64, device=dev)
        n_total = 0
        for x, y, n in data:
            z_base = z_basis = None
            rest_names = names
            if self.split is not None and isinstance(x, torch.Tensor):
                first_name, layer, _ = self.split
                pre = first_name + "."
                wn, bn = pre + "weight", pre + "bias"
                z_basis = [_first_apply(layer, x, b[wn], b.get(bn)) for b in basis]
                if base is not None:
                    z_base = _first_apply(layer, x, base[wn], base.get(bn))
                rest_names = [n for n in names if not n.startswith(pre)]
            one = self._one_fn(y, z_basis is not None)
            chunk = self.chunk
            if chunk is None:
                chunk = 1 if dev.type == "cpu" else auto_chunk(n_pts, basis[0], x)
            if chunk == 1 or self.sequential:
                loss, correct = self._loop(base, basis, coeffs, rest_names, x, z_base,
                                           z_basis, one)
            else:
                loss, correct = self._chunked(base, basis, coeffs, rest_names, x, z_base,
                                              z_basis, one, chunk)
            total_loss += loss.to(torch.float64) * n
            total_correct += correct.to(torch.float64).to(dev)
            n_total += n
        loss = (total_loss / n_total).cpu()
        acc = (total_correct / n_total).cpu()
        if not bool(torch.isfinite(loss).all()):
            bad = int((~torch.isfinite(loss)).sum())
            raise DeepscopeValueError(f"The loss of {self.func} is NaN or inf at {bad} of "
                                      f"{n_pts} points; shrink the span or check loss_fn.")
        return loss, acc


def model_loss(model: nn.Module, loss_fn: Callable, data: list, func: str
               ) -> tuple[float, float]:
    """Mean loss and accuracy of the model itself (plain functional_call, no stacking)."""
    ev = Evaluator(model, loss_fn, func, chunk=1, affine_first=False)
    params = detached(model)
    one = torch.ones(1, 1, dtype=torch.float64)
    loss, acc = ev.evaluate(None, [params], one, data)
    return float(loss[0]), float(acc[0])


def check_chunk(chunk: Any, func: str) -> int | None:
    if chunk is None:
        return None
    from deepscope.errors import check_int

    return check_int(chunk, "chunk", func, low=1)


def check_affine(value: Any, func: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise param_error("affine_first", func, "True, False or None", value, type_error=True)


__all__ = ["Evaluator", "as_direction", "auto_chunk", "batches", "check_affine", "check_chunk",
           "check_loss_fn", "check_model", "detached", "model_loss"]
