"""Curvature of a network's loss: Hessian-vector products, extreme eigenvalues, trace, density.

The loss is read as an energy landscape over the trainable parameters θ (flattened to one
vector of length P, ``named_parameters()`` order); these functions measure its second
derivative :math:`H = \\nabla^2_\\theta L(\\theta)` at the model's current parameters
without forming it: every quantity comes from Hessian-vector products computed
forward-over-reverse with :mod:`torch.func` on detached copies of the parameters.

Conventions shared by every function (and by :mod:`deepscope.lenses.landscape`):

* ``loss_fn(outputs, targets)`` returns the **mean** loss of a batch.
* ``data`` is an ``(inputs, targets)`` pair or an iterable (e.g. a DataLoader) of such
  pairs; the loss over several batches is the size-weighted mean of the batch losses.
* The model is never changed: parameters, buffers, ``.grad`` and every ``.training`` flag
  are left as they were. It is evaluated in its current mode, or in the one ``mode``
  names (``"eval"`` / ``"train"``, restored afterwards).
* ``parameters`` (names or glob patterns, e.g. ``["fc2.*"]``) restricts H to a block of
  the trainable parameters (per-layer curvature).
* Work runs on the parameters' device; batches are moved there. Randomness comes from
  ``seed: int | torch.Generator`` (vectors are drawn on the CPU, so a seed gives the same
  probes on any device).
* :class:`HessianOperator` is the operator these functions build (``matvec``/``matmat``
  for your own algorithms).

``kind="gauss-newton"`` replaces H by the generalised Gauss-Newton matrix
:math:`G = J^\\top H_L J` (J the Jacobian of the outputs in θ, :math:`H_L` the Hessian of
the loss in the outputs), which is positive semi-definite for convex losses.

References: Yao, Gholami, Keutzer & Mahoney 2020, "PyHessian", arXiv 1912.07145;
Ghorbani, Krishnan & Xiao 2019, arXiv 1901.10159; Meyer, Musco, Musco & Woodruff 2021,
"Hutch++", arXiv 2010.09649; Pearlmutter 1994 (fast exact Hessian-vector products).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from deepscope.errors import check_choice, check_float, check_int, param_error
from deepscope.lenses.curvature import lanczos as _kry
from deepscope.progress import as_factory
from deepscope.lenses.curvature.operator import KINDS, HessianOperator
from deepscope.lenses._result import Tidy
from deepscope.seeding import make_generator


WHICH = ("largest", "smallest", "both")
TRACE_METHODS = ("hutch++", "hutchinson")


def _operator(model: Any, loss_fn: Any, data: Any, kind: str, mode: str | None,
              parameters: Any, func: str) -> HessianOperator:
    return HessianOperator(model, loss_fn, data, kind=kind, mode=mode, parameters=parameters,
                           func=func)


def _generator(seed: Any, func: str) -> tuple[int | None, torch.Generator]:
    gen, value = make_generator(seed, "seed", func)
    return value, gen


def _like(op: HessianOperator) -> torch.Tensor:
    return torch.empty(0, device=op.device, dtype=op.dtype)


def _watched(op: HessianOperator, method: str, task: Any, description: str) -> Callable:
    """``op.matvec``/``op.matmat`` that advances ``task`` by the products it computes and,
    after the first, shows the measured seconds per product in the description."""
    call = getattr(op, method)
    clock = {"t": 0.0, "n": 0}

    def watched(v: torch.Tensor) -> torch.Tensor:
        before, t0 = op.n_products, time.perf_counter()
        out = call(v)
        done = op.n_products - before
        clock["t"] += time.perf_counter() - t0
        clock["n"] += done
        task.advance(done)
        task.update(description=f"{description} ({clock['t'] / clock['n']:.3g} s/product)")
        return out

    return watched


def hvp(model: nn.Module, loss_fn: Callable, data: Any, vector: torch.Tensor, *,
        kind: str = "hessian", mode: str | None = None,
        parameters: Sequence[str] | None = None) -> torch.Tensor:
    """Hessian-vector product :math:`H v` of the mean loss over ``data``.

    .. math:: H v = \\sum_b \\frac{n_b}{N} \\nabla_\\theta
              \\big(\\nabla_\\theta L_b(\\theta)^\\top v\\big)

    computed forward-over-reverse (``torch.func.jvp`` of ``torch.func.grad``), batch by
    batch (Pearlmutter 1994).

    Args:
        model: The network.
        loss_fn: ``loss_fn(outputs, targets) -> scalar`` mean loss.
        data: ``(inputs, targets)`` or an iterable of such pairs.
        vector: Flat ``(P,)`` tensor in ``named_parameters()`` order of the trainable
            parameters (see :meth:`HessianOperator.unflatten`).
        kind: ``"hessian"`` (default) or ``"gauss-newton"`` for :math:`G v`.
        mode: ``None`` (each module's current mode), ``"eval"`` or ``"train"``.
        parameters: Names or glob patterns of the parameters H is taken over (default all).

    Returns:
        ``(P,)`` tensor on the parameters' device and dtype.

    Raises:
        DeepscopeValueError: bad vector shape, non-scalar loss, empty data.
        DeepscopeTypeError: arguments of the wrong type.

    Example:
        >>> model = torch.nn.Linear(3, 2)
        >>> x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
        >>> v = torch.randn(sum(p.numel() for p in model.parameters()))
        >>> hvp(model, torch.nn.functional.cross_entropy, (x, y), v).shape
        torch.Size([8])
    """
    op = _operator(model, loss_fn, data, kind, mode, parameters, "hvp")
    if not isinstance(vector, torch.Tensor):
        raise param_error("vector", "hvp", f"a tensor of shape ({op.n_params},)",
                          type(vector).__name__, type_error=True)
    return op.matvec(vector)


# ----------------------------------------------------------------------------- eigenvalues


@dataclass(frozen=True, eq=False)
class HessianEigs(Tidy):
    """Extreme eigenpairs of the Hessian (or Gauss-Newton matrix).

    ``to_frame()``: one row per eigenpair; ``tidy()``: ``layer`` is ``""`` (the
    parameters measured), key ``rank``.

    Attributes:
        eigenvalues: ``(m,)`` float64, largest first (m = k, or 2k for ``which="both"``).
        eigenvectors: ``(m, P)`` unit vectors, rows matching ``eigenvalues``, on the
            parameters' device and dtype.
        residuals: ``(m,)`` float64 :math:`\\|H v - \\lambda v\\|`, from stored products.
        converged: ``(m,)`` bool, ``residual <= tol * max|Ritz value|``.
        n_hvp: Hessian-vector products used.
        which: ``"largest"``, ``"smallest"`` or ``"both"``.
        tol: The tolerance.
        seed: Seed of the start vector.
        kind: ``"hessian"`` or ``"gauss-newton"``.
        n_params: P.
        ad_mode: How the products were differentiated: ``"forward-over-reverse"`` or
            ``"reverse-over-reverse"`` (see :class:`HessianOperator`).
        lens: ``"curvature.hessian_eigs"``.
    """

    _metrics = ("eigenvalue", "residual", "converged")
    _layer = None
    _keys = ("rank",)

    eigenvalues: torch.Tensor
    eigenvectors: torch.Tensor
    residuals: torch.Tensor
    converged: torch.Tensor
    n_hvp: int
    which: str
    tol: float
    seed: int | None
    kind: str
    n_params: int
    ad_mode: str | None = None
    lens: str = "curvature.hessian_eigs"

    @property
    def complete(self) -> bool:
        """Whether every pair converged within ``max_hvp`` products."""
        return bool(self.converged.all())

    def to_frame(self):
        """One row per eigenpair: ``rank, eigenvalue, residual, converged, kind``."""
        import pandas as pd

        return pd.DataFrame({"rank": range(1, self.eigenvalues.numel() + 1),
                             "eigenvalue": self.eigenvalues.cpu().numpy(),
                             "residual": self.residuals.cpu().numpy(),
                             "converged": self.converged.cpu().numpy(), "kind": self.kind})


def hessian_eigs(model: nn.Module, loss_fn: Callable, data: Any, *, k: int = 1,
                 which: str = "largest", tol: float = 1e-3, max_hvp: int | None = None,
                 seed: int | torch.Generator = 0, kind: str = "hessian",
                 mode: str | None = None, parameters: Sequence[str] | None = None,
                 progress: Any = False) -> HessianEigs:
    """Extreme eigenvalues and eigenvectors of the Hessian by Lanczos.

    Lanczos with full reorthogonalisation builds an orthonormal Krylov basis V of
    :math:`\\{v_0, H v_0, H^2 v_0, \\dots\\}` and takes Ritz pairs of :math:`V^\\top H V`;
    the basis is thick-restarted (Wu & Simon 2000) when it grows past ``max(2m + 20, 40)``
    vectors. A pair :math:`(\\theta, y)` counts as converged when

    .. math:: \\|H y - \\theta y\\| \\le \\mathrm{tol} \\cdot \\max_i |\\theta_i| ,

    which bounds the eigenvalue error by the residual (and by residual² / gap for
    separated eigenvalues). For the top eigenvalues this needs far fewer products than the
    power iteration with deflation of PyHessian (Yao et al. 2020, arXiv 1912.07145).
    ``"largest"``/``"smallest"`` are algebraic (negative eigenvalues are found by
    ``"smallest"``). As for any single-vector Krylov method, an exactly repeated eigenvalue
    shows up once. Memory: the basis and its products, ``2 * max(2m + 20, 40)`` vectors
    of length P.

    Args:
        model: The network.
        loss_fn: ``loss_fn(outputs, targets) -> scalar`` mean loss.
        data: ``(inputs, targets)`` or an iterable of such pairs.
        k: Eigenpairs wanted at each end, ``1 <= k <= P`` (``2k <= P`` for ``"both"``).
        which: ``"largest"``, ``"smallest"`` or ``"both"`` (k of each, 2k in all).
        tol: Relative residual tolerance in (0, 1).
        max_hvp: Budget of Hessian-vector products (default ``max(200, 40 k)``); pairs not
            converged by then are returned with ``converged=False`` (and ``complete``
            false).
        seed: Seed of the random start vector (an int or a ``torch.Generator``).
        kind: ``"hessian"`` (default) or ``"gauss-newton"``.
        mode: ``None`` (each module's current mode), ``"eval"`` or ``"train"``.
        parameters: Names or glob patterns of the parameters H is taken over (default all).
        progress: ``True`` for a bar on stderr counting the Hessian-vector products (with
            the measured seconds per product after the first), or a task factory
            ``(description, total)`` as studies pass; ``False`` is silent.

    Returns:
        A :class:`HessianEigs`.

    Raises:
        DeepscopeValueError: bad options or data.

    Example:
        >>> model = torch.nn.Linear(3, 2)
        >>> x, y = torch.randn(16, 3), torch.randint(0, 2, (16,))
        >>> eigs = hessian_eigs(model, torch.nn.functional.cross_entropy, (x, y), k=2)
        >>> eigs.eigenvalues.shape, bool(eigs.converged.all())
        (torch.Size([2]), True)
    """
    func = "hessian_eigs"
    op = _operator(model, loss_fn, data, kind, mode, parameters, func)
    which = check_choice(which, "which", func, WHICH)
    n_ends = 2 if which == "both" else 1
    k = check_int(k, "k", func, low=1, high=max(op.n_params // n_ends, 1))
    tol = check_float(tol, "tol", func, low=0.0, high=1.0, closed="neither")
    max_hvp = (max(200, 40 * k) if max_hvp is None
                else check_int(max_hvp, "max_hvp", func, low=1))
    seed, gen = _generator(seed, func)
    start = op.n_products
    with as_factory(progress, func)(func, max_hvp) as task:
        out = _kry.lanczos_eigs(_watched(op, "matvec", task, func), op.n_params, k=k,
                                which=which, tol=tol, max_iter=max_hvp,
                                max_basis=max(2 * k * n_ends + 20, 40), generator=gen,
                                like=_like(op))
    return HessianEigs(out.values.cpu(), out.vectors, out.residuals.cpu(), out.converged.cpu(),
                       op.n_products - start, which, tol, seed, op.kind, op.n_params,
                       ad_mode=op.ad_mode)


# ----------------------------------------------------------------------------- trace


@dataclass(frozen=True, eq=False)
class HessianTrace(Tidy):
    """A randomised estimate of the trace of the Hessian (or Gauss-Newton matrix).

    ``to_frame()``: one row (the estimate); ``tidy()``: ``layer`` is ``""``.

    Attributes:
        estimate: The trace estimate.
        stderr: Its standard error (for Hutch++, of the deflated part given the sketch).
        n_hvp: Hessian-vector products used.
        complete: Whether ``stderr <= rtol * |estimate|`` was reached within ``max_hvp``.
        method: ``"hutch++"`` or ``"hutchinson"``.
        rtol: The requested relative standard error.
        sketch: Sketch size of Hutch++ (0 for Hutchinson).
        seed: Seed of the probes.
        kind: ``"hessian"`` or ``"gauss-newton"``.
        n_params: P.
        ad_mode: How the products were differentiated: ``"forward-over-reverse"`` or
            ``"reverse-over-reverse"`` (see :class:`HessianOperator`).
        lens: ``"curvature.hessian_trace"``.
    """

    _metrics = ("estimate", "stderr", "n_hvp", "complete")
    _layer = None

    estimate: float
    stderr: float
    n_hvp: int
    complete: bool
    method: str
    rtol: float
    sketch: int
    seed: int | None
    kind: str
    n_params: int
    ad_mode: str | None = None
    lens: str = "curvature.hessian_trace"

    def to_frame(self):
        """One row: ``method, kind, estimate, stderr, n_hvp, complete``."""
        import pandas as pd

        return pd.DataFrame([{"method": self.method, "kind": self.kind,
                              "estimate": self.estimate, "stderr": self.stderr,
                              "n_hvp": self.n_hvp, "complete": self.complete}])


def hessian_trace(model: nn.Module, loss_fn: Callable, data: Any, *, method: str = "hutch++",
                  rtol: float = 1e-2, max_hvp: int = 2000, sketch: int = 20,
                  seed: int | torch.Generator = 0, kind: str = "hessian",
                  mode: str | None = None, parameters: Sequence[str] | None = None,
                  progress: Any = False) -> HessianTrace:
    """Trace of the Hessian from Rademacher probes, stopping at a relative standard error.

    Hutchinson (1989): :math:`\\operatorname{tr} H = \\mathbb{E}[z^\\top H z]` for
    Rademacher z; the estimate is the sample mean and its standard error the sample
    standard deviation over :math:`\\sqrt{n}`. Hutch++ (Meyer, Musco, Musco & Woodruff
    2021, arXiv 2010.09649) first takes the trace exactly on Q, an orthonormal basis of
    :math:`H S` for ``sketch`` Rademacher columns S (``2 * sketch`` products), then applies
    Hutchinson to :math:`(I - QQ^\\top) H (I - QQ^\\top)`, whose variance lacks the
    dominant outlier eigenvalues of a network's Hessian:

    .. math:: \\widehat{\\operatorname{tr}} = \\operatorname{tr}(Q^\\top H Q)
              + \\frac{1}{n}\\sum_{i=1}^n z_i^\\top (I - QQ^\\top) H (I - QQ^\\top) z_i

    Probes are applied 8 at a time (vectorised products) and sampling stops, after at
    least 10 probes, as soon as ``stderr <= rtol * |estimate|``.

    Args:
        model: The network.
        loss_fn: ``loss_fn(outputs, targets) -> scalar`` mean loss.
        data: ``(inputs, targets)`` or an iterable of such pairs.
        method: ``"hutch++"`` or ``"hutchinson"``.
        rtol: Requested relative standard error, in (0, 1).
        max_hvp: Budget of Hessian-vector products (at least ``2 * sketch + 10`` for
            Hutch++, 10 for Hutchinson).
        sketch: Hutch++ sketch size (capped at P; with ``sketch >= P`` the trace is exact).
        seed: Seed of the probes (an int or a ``torch.Generator``).
        kind: ``"hessian"`` (default) or ``"gauss-newton"``.
        mode: ``None`` (each module's current mode), ``"eval"`` or ``"train"``.
        parameters: Names or glob patterns of the parameters H is taken over (default all).
        progress: ``True`` for a bar on stderr counting the Hessian-vector products (with
            the measured seconds per product after the first), or a task factory
            ``(description, total)`` as studies pass; ``False`` is silent.

    Returns:
        A :class:`HessianTrace`.

    Raises:
        DeepscopeValueError: bad options or data.

    Example:
        >>> model = torch.nn.Linear(3, 2)
        >>> x, y = torch.randn(16, 3), torch.randint(0, 2, (16,))
        >>> tr = hessian_trace(model, torch.nn.functional.cross_entropy, (x, y))
        >>> tr.estimate > 0, tr.complete
        (True, True)
    """
    func = "hessian_trace"
    op = _operator(model, loss_fn, data, kind, mode, parameters, func)
    method = check_choice(method, "method", func, TRACE_METHODS)
    rtol = check_float(rtol, "rtol", func, low=0.0, high=1.0, closed="neither")
    sketch = check_int(sketch, "sketch", func, low=1)
    used_sketch = min(sketch, op.n_params) if method == "hutch++" else 0
    max_hvp = check_int(max_hvp, "max_hvp", func, low=2 * used_sketch + 10)
    seed, gen = _generator(seed, func)
    common = {"rtol": rtol, "max_products": max_hvp, "block": 8, "min_samples": 10,
              "generator": gen, "like": _like(op)}
    start = op.n_products
    with as_factory(progress, func)(func, max_hvp) as task:
        matmat = _watched(op, "matmat", task, func)
        if method == "hutchinson":
            out = _kry.hutchinson(matmat, op.n_params, **common)
        else:
            out = _kry.hutch_pp(matmat, op.n_params, sketch=used_sketch, **common)
    return HessianTrace(out.estimate, out.stderr, op.n_products - start, out.converged,
                        method, rtol, used_sketch, seed, op.kind, op.n_params,
                        ad_mode=op.ad_mode)


# ----------------------------------------------------------------------------- density


@dataclass(frozen=True, eq=False)
class HessianDensity(Tidy):
    """Spectral density of the Hessian by stochastic Lanczos quadrature.

    ``to_frame()``: one row per grid point; ``tidy()``: ``layer`` is ``""``, key
    ``eigenvalue``, metric ``density``.

    Attributes:
        nodes: ``(runs, m)`` float64 quadrature nodes (Ritz values) of each run; a run
            that stopped early (invariant Krylov space) is padded with nodes 0 of weight 0.
        weights: ``(runs, m)`` float64 weights; each run's sum to 1.
        grid: ``(n_grid,)`` float64 eigenvalue grid.
        density: ``(n_grid,)`` float64 Gaussian-smoothed density on ``grid``, integrating
            to 1 (trapezoid rule).
        sigma: Width of the Gaussian kernel.
        n_hvp: Hessian-vector products used.
        seed: Seed of the start vectors.
        kind: ``"hessian"`` or ``"gauss-newton"``.
        n_params: P.
        ad_mode: How the products were differentiated: ``"forward-over-reverse"`` or
            ``"reverse-over-reverse"`` (see :class:`HessianOperator`).
        params: ``n_runs``, ``n_iter``, ``n_grid``.
        lens: ``"curvature.hessian_density"``.
    """

    _metrics = ("density",)
    _layer = None
    _keys = ("eigenvalue",)

    nodes: torch.Tensor
    weights: torch.Tensor
    grid: torch.Tensor
    density: torch.Tensor
    sigma: float
    n_hvp: int
    seed: int | None
    kind: str
    n_params: int
    params: dict = field(default_factory=dict)
    ad_mode: str | None = None
    lens: str = "curvature.hessian_density"

    def moment(self, order: int = 1) -> float:
        """Quadrature estimate of :math:`\\operatorname{tr}(H^p) / P`, averaged over runs."""
        order = check_int(order, "order", "HessianDensity.moment", low=0)
        return float((self.weights * self.nodes ** order).sum(1).mean())

    def to_frame(self):
        """One row per grid point: ``eigenvalue, density, kind``."""
        import pandas as pd

        return pd.DataFrame({"eigenvalue": self.grid.numpy(), "density": self.density.numpy(),
                             "kind": self.kind})

    def nodes_frame(self):
        """One row per quadrature node: ``run, node, weight`` (padding left out)."""
        import pandas as pd

        runs = torch.arange(self.nodes.shape[0])[:, None].expand_as(self.nodes)
        keep = self.weights > 0
        return pd.DataFrame({"run": runs[keep].numpy(), "node": self.nodes[keep].numpy(),
                             "weight": self.weights[keep].numpy()})


def hessian_density(model: nn.Module, loss_fn: Callable, data: Any, *, n_runs: int = 3,
                    n_iter: int = 80, kind: str = "hessian", sigma: float | None = None,
                    n_grid: int = 1000, seed: int | torch.Generator = 0,
                    mode: str | None = None, parameters: Sequence[str] | None = None,
                    progress: Any = False) -> HessianDensity:
    """Eigenvalue density of the Hessian by stochastic Lanczos quadrature (SLQ).

    Each run draws a Rademacher vector v (normalised), runs ``n_iter`` Lanczos steps with
    full reorthogonalisation and diagonalises the tridiagonal :math:`T = U \\Theta U^\\top`;
    nodes :math:`\\theta_i` and weights :math:`w_i = U_{1i}^2` give the Gauss quadrature
    :math:`v^\\top f(H) v \\approx \\sum_i w_i f(\\theta_i)`. Averaged over runs, with a
    Gaussian kernel (Ghorbani, Krishnan & Xiao 2019, arXiv 1901.10159; Lin, Saad & Yang
    2016, "Approximating spectral densities of large matrices"):

    .. math:: \\phi(t) = \\frac{1}{R}\\sum_{r=1}^R \\sum_i w^{(r)}_i
              \\frac{1}{\\sigma\\sqrt{2\\pi}} e^{-(t - \\theta^{(r)}_i)^2 / (2\\sigma^2)}

    Its mean :math:`\\sum_i w_i \\theta_i = v^\\top H v` is Hutchinson's estimate of
    :math:`\\operatorname{tr}(H) / P`. The grid spans the nodes plus ``5 sigma`` on each
    side and the density is normalised to integrate to 1 on it.

    Args:
        model: The network.
        loss_fn: ``loss_fn(outputs, targets) -> scalar`` mean loss.
        data: ``(inputs, targets)`` or an iterable of such pairs.
        n_runs: Independent runs (start vectors).
        n_iter: Lanczos steps (products) per run; at most P are taken.
        kind: ``"hessian"`` (default) or ``"gauss-newton"``.
        sigma: Kernel width; default ``0.01 * (max node - min node)`` (a positive floor
            when all nodes coincide).
        n_grid: Grid points, at least 10.
        seed: Seed of the start vectors (an int or a ``torch.Generator``).
        mode: ``None`` (each module's current mode), ``"eval"`` or ``"train"``.
        parameters: Names or glob patterns of the parameters H is taken over (default all).
        progress: ``True`` for a bar on stderr counting the Hessian-vector products (with
            the measured seconds per product after the first), or a task factory
            ``(description, total)`` as studies pass; ``False`` is silent.

    Returns:
        A :class:`HessianDensity`.

    Raises:
        DeepscopeValueError: bad options or data.

    Example:
        >>> model = torch.nn.Linear(3, 2)
        >>> x, y = torch.randn(16, 3), torch.randint(0, 2, (16,))
        >>> dens = hessian_density(model, torch.nn.functional.cross_entropy, (x, y), n_grid=50)
        >>> dens.density.shape
        torch.Size([50])
    """
    func = "hessian_density"
    check_choice(kind, "kind", func, KINDS)
    op = _operator(model, loss_fn, data, kind, mode, parameters, func)
    n_runs = check_int(n_runs, "n_runs", func, low=1)
    n_iter = min(check_int(n_iter, "n_iter", func, low=1), op.n_params)
    n_grid = check_int(n_grid, "n_grid", func, low=10)
    if sigma is not None:
        sigma = check_float(sigma, "sigma", func, low=0.0, closed="neither")
    seed, gen = _generator(seed, func)
    start = op.n_products
    nodes = torch.zeros(n_runs, n_iter, dtype=torch.float64)
    weights = torch.zeros(n_runs, n_iter, dtype=torch.float64)
    with as_factory(progress, func)(func, n_runs * n_iter) as task:
        matvec = _watched(op, "matvec", task, func)
        for r in range(n_runs):
            th, w, m = _kry.slq_run(matvec, op.n_params, n_iter, gen, _like(op))
            nodes[r, :m], weights[r, :m] = th, w
    live = nodes[weights > 0] if bool((weights > 0).any()) else nodes.reshape(-1)
    lo, hi = float(live.min()), float(live.max())
    if sigma is None:
        sigma = 0.01 * (hi - lo) or max(1e-3 * abs(hi), 1e-6)
    grid = torch.linspace(lo - 5 * sigma, hi + 5 * sigma, n_grid, dtype=torch.float64)
    z = (grid[:, None, None] - nodes[None]) / sigma
    dens = (weights[None] * torch.exp(-0.5 * z ** 2)).sum(2).mean(1) / (sigma * math.sqrt(
        2 * math.pi))
    dens = dens / torch.trapezoid(dens, grid)
    return HessianDensity(nodes, weights, grid, dens, float(sigma), op.n_products - start, seed,
                          op.kind, op.n_params, {"n_runs": n_runs, "n_iter": n_iter,
                                                 "n_grid": n_grid},
                          ad_mode=op.ad_mode)
