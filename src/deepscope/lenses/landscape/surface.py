"""Loss landscapes: filter-normalised random directions, loss along lines and planes,
linear interpolation between solutions (with neuron alignment) and epsilon-sharpness.

Conventions shared with :mod:`deepscope.lenses.curvature`: ``loss_fn(outputs, targets)``
returns the **mean** loss of a batch; ``data`` is an ``(inputs, targets)`` pair of tensors
or an iterable (e.g. a DataLoader) of such pairs; losses over several batches are
sample-weighted means. Every function works where the model's parameters live (CPU or
CUDA) and never mutates the model: parameters are read detached, buffers are cloned,
``.grad`` and ``.training`` are left as they are. The model is evaluated in its current
mode (call ``.eval()`` first for dropout / BatchNorm nets if that is what you measure).

Papers: Li, Xu, Taylor, Studer & Goldstein (2018), "Visualizing the loss landscape of
neural nets", arXiv 1712.09913 (directions, planes); Keskar, Mudigere, Nocedal,
Smelyanskiy & Tang (2017), "On large-batch training for deep learning: generalization gap
and sharp minima", arXiv 1609.04836 (sharpness); Frankle, Dziugaite, Roy & Carbin (2020),
arXiv 1912.05671, and Garipov et al. (2018), arXiv 1802.10026 (linear mode connectivity);
Entezari et al. (2022), arXiv 2110.06296, and Ainsworth et al. (2023), arXiv 2209.04836
(permutation alignment).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from deepscope.lenses._result import Tidy
from deepscope.seeding import make_generator
from deepscope.errors import check_choice, check_float, check_int, param_error
from deepscope.lenses.landscape import evaluate as _ev
from deepscope.lenses.landscape.align import align_impl
from deepscope.lenses.landscape.directions import random_direction_impl
from deepscope.lenses.landscape.sharpness import BOXES, METHODS, Objective, lbfgsb, pga, radius



# ----------------------------------------------------------------------------- results


def _drop_nan_accuracy(frame):
    """Accuracy only where the outputs are class logits: an all-NaN column is left out."""
    if "accuracy" in frame and bool(frame["accuracy"].isna().all()):
        return frame.drop(columns="accuracy")
    return frame


@dataclass(frozen=True, eq=False)
class LossLine(Tidy):
    """Loss along ``theta + alpha * d``.

    ``to_frame()``: one row per point; ``tidy()``: ``layer`` is ``""``, key ``alpha``.

    Attributes:
        coords: ``(steps,)`` values of ``alpha``, symmetric, with ``0`` exactly at the centre.
        loss: ``(steps,)`` mean loss at each point.
        accuracy: ``(steps,)`` argmax accuracy (NaN when outputs are not class scores).
        center_loss: the loss of the model itself (``loss[steps // 2]``).
        span: the grid covers ``[-span, span]``.
        lens: ``"landscape.loss_line"``.
    """

    _metrics = ("loss", "accuracy")
    _layer = None
    _keys = ("alpha",)

    coords: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    center_loss: float
    span: float
    lens: str = "landscape.loss_line"

    def to_frame(self):
        """One row per point: ``alpha, loss, accuracy``."""
        import pandas as pd

        return _drop_nan_accuracy(pd.DataFrame({"alpha": self.coords, "loss": self.loss,
                                                "accuracy": self.accuracy}))


@dataclass(frozen=True, eq=False)
class LossPlane(Tidy):
    """Loss on the plane ``theta + alpha * d1 + beta * d2``.

    ``to_frame()``: one row per grid point; ``tidy()``: ``layer`` is ``""``, keys
    ``alpha, beta``.

    Attributes:
        coords: ``(alpha, beta)``, 1-D arrays of ``steps[0]`` and ``steps[1]`` values,
            symmetric, with ``0`` exactly at the centre.
        loss: ``(steps[0], steps[1])`` mean loss; ``loss[i, j]`` is at
            ``(alpha[i], beta[j])``; the centre is the model itself.
        accuracy: same shape, argmax accuracy (NaN when outputs are not class scores).
        center_loss: the loss of the model itself.
        span: ``(span_alpha, span_beta)``.
        lens: ``"landscape.loss_plane"``.
    """

    _metrics = ("loss", "accuracy")
    _layer = None
    _keys = ("alpha", "beta")

    coords: tuple[np.ndarray, np.ndarray]
    loss: np.ndarray
    accuracy: np.ndarray
    center_loss: float
    span: tuple[float, float]
    lens: str = "landscape.loss_plane"

    def to_frame(self):
        """One row per grid point: ``alpha, beta, loss, accuracy``."""
        import pandas as pd

        a, b = np.meshgrid(self.coords[0], self.coords[1], indexing="ij")
        return _drop_nan_accuracy(pd.DataFrame({
            "alpha": a.ravel(), "beta": b.ravel(), "loss": self.loss.ravel(),
            "accuracy": self.accuracy.ravel()}))


@dataclass(frozen=True, eq=False)
class Interpolation(Tidy):
    """Loss and accuracy along ``(1 - t) theta_a + t theta_b``.

    ``to_frame()``: one row per point; ``tidy()``: ``layer`` is ``""``, key ``t``.

    Attributes:
        t: ``(steps,)`` from 0 to 1; ``t = 0`` is ``model_a`` and ``t = 1`` ``model_b``
            exactly.
        loss: ``(steps,)`` mean loss.
        accuracy: ``(steps,)`` accuracy (NaN when outputs are not class scores).
        barrier: ``max_t loss(t) - (loss(0) + loss(1)) / 2`` (>= 0 up to the ends).
        accuracy_barrier: ``(acc(0) + acc(1)) / 2 - min_t acc(t)``.
        aligned: whether ``model_b``'s hidden units were permuted to match ``model_a``.
        permutations: per hidden layer, the permutation applied to ``model_b`` (if aligned).
        lens: ``"landscape.interpolate"``.
    """

    _metrics = ("loss", "accuracy")
    _layer = None
    _keys = ("t",)

    t: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    barrier: float
    accuracy_barrier: float
    aligned: bool
    permutations: tuple[np.ndarray, ...]
    lens: str = "landscape.interpolate"

    def to_frame(self):
        """One row per point: ``t, loss, accuracy, aligned``."""
        import pandas as pd

        return _drop_nan_accuracy(pd.DataFrame({"t": self.t, "loss": self.loss,
                                                "accuracy": self.accuracy,
                                                "aligned": self.aligned}))


@dataclass(frozen=True, eq=False)
class Sharpness(Tidy):
    """Keskar et al.'s epsilon-sharpness.

    ``to_frame()``: one row (the measurement); ``tidy()``: ``layer`` is ``""``, metrics
    ``sharpness, loss, max_loss, n_evals``.

    Attributes:
        value: ``100 * (max_loss - loss) / (1 + loss)``, in percent.
        loss: the loss at the model.
        max_loss: the largest loss found inside the box (a lower bound on the true max).
        epsilon: the box size.
        box: ``"relative"`` (``|y_i| <= eps (|w_i| + 1)``) or ``"absolute"`` (``|y_i| <= eps``).
        method: ``"pga"`` or ``"lbfgsb"``.
        n_evals: loss-and-gradient evaluations of the full data.
        seed: the seed of the random signs / start point (``None`` for a Generator).
        lens: ``"landscape.sharpness"``.
    """

    _metrics = ("sharpness", "loss", "max_loss", "n_evals")
    _layer = None

    value: float
    loss: float
    max_loss: float
    epsilon: float
    box: str
    method: str
    n_evals: int
    seed: int | None
    lens: str = "landscape.sharpness"

    def to_frame(self):
        """One row: ``sharpness, loss, max_loss, n_evals`` with the options."""
        import pandas as pd

        return pd.DataFrame([{"sharpness": self.value, "loss": self.loss,
                              "max_loss": self.max_loss, "n_evals": self.n_evals,
                              "epsilon": self.epsilon, "box": self.box,
                              "method": self.method}])


# ----------------------------------------------------------------------------- helpers


def _grid(steps: int, span: float) -> torch.Tensor:
    """``steps`` (odd) float64 points on ``[-span, span]`` with an exact 0 in the middle."""
    half = (steps - 1) // 2
    return torch.arange(-half, half + 1, dtype=torch.float64) * (span / half)


def _check_steps(steps: Any, name: str, func: str) -> int:
    steps = check_int(steps, name, func, low=3, high=100001)
    if steps % 2 == 0:
        raise param_error(name, func, "an odd int >= 3 (the grid holds the model at its centre)",
                          steps)
    return steps


def _setup(model, loss_fn, data, func):
    _ev.check_model(model, "model", func)
    _ev.check_loss_fn(loss_fn, func)
    params = _ev.detached(model)
    dev = next(iter(params.values())).device
    return params, _ev.batches(data, func, dev, loss_fn)


# ----------------------------------------------------------------------------- directions


def random_direction(model: nn.Module, seed: int | torch.Generator = 0, *,
                     normalization: str = "filter", include_biases: bool = False
                     ) -> OrderedDict[str, torch.Tensor]:
    """A Gaussian random direction in parameter space, normalised as Li et al. (2018).

    Every entry is drawn from ``N(0, 1)`` (on the CPU with ``generator``, then moved to
    each parameter's device, so a seed gives the same direction everywhere) and rescaled:

    .. math::

        d_{i} \\leftarrow \\frac{d_{i}}{\\lVert d_{i} \\rVert} \\lVert \\theta_{i} \\rVert

    where :math:`i` is a *filter* (``"filter"``: one output unit: a conv filter, a row of
    a Linear weight), a whole tensor (``"layer"``), or nothing (``"none"``, raw Gaussian).
    As Li et al. (arXiv 1712.09913) do, 1-D parameters (biases, BatchNorm/LayerNorm scales
    and shifts) get a zero direction unless ``include_biases=True``; then each 1-D
    parameter is normalised as one group (its norm is the parameter's norm).

    Args:
        model: The network.
        seed: An int seed or a CPU ``torch.Generator``.
        normalization: ``"filter"``, ``"layer"`` or ``"none"``.
        include_biases: Give 1-D parameters a (normalised) random direction too.

    Returns:
        An ordered dict ``name -> tensor`` matching ``model.named_parameters()`` (shapes,
        dtypes and devices); ``torch.cat([t.flatten() for t in d.values()])`` is the flat
        vector, which :func:`loss_plane` also accepts.

    Raises:
        DeepscopeValueError: bad normalization or seed.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
        >>> d = random_direction(net, 0)
        >>> list(d) == [n for n, _ in net.named_parameters()]
        True
    """
    func = "random_direction"
    _ev.check_model(model, "model", func)
    return random_direction_impl(model, seed, normalization, include_biases, func)


# ----------------------------------------------------------------------------- lines, planes


def loss_line(model: nn.Module, loss_fn: Callable, data: Any, direction: Any, *,
              steps: int = 41, span: float = 1.0, chunk: int | None = None,
              affine_first: bool | None = None) -> LossLine:
    """Loss along the line ``theta + alpha d``, ``alpha`` in ``[-span, span]``.

    .. math:: f(\\alpha) = L(\\theta + \\alpha d)

    Args:
        model: The network (its parameters are the centre ``theta``).
        loss_fn: ``loss_fn(outputs, targets) -> mean loss``.
        data: An ``(inputs, targets)`` pair or an iterable of pairs.
        direction: A dict / list of tensors matching ``named_parameters()`` or a flat
            vector (e.g. from :func:`random_direction`).
        steps: Odd number of points (the middle one is the model itself).
        span: Half-width of the range of ``alpha``.
        chunk: Points evaluated per pass (``torch.func.vmap`` over stacked parameters);
            ``None``: one by one on a CPU (fastest there), memory-bounded chunks on a GPU.
        affine_first: Compute the first layer once per basis tensor and combine
            (``None``: whenever the model is an ``nn.Sequential`` starting with
            Linear/Conv).

    Returns:
        A :class:`LossLine`.

    Raises:
        DeepscopeValueError: bad steps/span/direction, empty data, non-finite loss.
        DeepscopeTypeError: wrong types.

    Example:
        >>> import torch.nn.functional as F
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
        >>> x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
        >>> line = loss_line(net, F.cross_entropy, (x, y), random_direction(net, 0))
        >>> line.loss.shape
        (41,)
    """
    func = "loss_line"
    params, data = _setup(model, loss_fn, data, func)
    steps = _check_steps(steps, "steps", func)
    span = check_float(span, "span", func, low=0.0, closed="neither")
    d = _ev.as_direction(direction, params, "direction", func)
    ev = _ev.Evaluator(model, loss_fn, func, chunk=_ev.check_chunk(chunk, func),
                       affine_first=_ev.check_affine(affine_first, func))
    alpha = _grid(steps, span)
    loss, acc = ev.evaluate(params, [d], alpha[:, None], data)
    return LossLine(coords=alpha.numpy(), loss=loss.numpy(), accuracy=acc.numpy(),
                    center_loss=float(loss[steps // 2]), span=span)


def _pair(value: Any, name: str, func: str) -> tuple[Any, Any]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise param_error(name, func, "a number or a pair of numbers", value)
        return value[0], value[1]
    return value, value


def loss_plane(model: nn.Module, loss_fn: Callable, data: Any, d1: Any, d2: Any, *,
               steps: int | tuple[int, int] = (41, 41), span: float | tuple[float, float] = 1.0,
               chunk: int | None = None, affine_first: bool | None = None) -> LossPlane:
    """Loss on the plane spanned by two directions around the model (Li et al. 2018).

    .. math:: f(\\alpha, \\beta) = L(\\theta + \\alpha d_1 + \\beta d_2)

    The grid is symmetric and holds the model itself exactly at its centre (odd steps; the
    parameters there are ``theta`` bit for bit). Many grid points are evaluated per pass
    over each batch (``torch.func.vmap(functional_call)`` over stacked parameters, in
    chunks that bound memory); where the first layer is Linear/Conv its output is affine in
    the plane coordinates, ``z = z(theta) + alpha z(d_1) + beta z(d_2)``, so it is computed
    three times per batch instead of once per point.

    Args:
        model: The network.
        loss_fn: ``loss_fn(outputs, targets) -> mean loss``.
        data: An ``(inputs, targets)`` pair or an iterable of pairs.
        d1, d2: Directions (see :func:`loss_line`).
        steps: Odd points per axis, one int or ``(steps_alpha, steps_beta)``.
        span: Half-width per axis, one float or a pair.
        chunk: Points per pass (see :func:`loss_line`).
        affine_first: First-layer shortcut (see :func:`loss_line`).

    Returns:
        A :class:`LossPlane` with ``.loss`` of shape ``steps`` and ``.coords``.

    Raises:
        DeepscopeValueError: bad steps/span/directions, empty data, non-finite loss.
        DeepscopeTypeError: wrong types.

    Example:
        >>> import torch.nn.functional as F
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
        >>> x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
        >>> plane = loss_plane(net, F.cross_entropy, (x, y), random_direction(net, 0),
        ...                    random_direction(net, 1), steps=(21, 21))
        >>> plane.loss.shape
        (21, 21)
    """
    func = "loss_plane"
    params, data = _setup(model, loss_fn, data, func)
    s1, s2 = _pair(steps, "steps", func)
    s1, s2 = _check_steps(s1, "steps", func), _check_steps(s2, "steps", func)
    w1, w2 = _pair(span, "span", func)
    w1 = check_float(w1, "span", func, low=0.0, closed="neither")
    w2 = check_float(w2, "span", func, low=0.0, closed="neither")
    u = _ev.as_direction(d1, params, "d1", func)
    v = _ev.as_direction(d2, params, "d2", func)
    ev = _ev.Evaluator(model, loss_fn, func, chunk=_ev.check_chunk(chunk, func),
                       affine_first=_ev.check_affine(affine_first, func))
    a, b = _grid(s1, w1), _grid(s2, w2)
    coeffs = torch.cartesian_prod(a, b)
    loss, acc = ev.evaluate(params, [u, v], coeffs, data)
    loss = loss.reshape(s1, s2).numpy()
    return LossPlane(coords=(a.numpy(), b.numpy()), loss=loss,
                     accuracy=acc.reshape(s1, s2).numpy(),
                     center_loss=float(loss[s1 // 2, s2 // 2]), span=(w1, w2))


# ----------------------------------------------------------------------------- interpolation


def align_neurons(model_a: nn.Module, model_b: nn.Module, data: Any) -> nn.Module:
    """A copy of ``model_b`` with its hidden units permuted to match ``model_a``.

    For every hidden layer in turn, the units' activations on the inputs of ``data`` are
    correlated across the two networks and the permutation maximising the summed
    correlation is found with ``scipy.optimize.linear_sum_assignment`` (activation matching:
    Li et al. 2015, arXiv 1511.07543; Entezari et al. 2022, arXiv 2110.06296; Ainsworth et
    al. 2023, arXiv 2209.04836). The copy computes exactly the same function as
    ``model_b`` (up to float rounding). Supports ``nn.Sequential`` chains of Linear / Conv
    layers with activations, pooling, dropout and Flatten between them (``MLP``,
    ``SmallCNN``).

    Args:
        model_a: The reference network.
        model_b: The network to permute (left untouched; a deep copy is returned).
        data: An ``(inputs, targets)`` pair or an iterable of pairs (inputs are used).

    Returns:
        The permuted copy of ``model_b``.

    Raises:
        DeepscopeValueError: unsupported architecture or mismatched widths.
    """
    func = "align_neurons"
    _ev.check_model(model_a, "model_a", func)
    _ev.check_model(model_b, "model_b", func)
    dev = next(model_a.parameters()).device
    x = torch.cat([xb for xb, _, _ in _ev.batches(data, func, dev)])
    return align_impl(model_a, model_b, x, func)[0]


def interpolate(model_a: nn.Module, model_b: nn.Module, loss_fn: Callable, data: Any,
                *, steps: int = 25, align: bool = False, chunk: int | None = None
                ) -> Interpolation:
    """Loss and accuracy on the straight path between two networks, and its barrier.

    .. math::

        \\theta(t) = (1 - t)\\,\\theta_a + t\\,\\theta_b, \\qquad
        B = \\max_t L(\\theta(t)) - \\tfrac12 \\big(L(\\theta_a) + L(\\theta_b)\\big)

    (linear mode connectivity: Frankle et al. 2020, arXiv 1912.05671; Garipov et al. 2018,
    arXiv 1802.10026). With ``align=True`` the hidden units of ``model_b`` are first
    permuted to match ``model_a`` (:func:`align_neurons`), which removes the barrier caused
    only by the networks' permutation symmetry. Buffers (e.g. BatchNorm statistics) are
    those of ``model_a``.

    Args:
        model_a, model_b: Two networks of the same architecture.
        loss_fn: ``loss_fn(outputs, targets) -> mean loss``.
        data: An ``(inputs, targets)`` pair or an iterable of pairs.
        steps: Points on the path, ends included (``>= 2``).
        align: Permute ``model_b``'s hidden units to match ``model_a`` first.
        chunk: Points per pass (see :func:`loss_line`).

    Returns:
        An :class:`Interpolation`.

    Raises:
        DeepscopeValueError: mismatched architectures, bad steps, non-finite loss.

    Example:
        >>> import torch.nn.functional as F
        >>> net_a = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
        ...                             torch.nn.Linear(8, 3))
        >>> x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
        >>> net_b = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
        ...                             torch.nn.Linear(8, 3))
        >>> path = interpolate(net_a, net_b, F.cross_entropy, (x, y), align=True)
        >>> path.barrier >= -1e-6
        True
    """
    func = "interpolate"
    params_a, batches = _setup(model_a, loss_fn, data, func)
    _ev.check_model(model_b, "model_b", func)
    steps = check_int(steps, "steps", func, low=2, high=100001)
    if not isinstance(align, bool):
        raise param_error("align", func, "a bool", align, type_error=True)
    perms: tuple[np.ndarray, ...] = ()
    other = model_b
    if align:
        x = torch.cat([xb for xb, _, _ in batches])
        other, plist = align_impl(model_a, model_b, x, func)
        perms = tuple(plist)
    params_b = _ev.as_direction(_ev.detached(other), params_a, "model_b", func)
    t = torch.linspace(0.0, 1.0, steps, dtype=torch.float64)
    t[0], t[-1] = 0.0, 1.0
    coeffs = torch.stack([1.0 - t, t], dim=1)
    ev = _ev.Evaluator(model_a, loss_fn, func, chunk=_ev.check_chunk(chunk, func))
    loss, acc = ev.evaluate(None, [params_a, params_b], coeffs, batches)
    loss_np, acc_np = loss.numpy(), acc.numpy()
    barrier = float(loss_np.max() - 0.5 * (loss_np[0] + loss_np[-1]))
    acc_barrier = float(0.5 * (acc_np[0] + acc_np[-1]) - acc_np.min())
    return Interpolation(t=t.numpy(), loss=loss_np, accuracy=acc_np, barrier=barrier,
                         accuracy_barrier=acc_barrier, aligned=align, permutations=perms)


# ----------------------------------------------------------------------------- sharpness


def sharpness(model: nn.Module, loss_fn: Callable, data: Any, *, epsilon: float = 1e-3,
              box: str = "relative", method: str = "pga", steps: int = 20,
              seed: int | torch.Generator = 0) -> Sharpness:
    """Epsilon-sharpness of Keskar et al. (2017, arXiv 1609.04836), in percent.

    .. math::

        \\phi_{\\epsilon} = 100 \\cdot \\frac{\\max_{y \\in C_\\epsilon} L(\\theta + y)
            - L(\\theta)}{1 + L(\\theta)}, \\qquad
        C_\\epsilon = \\{ y : |y_i| \\le \\epsilon (|\\theta_i| + 1) \\}

    (``box="relative"``, the magnitude-aware box of the paper) or
    :math:`|y_i| \\le \\epsilon` (``box="absolute"``), in the full parameter space. The
    maximisation is local: ``"pga"`` is projected sign-gradient ascent from the centre
    (step a quarter of the box; exact on separable convex quadratics), ``"lbfgsb"`` is
    scipy's L-BFGS-B from a seeded random point, as Keskar et al. used, with ``steps``
    iterations. The reported maximum is the largest loss seen, so it never exceeds the
    true maximum.

    Args:
        model: The network.
        loss_fn: ``loss_fn(outputs, targets) -> mean loss`` (differentiable).
        data: An ``(inputs, targets)`` pair or an iterable of pairs.
        epsilon: The box size (Keskar et al. use 1e-3 and 5e-4).
        box: ``"relative"`` or ``"absolute"``.
        method: ``"pga"`` or ``"lbfgsb"``.
        steps: Ascent steps / L-BFGS-B iterations.
        seed: Seed (an int or a ``torch.Generator``) of the fallback signs (pga) or start
            point (lbfgsb).

    Returns:
        A :class:`Sharpness`.

    Raises:
        DeepscopeValueError: bad options, empty data.

    Example:
        >>> import torch.nn.functional as F
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
        >>> x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
        >>> s = sharpness(net, F.cross_entropy, (x, y), epsilon=1e-3)
        >>> s.value >= 0.0, s.method
        (True, 'pga')
    """
    func = "sharpness"
    params, batches = _setup(model, loss_fn, data, func)
    eps = check_float(epsilon, "epsilon", func, low=0.0, closed="neither")
    check_choice(box, "box", func, BOXES)
    check_choice(method, "method", func, METHODS)
    steps = check_int(steps, "steps", func, low=1, high=100000)
    gen, seed = make_generator(seed, "seed", func)
    obj = Objective(model, loss_fn, batches)
    f0, _ = obj(dict(params))
    r = radius(params, eps, box)
    best, _ = (pga if method == "pga" else lbfgsb)(obj, params, r, steps, gen)
    best = max(best, f0)
    return Sharpness(value=100.0 * (best - f0) / (1.0 + f0), loss=f0, max_loss=best,
                     epsilon=eps, box=box, method=method, n_evals=obj.calls, seed=seed)

