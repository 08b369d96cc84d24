"""Curvature operators of a model's loss: Hessian- and Gauss-Newton-vector products.

Private module of :mod:`deepscope.lenses.curvature`. The operator works on the model's
trainable parameters flattened to one vector (``named_parameters()`` order) and evaluates
the model with :func:`torch.func.functional_call` on detached copies, so the model's
parameters, buffers, ``.grad`` and ``.training`` flags are never changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn
from torch.func import grad, jvp, vjp, vmap

from deepscope.errors import DeepscopeError, DeepscopeValueError, check_choice, param_error
from deepscope.lenses._model import (
    as_batches,
    check_loss_fn,
    check_model,
    each_batch,
    functional,
    select_parameters,
)
from deepscope.lenses.curvature.autodiff import MODES_AD, SubstituteMode, second_order

__all__ = ["HessianOperator", "KINDS", "MODES"]

#: Curvature matrices: the Hessian, or the generalised Gauss-Newton matrix ``J^T H_L J``.
KINDS = ("hessian", "gauss-newton")
#: Modes the model is evaluated in: ``None`` keeps each module's current flag.
MODES = (None, "train", "eval")



class HessianOperator:
    """The Hessian (or Gauss-Newton matrix) of ``loss_fn(model(x), y)`` as a linear operator.

    The loss over a data set given in batches is the size-weighted mean of the batch losses,
    :math:`L = \\sum_b \\frac{n_b}{N} L_b`, so :math:`H v = \\sum_b \\frac{n_b}{N} H_b v`.
    Each product is computed forward-over-reverse with :mod:`torch.func` (``jvp`` of
    ``grad``), one pass over the data, at the cost of about two backward passes; nothing is
    retained between products. Where some op of the model has no forward-mode rule
    (hardswish, LSTM/GRU, custom autograd Functions) the product is computed
    reverse-over-reverse instead, decided by a probe on the first product
    (:attr:`ad_mode` says which ran); attention runs through the math SDPA backend and
    hardsigmoid/hardswish through equal composite forms during products (see
    :mod:`deepscope.lenses.curvature.autodiff`). Batch weights ``n_b`` are what the loss
    averages over (tokens for :func:`deepscope.losses.causal_lm`, samples otherwise). The Gauss-Newton product is :math:`J^\\top H_L J v` with J
    the Jacobian of the outputs and :math:`H_L` the Hessian of the loss in the outputs
    (Schraudolph 2002): one ``jvp`` through the model, a Hessian-vector product of the loss
    in output space and one ``vjp``.

    Args:
        model: The network. Its trainable parameters (``requires_grad``), in
            ``named_parameters()`` order, are the variables; frozen parameters and buffers
            are held fixed. Parameters must share one device and dtype.
        loss_fn: ``loss_fn(outputs, targets) -> scalar``, the *mean* loss of a batch.
        data: An ``(inputs, targets)`` pair, or an iterable (e.g. a DataLoader) of such
            pairs. ``inputs`` may be a tensor, a tuple of tensors (positional arguments),
            e.g. ``[((x1, x2), y)]``, or a dict (keyword arguments, e.g. ``input_ids``).
            Batches are moved to the parameters' device. A one-shot iterator is read once
            and kept in memory.
        kind: ``"hessian"`` or ``"gauss-newton"``.
        mode: ``None`` evaluates every module in its current mode; ``"eval"`` or
            ``"train"`` switch modes during each product and restore every module's own
            flag afterwards. In train mode BatchNorm uses batch statistics and its running
            statistics are updated on copies only; Dropout makes the products random.
        func: Name of the calling function, used in error messages.

    Attributes:
        names: Names of the parameters in the flat vector.
        shapes: Their shapes.
        n_params: Length P of the flat vector.
        n_products: Matrix-vector products computed so far (a ``matmat`` of k vectors
            counts k).
        ad_mode: ``"forward-over-reverse"`` or ``"reverse-over-reverse"`` once the first
            product has run (``None`` before).
        substitutes: whether ops without second-order rules (hardsigmoid, hardswish) run
            through their composite forms (switched on only when the probe needs them).

    Example:
        >>> model = torch.nn.Linear(3, 2)
        >>> x, y = torch.randn(16, 3), torch.randint(0, 2, (16,))
        >>> op = HessianOperator(model, torch.nn.functional.cross_entropy, (x, y))
        >>> op.matvec(torch.randn(op.n_params)).shape
        torch.Size([8])
    """

    def __init__(self, model: nn.Module, loss_fn: Callable, data: Any, *,
                 kind: str = "hessian", mode: str | None = None,
                 parameters: Sequence[str] | None = None,
                 func: str = "HessianOperator") -> None:
        check_model(model, func)
        check_loss_fn(loss_fn, func)
        self.kind = check_choice(kind, "kind", func, KINDS)
        self.mode = check_choice(mode, "mode", func, MODES)
        wanted = set(select_parameters(model, parameters, func))
        named = [(n, p) for n, p in model.named_parameters() if n in wanted]
        first = named[0][1]
        if any(p.device != first.device or p.dtype != first.dtype for _, p in named):
            raise param_error("model", func, "a module whose trainable parameters share one "
                              "device and dtype", type(model).__name__)
        if not first.is_floating_point():
            raise param_error("model", func, "a module with floating-point parameters",
                              str(first.dtype))
        self.model, self.loss_fn, self.func = model, loss_fn, func
        self.names = tuple(n for n, _ in named)
        self.shapes = tuple(tuple(p.shape) for _, p in named)
        self._sizes = [p.numel() for _, p in named]
        self.n_params = int(sum(self._sizes))
        self.device, self.dtype = first.device, first.dtype
        self._theta = torch.cat([p.detach().reshape(-1) for _, p in named])
        self._data = as_batches(data, func)
        self._buffers: dict[str, torch.Tensor] = {}
        self.ad_mode: str | None = None
        self.substitutes = False
        self.n_products = 0

    # ------------------------------------------------------------------ parameters

    def flat_parameters(self) -> torch.Tensor:
        """A copy of the current trainable parameters as one flat vector ``(P,)``."""
        return self._theta.clone()

    def unflatten(self, vector: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split a flat ``(P,)`` vector into a ``name -> tensor`` dict of parameter shapes."""
        parts = torch.split(vector, self._sizes)
        return {n: t.view(s) for n, t, s in zip(self.names, parts, self.shapes)}

    # ------------------------------------------------------------------ data

    def _batches(self) -> Iterable[tuple[Any, Any, int]]:
        return each_batch(self._data, self.func, self.device, self.loss_fn)

    # ------------------------------------------------------------------ functions

    def _outputs(self, theta: torch.Tensor, x: Any) -> Any:
        # buffers cloned inside the transformed function: train-mode BatchNorm updates them
        # in place, which torch.func allows only on tensors created inside the transform
        buffers = {n: b.clone() for n, b in self._buffers.items()}
        return functional(self.model, (self.unflatten(theta), buffers), x,
                          strict=False, tie_weights=True)

    def _loss_of_outputs(self, out: Any, y: Any) -> torch.Tensor:
        loss = self.loss_fn(out, y)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise DeepscopeValueError(f"loss_fn in {self.func} must return the mean loss as a "
                                      f"scalar tensor. Got {shape}.")
        return loss.reshape(())

    def _loss(self, theta: torch.Tensor, x: Any, y: Any) -> torch.Tensor:
        return self._loss_of_outputs(self._outputs(theta, x), y)

    def _second(self, f: Callable[[torch.Tensor], torch.Tensor], at: torch.Tensor,
                v: torch.Tensor) -> torch.Tensor:
        """``(d^2 f)(at) @ v`` in :attr:`ad_mode`, probing the modes on the first call.

        The probe tries forward-over-reverse, then reverse-over-reverse (the Hessian is
        symmetric, so the ``vjp`` of the gradient is the same product); the first that
        returns a finite product is kept for every later product.
        """
        if self.ad_mode is not None:
            with SubstituteMode() if self.substitutes else contextlib.nullcontext():
                if self.ad_mode == MODES_AD[0]:
                    return jvp(grad(f), (at,), (v,))[1]
                return vjp(grad(f), at)[1](v)[0]
        try:  # a failing forward or loss is the data's fault, not the derivatives'
            with torch.no_grad():
                f(at)
        except DeepscopeError:
            raise
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            raise DeepscopeValueError(
                f"{self.func}: the loss failed on the first batch, before any derivative "
                f"({type(err).__name__}: {str(err).splitlines()[0][:300]}). Check the inputs "
                "and targets (dtype, shape, label range) against what the model and loss_fn "
                "expect.") from None
        failures = []
        for subs in (False, True):
            for mode in MODES_AD:
                try:
                    self.ad_mode, self.substitutes = mode, subs
                    out = self._second(f, at, v)
                except (RuntimeError, NotImplementedError) as err:
                    self.ad_mode, self.substitutes = None, False
                    if subs:
                        failures.append(f"{mode}: {str(err).splitlines()[0][:300]}")
                    continue
                return out
        raise DeepscopeValueError(
            f"{self.func} cannot take second derivatives through {type(self.model).__name__}: "
            + "; ".join(failures) + ". Register an equal composite form of that op with "
            "deepscope.lenses.curvature.register_substitute, or use kind='gauss-newton' "
            "with a loss whose outputs are twice differentiable.")

    def _hvp_batch(self, v: torch.Tensor, x: Any, y: Any) -> torch.Tensor:
        if self.kind == "hessian":
            return self._second(lambda t: self._loss(t, x, y), self._theta, v)
        from deepscope.losses import logits

        def outputs(t: torch.Tensor) -> torch.Tensor:
            return logits(self._outputs(t, x))

        out, jv = jvp(outputs, (self._theta,), (v,))
        hjv = self._second(lambda o: self._loss_of_outputs(o, y), out.detach(), jv)
        return vjp(outputs, self._theta)[1](hjv)[0]

    def _apply(self, fn: Callable[[Any, Any], torch.Tensor], shape: tuple[int, ...]
               ) -> torch.Tensor:
        """``sum_b n_b fn(x_b, y_b) / N`` with modes switched and restored around it."""
        saved = [(m, m.training) for m in self.model.modules()]
        try:
            if self.mode is not None:
                for m, _ in saved:
                    m.training = self.mode == "train"
            self._buffers = {n: b.detach() for n, b in self.model.named_buffers()}
            total = torch.zeros(shape, device=self.device, dtype=self.dtype)
            count = 0
            with second_order(substitutes=False):
                for x, y, n in self._batches():
                    total = total + fn(x, y) * n
                    count += n
            return total / count
        finally:
            for m, flag in saved:
                m.training = flag
            self._buffers = {}

    def _vector(self, v: Any, name: str, lead: int) -> torch.Tensor:
        if not isinstance(v, torch.Tensor):
            raise param_error(name, self.func, "a torch.Tensor", type(v).__name__,
                              type_error=True)
        want = (self.n_params,) if lead == 1 else ("k", self.n_params)
        if v.ndim != lead or v.shape[-1] != self.n_params:
            raise param_error(name, self.func, f"a tensor of shape {want}", tuple(v.shape))
        if not bool(torch.isfinite(v).all()):
            raise param_error(name, self.func, "finite", "a tensor with NaN or inf")
        return v.detach().to(device=self.device, dtype=self.dtype)

    # ------------------------------------------------------------------ products

    def loss(self) -> float:
        """The loss at the current parameters (size-weighted mean over the batches)."""
        with torch.no_grad():
            return float(self._apply(lambda x, y: self._loss(self._theta, x, y), ()))

    def matvec(self, vector: torch.Tensor) -> torch.Tensor:
        """``H @ vector`` (or ``G @ vector``) for a flat ``(P,)`` vector."""
        v = self._vector(vector, "vector", 1)
        out = self._apply(lambda x, y: self._hvp_batch(v, x, y), (self.n_params,))
        self.n_products += 1
        return self._finite(out.detach())

    def matmat(self, vectors: torch.Tensor, *, chunk: int = 16) -> torch.Tensor:
        """``(H @ vectors.T).T`` for ``(k, P)`` vectors, ``chunk`` at a time with ``vmap``."""
        vs = self._vector(vectors, "vectors", 2)
        pieces = []
        for i in range(0, vs.shape[0], chunk):
            block = vs[i:i + chunk]
            batched = vmap(self._hvp_batch, in_dims=(0, None, None), randomness="same")
            pieces.append(self._apply(lambda x, y, b=block: batched(b, x, y),
                                      tuple(block.shape)))
        self.n_products += int(vs.shape[0])
        return self._finite(torch.cat(pieces).detach()) if pieces else vs.clone()

    def _finite(self, out: torch.Tensor) -> torch.Tensor:
        if not bool(torch.isfinite(out).all()):
            raise DeepscopeValueError(f"A {self.kind} product in {self.func} contains NaN or "
                                      "inf: the loss is not finite or not twice "
                                      "differentiable at these parameters.")
        return out

    def __matmul__(self, vector: torch.Tensor) -> torch.Tensor:
        return self.matvec(vector) if vector.ndim == 1 else self.matmat(vector.T).T
