"""Signal-to-noise ratio of a network's gradient over batches, per parameter and per module.

Shalev-Shwartz, Shamir & Shammah (2017, "Failures of Gradient-Based Deep Learning",
arXiv 1703.07950, Section 3 and Figure 5) explain why end-to-end training of a product of
``k`` per-image decisions fails: the stochastic gradient's *signal* (the squared norm of its
expectation) shrinks exponentially with ``k`` while its *noise* (its variance) does not, so
SGD sees mostly noise. This lens measures both on any model and loss:

.. math::

    \\mathrm{signal} = \\Big\\| \\frac1B \\sum_b g_b \\Big\\|^2, \\qquad
    \\mathrm{noise} = \\frac1B \\sum_b \\Big\\| g_b - \\frac1B \\sum_{b'} g_{b'} \\Big\\|^2,
    \\qquad \\mathrm{SNR} = \\frac{\\mathrm{signal}}{\\mathrm{noise}},

where :math:`g_b = \\nabla_\\theta \\ell(f_\\theta(x_b), y_b)` is the gradient of the loss
of batch ``b`` with respect to the parameters :math:`\\theta` of one tensor, one module or
the whole model. The ``B`` gradients are the population (divide by ``B``, no Bessel
correction): pass batches of one example, or ``per_example=True``, for the paper's
per-example SNR; a batch of ``m`` examples has ``m`` times less noise.

The plain signal is biased upwards: :math:`E\\|\\bar g\\|^2 = \\|E g\\|^2 + \\sigma^2 / B`, so
with a tiny true SNR the estimate floors near ``1/B``. ``debias=True`` subtracts the
unbiased estimate of that term, :math:`\\mathrm{noise}/(B-1)`, from the signal (the result
may then be negative; its expectation is :math:`\\|E g\\|^2`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from deepscope.errors import DeepscopeValueError, param_error
from deepscope.lenses._model import (check_loss_fn, check_model, check_per_example, functional,
                                     move, select_parameters)
from deepscope.lenses._result import Tidy

__all__ = ["GradientSNR", "GradientSNRAccumulator", "gradient_snr"]

_FUNC = "gradient_snr"


def _ratio(signal: float, noise: float) -> float:
    """``signal / noise`` with the degenerate cases made explicit (inf, nan)."""
    if noise > 0.0:
        return signal / noise
    return float("inf") if signal != 0.0 else float("nan")


def _module_of(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else ""


@dataclass(frozen=True, eq=False)
class GradientSNR(Tidy):
    """Gradient signal, noise and SNR per parameter tensor, per module and in total.

    ``to_frame()``: one row per parameter tensor, module and the total (``kind``);
    ``tidy()``: ``layer, kind, metric, value``.

    Attributes:
        parameters: parameter names (``model.named_parameters()`` order).
        signal, noise, snr: ``(len(parameters),)`` arrays: squared norm of the mean
            gradient, mean squared deviation from it, and their ratio (``inf`` when the
            noise is exactly 0 and the signal is not; ``nan`` when both are 0).
        numel: number of coordinates of each parameter tensor.
        modules: names of the modules owning the parameters (``""`` is the root module).
        module_signal, module_noise, module_snr: the same over each module's parameters.
        total_signal, total_noise, total_snr: the same over all measured parameters.
        mean_gradient: the mean gradient of each parameter (a tensor on the model's device).
        n_batches: number of gradients ``B`` (batches, or examples with ``per_example``).
        per_example: whether each example was its own gradient.
        debias: whether ``noise / (B - 1)`` was subtracted from the signals.
        lens: ``"gradients.gradient_snr"``.
    """

    _metrics = ("signal", "noise", "snr")
    _keys = ("kind",)

    parameters: tuple[str, ...]
    signal: np.ndarray
    noise: np.ndarray
    snr: np.ndarray
    numel: np.ndarray
    modules: tuple[str, ...]
    module_signal: np.ndarray
    module_noise: np.ndarray
    module_snr: np.ndarray
    total_signal: float
    total_noise: float
    total_snr: float
    mean_gradient: dict
    n_batches: int
    per_example: bool
    debias: bool = False
    lens: str = "gradients.gradient_snr"

    def to_frame(self):
        """One row per parameter tensor, module and the total: ``layer, kind, signal, noise,
        snr`` (kind is ``parameter``, ``module`` or ``total``, whose layer is ``""``)."""
        import pandas as pd

        groups = (
            ("parameter", self.parameters, self.signal, self.noise, self.snr),
            ("module", self.modules, self.module_signal, self.module_noise, self.module_snr),
            ("total", ("",), [self.total_signal], [self.total_noise], [self.total_snr]),
        )
        rows = [{"layer": name, "kind": kind, "signal": float(sig[i]), "noise": float(noi[i]),
                 "snr": float(snr[i])}
                for kind, names, sig, noi, snr in groups for i, name in enumerate(names)]
        return pd.DataFrame(rows, columns=["layer", "kind", "signal", "noise", "snr"])

    def of(self, name: str) -> float:
        """SNR of a parameter (``"fc2.weight"``) or a module (``"fc2"``)."""
        if name in self.parameters:
            return float(self.snr[self.parameters.index(name)])
        if name in self.modules:
            return float(self.module_snr[self.modules.index(name)])
        known = ", ".join(repr(n) for n in (*self.parameters, *self.modules))
        raise param_error("name", "GradientSNR.of", f"one of {known}", name)


class GradientSNRAccumulator:
    """Streaming gradient SNR: ``update(inputs, targets)`` per batch, then ``compute()``.

    Gradients are computed with :func:`torch.func.grad` through
    :func:`torch.func.functional_call` on detached copies of the parameters and buffers:
    the model's ``state_dict``, ``.training`` and every ``.grad`` stay untouched (the model
    runs in whatever mode it is in). Sums are accumulated in float64, shifted by the first
    gradient so identical gradients give exactly zero noise.

    Args:
        model: The network.
        loss_fn: ``loss_fn(outputs, targets)`` returning the scalar mean loss.
        parameters: names of the parameters to measure (default: all trainable ones; the
            others are held fixed).
        per_example: treat every example of a batch as its own gradient
            (:func:`torch.func.vmap` over the examples; the model must support vmap).
    """

    def __init__(self, model: nn.Module, loss_fn: Callable[[Any, Any], Any], *,
                 parameters: Sequence[str] | None = None, per_example: bool = False) -> None:
        check_model(model, _FUNC)
        check_loss_fn(loss_fn, _FUNC)
        if not isinstance(per_example, bool):
            raise param_error("per_example", _FUNC, "a bool", per_example, type_error=True)
        if per_example:
            check_per_example(model, _FUNC, "per-example gradients")
        self.model, self.loss_fn, self.per_example = model, loss_fn, per_example
        self.names = select_parameters(model, parameters, _FUNC)
        chosen = set(self.names)
        self._fixed = {n: p.detach().clone() for n, p in model.named_parameters()
                       if n not in chosen}
        self._free = {n: p.detach().clone() for n, p in model.named_parameters() if n in chosen}
        self._buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
        self.device = next(iter(self._free.values())).device
        self._first: dict[str, torch.Tensor] = {}
        self._sum: dict[str, torch.Tensor] = {}
        self._sq = torch.zeros(len(self.names), dtype=torch.float64, device=self.device)
        self.count = 0
        self._grad = torch.func.grad(self._loss)

    def _loss(self, free: dict, x: Any, y: Any) -> torch.Tensor:
        # Buffers are cloned per call so a train-mode BatchNorm cannot touch the model's.
        state = {**self._fixed, **free, **{n: b.clone() for n, b in self._buffers.items()}}
        if self.per_example:
            x, y = torch.utils._pytree.tree_map(
                lambda t: t.unsqueeze(0) if isinstance(t, torch.Tensor) else t, (x, y))
        loss = self.loss_fn(functional(self.model, state, x), y)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise DeepscopeValueError(
                f"The loss_fn of {_FUNC} must return a scalar tensor (the mean loss). "
                f"Got {type(loss).__name__} of shape "
                f"{tuple(getattr(loss, 'shape', ()))}.")
        return loss.reshape(())

    def _gradients(self, x: Any, y: Any) -> dict[str, torch.Tensor]:
        if self.per_example:
            return torch.func.vmap(self._grad, in_dims=(None, 0, 0))(self._free, x, y)
        return {n: g.unsqueeze(0) for n, g in self._grad(self._free, x, y).items()}

    def update(self, inputs: Any, targets: Any) -> None:
        """Add the gradient of one batch (or of each of its examples)."""
        inputs, targets = move(inputs, self.device), move(targets, self.device)
        grads = self._gradients(inputs, targets)
        n_new = next(iter(grads.values())).shape[0]
        for i, name in enumerate(self.names):
            g = grads[name].detach().to(torch.float64).reshape(n_new, -1)
            if not torch.isfinite(g).all():
                raise DeepscopeValueError(
                    f"Gradients of parameter {name!r} at batch {self.count} in {_FUNC} "
                    "contain NaN or inf.")
            if name not in self._first:
                self._first[name] = g[0].clone()
                self._sum[name] = torch.zeros_like(g[0])
            d = g - self._first[name]
            self._sum[name] += d.sum(0)
            self._sq[i] += (d * d).sum()
        self.count += n_new

    def compute(self, *, debias: bool = False) -> GradientSNR:
        """The SNR of the gradients added so far (at least 2 are needed).

        Args:
            debias: subtract ``noise / (B - 1)`` from each signal (see the module docs).
        """
        if not isinstance(debias, bool):
            raise param_error("debias", _FUNC, "a bool", debias, type_error=True)
        if self.count < 2:
            raise DeepscopeValueError(
                f"The 'batches' parameter of {_FUNC} must hold at least 2 batches "
                f"(2 examples with per_example=True). Got {self.count}.")
        n = self.count
        means = {name: self._first[name] + self._sum[name] / n for name in self.names}
        signal = torch.stack([(means[k] ** 2).sum() for k in self.names])
        dm = torch.stack([(self._sum[k] / n).pow(2).sum() for k in self.names])
        noise = (self._sq / n - dm).clamp_min(0.0)
        # exact zero when every gradient equals the first (no rounding residue)
        noise = torch.where(self._sq == 0, torch.zeros_like(noise), noise)
        if debias:
            signal = signal - noise / (n - 1)
        sig, noi = signal.cpu().numpy(), noise.cpu().numpy()
        modules = tuple(dict.fromkeys(_module_of(k) for k in self.names))
        owner = np.array([modules.index(_module_of(k)) for k in self.names])
        m_sig = np.array([sig[owner == j].sum() for j in range(len(modules))])
        m_noi = np.array([noi[owner == j].sum() for j in range(len(modules))])
        t_sig, t_noi = float(sig.sum()), float(noi.sum())
        shapes = dict(self.model.named_parameters())
        return GradientSNR(
            parameters=tuple(self.names), signal=sig, noise=noi,
            snr=np.array([_ratio(s, v) for s, v in zip(sig, noi)]),
            numel=np.array([shapes[k].numel() for k in self.names]),
            modules=modules, module_signal=m_sig, module_noise=m_noi,
            module_snr=np.array([_ratio(s, v) for s, v in zip(m_sig, m_noi)]),
            total_signal=t_sig, total_noise=t_noi, total_snr=_ratio(t_sig, t_noi),
            mean_gradient={k: means[k].reshape(shapes[k].shape).to(shapes[k].dtype)
                           for k in self.names},
            n_batches=n, per_example=self.per_example, debias=debias,
        )


def gradient_snr(model: nn.Module, loss_fn: Callable[[Any, Any], Any],
                 batches: Iterable[tuple[Any, Any]], *,
                 parameters: Sequence[str] | None = None,
                 per_example: bool = False, debias: bool = False) -> GradientSNR:
    """Signal-to-noise ratio of the gradient over batches, per parameter and per module.

    Shalev-Shwartz, Shamir & Shammah (2017, arXiv 1703.07950, Section 3, Figure 5):

    .. math::

        \\mathrm{SNR} = \\frac{\\| \\bar g \\|^2}{\\frac1B \\sum_{b=1}^B \\| g_b - \\bar g\\|^2},
        \\qquad \\bar g = \\frac1B \\sum_{b=1}^B g_b,

    with :math:`g_b` the gradient of ``loss_fn`` on batch ``b`` restricted to one
    parameter tensor, one module (its parameters concatenated) or all measured
    parameters. Scaling the loss leaves the SNR unchanged. The model is evaluated with
    :func:`torch.func.functional_call` on detached copies of its parameters in its current
    mode; nothing about the model is changed and no ``.grad`` is written.

    Args:
        model: The network (its device is where the work runs; batches are moved there).
        loss_fn: ``loss_fn(outputs, targets)`` returning the scalar **mean** loss.
        batches: an iterable of ``(inputs, targets)`` pairs (inputs a tensor, a tuple of
            tensors or a dict of keyword inputs; any model output the loss reads); at
            least 2 gradients.
        parameters: names (as in ``model.named_parameters()``) to measure; default: all
            trainable parameters.
        per_example: each example of each batch is its own gradient (computed with
            :func:`torch.func.vmap`; the model must be vmap-compatible).
        debias: subtract the finite-sample bias ``noise / (B - 1)`` from the signals.

    Returns:
        A :class:`GradientSNR`.

    Raises:
        DeepscopeTypeError: a model that is not a Module, a loss that is not callable, a
            batch that is not an ``(inputs, targets)`` pair.
        DeepscopeValueError: fewer than 2 gradients, unknown parameter names, a loss that
            is not a scalar, NaN/inf gradients (naming the parameter and batch).

    Example:
        >>> import torch
        >>> net = torch.nn.Linear(3, 1)
        >>> data = [(torch.randn(8, 3), torch.randn(8, 1)) for _ in range(4)]
        >>> res = gradient_snr(net, torch.nn.functional.mse_loss, data)
        >>> res.parameters
        ('weight', 'bias')
    """
    acc = GradientSNRAccumulator(model, loss_fn, parameters=parameters,
                                 per_example=per_example)
    if isinstance(batches, (torch.Tensor, str, bytes)) or not isinstance(batches, Iterable):
        raise param_error("batches", _FUNC, "an iterable of (inputs, targets) pairs",
                          type(batches).__name__, type_error=True)
    for i, batch in enumerate(batches):
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise param_error("batches", _FUNC, "an iterable of (inputs, targets) pairs",
                              f"item {i} of type {type(batch).__name__}", type_error=True)
        acc.update(batch[0], batch[1])
    return acc.compute(debias=debias)
