"""Parameter count, Frobenius and spectral norms (with exact convolution operator norms),
path norm and distance from initialisation.

Papers: Neyshabur, Tomioka & Srebro (2015), "Norm-based capacity control in neural
networks", arXiv 1503.00036 (path norm); Bartlett, Foster & Telgarsky (2017), arXiv 1706.08498
(spectral norms); Sedghi, Gupta & Long (2019), "The singular values of convolutional layers",
arXiv 1805.10408 (operator norm of a convolution by FFT); Jiang, Neyshabur, Mobahi, Krishnan &
Bengio (2020), arXiv 1912.02178 (the measures as compared).
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from deepscope.errors import DeepscopeValueError, check_float, param_error
from deepscope.lenses._model import check_model
from deepscope.lenses.generalization._layers import (
    device_of, matrix, weight_layers,
)
from deepscope.lenses.generalization.results import (
    DistanceFromInit, Frobenius, ParameterCount, PathNorm, Spectral,
)

__all__ = [
    "conv_operator_norm", "distance_from_init", "frobenius", "parameter_count", "path_norm",
    "spectral",
]

_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)


def parameter_count(model: nn.Module) -> ParameterCount:
    """Number of parameters (the VC-dimension proxy of Jiang et al. 2020, ``omega``).

    Args:
        model: Any module. Tied (shared) tensors are counted once.

    Returns:
        :class:`ParameterCount` (``to_frame``: one row per module that owns parameters).

    Example:
        >>> from torch import nn
        >>> parameter_count(nn.Linear(3, 2)).total
        8
    """
    check_model(model, "parameter_count")
    seen: set[int] = set()
    layers, counts = [], []
    total = trainable = 0
    for name, mod in model.named_modules():
        n = 0
        for p in mod.parameters(recurse=False):
            if id(p) in seen:
                continue
            seen.add(id(p))
            n += p.numel()
            trainable += p.numel() if p.requires_grad else 0
        if n:
            layers.append(name)
            counts.append(n)
            total += n
    return ParameterCount(lens="generalization.parameter_count", total=total,
                          trainable=trainable, layers=tuple(layers), counts=tuple(counts))


def frobenius(model: nn.Module) -> Frobenius:
    """Frobenius norm ``||W_i||_F`` of every Linear / Conv1d / Conv2d weight.

    Args:
        model: Any module with at least one such layer.

    Returns:
        :class:`Frobenius` with ``product`` and ``sum`` (``to_frame``: one row per layer).
    """
    check_model(model, "frobenius")
    layers = weight_layers(model, "frobenius")
    norms = np.array([float(matrix(m).double().norm()) for _, m in layers])
    return Frobenius(lens="generalization.frobenius", layers=tuple(n for n, _ in layers),
                     norms=norms)


def _dilated_kernel(w: torch.Tensor, dilation: tuple[int, ...]) -> torch.Tensor:
    if all(d == 1 for d in dilation):
        return w
    k = w.shape[2:]
    size = [(kk - 1) * d + 1 for kk, d in zip(k, dilation)]
    out = w.new_zeros(*w.shape[:2], *size)
    index = (slice(None), slice(None)) + tuple(slice(None, None, d) for d in dilation)
    out[index] = w
    return out


def conv_operator_norm(weight: torch.Tensor, grid: Sequence[int], groups: int = 1) -> float:
    """Largest singular value of the circular convolution with ``weight`` on a ``grid``.

    Sedghi, Gupta & Long (2019): the 2-D DFT block-diagonalises a circular convolution, so
    its singular values are those of the ``c_out x c_in`` matrices
    ``K_hat[u, v] = sum_{a,b} W[:, :, a, b] exp(-2 pi i (u a / n_1 + v b / n_2))``
    over the ``n_1 n_2`` frequencies (the same in 1-D).

    .. math::
        \\|C_W\\|_2 = \\max_{u, v} \\sigma_{\\max}(\\hat K[u, v])

    Args:
        weight: ``(c_out, c_in / groups, k_1[, k_2])`` kernel (dilation already applied).
        grid: Spatial size of the (periodic) input, one int per kernel dimension.
        groups: Convolution groups (the operator is block-diagonal over them).

    Returns:
        The operator norm (float).
    """
    w = weight.detach().double()
    nd = w.ndim - 2
    grid = [max(int(g), int(k)) for g, k in zip(grid, w.shape[2:])]
    spec = torch.fft.fftn(w, s=grid, dim=tuple(range(2, 2 + nd)))
    cout = w.shape[0]
    spec = spec.reshape(groups, cout // groups, *spec.shape[1:])
    # (groups, out_g, in_g, *grid) -> (groups, *grid, out_g, in_g)
    spec = spec.permute(0, *range(3, 3 + nd), 1, 2)
    return float(torch.linalg.svdvals(spec).max())


@contextlib.contextmanager
def _no_mode_change(model: nn.Module, eval_mode: bool) -> Iterator[None]:
    modes = [(m, m.training) for m in model.modules()]
    try:
        if eval_mode:
            model.eval()
        yield
    finally:
        for m, t in modes:
            m.training = t


def _call(model: nn.Module, params: dict[str, torch.Tensor], x: torch.Tensor) -> Any:
    """Forward pass with the given parameters and cloned buffers (the model's stay as they are)."""
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    return functional_call(model, {**params, **buffers}, (x,), strict=False)


def _input_sizes(model: nn.Module, layers: list, input_shape: tuple[int, ...], func: str
                 ) -> dict[str, tuple[int, ...]]:
    """Spatial size of the input each conv layer sees, from one forward pass on zeros."""
    sizes: dict[str, tuple[int, ...]] = {}
    handles = []
    for name, mod in layers:
        if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
            def hook(m, args, name=name):
                sizes[name] = tuple(args[0].shape[2:])
            handles.append(mod.register_forward_pre_hook(hook))
    dev = device_of(model)
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    x = torch.zeros((2, *input_shape), device=dev, dtype=dtype)
    params = {n: p.detach() for n, p in model.named_parameters()}
    try:
        with torch.no_grad(), _no_mode_change(model, eval_mode=True):
            _call(model, params, x)
    except Exception as exc:  # noqa: BLE001 - user's model: say what failed and why
        raise param_error("input_shape", func, "the shape (without batch) of an input the "
                          "model accepts", f"{input_shape}, which failed with {exc}") from exc
    finally:
        for h in handles:
            h.remove()
    return sizes


def _check_shape(shape: Any, func: str, allow_none: bool) -> tuple[int, ...] | None:
    if shape is None and allow_none:
        return None
    ok = (isinstance(shape, Sequence) and not isinstance(shape, str) and len(shape) > 0
          and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0
                  for s in shape))
    if not ok:
        raise param_error("input_shape", func, ("None or " if allow_none else "")
                          + "a non-empty sequence of positive ints (the input without batch)",
                          shape)
    return tuple(int(s) for s in shape)


def spectral(model: nn.Module, *, input_shape: Sequence[int] | None = None) -> Spectral:
    """Largest singular value of every Linear / Conv1d / Conv2d layer.

    For a convolution two numbers are given: the spectral norm of the kernel reshaped to an
    ``(out, in * k)`` matrix (the convention of Jiang et al. 2020), and, when ``input_shape`` is
    given, the operator norm of the convolution as a linear map on the input size the layer
    sees (:func:`conv_operator_norm`, Sedghi et al. 2019). The latter is exact for stride 1 with
    ``padding_mode="circular"``; with zero padding or a stride the layer's operator is a
    submatrix of the circular one on the padded grid, so the value is an upper bound.

    Args:
        model: Any module with at least one Linear / Conv layer.
        input_shape: Shape of one input (without batch), e.g. ``(1, 8, 8)``; needed for the
            convolution operator norms (one forward pass on zeros, with the model's buffers
            cloned and its modes restored).

    Returns:
        :class:`Spectral` (``to_frame``: one row per layer).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> lin = nn.Linear(2, 2, bias=False)
        >>> with torch.no_grad():
        ...     _ = lin.weight.copy_(torch.diag(torch.tensor([3.0, 1.0])))
        >>> float(spectral(lin).norms[0])
        3.0
    """
    func = "spectral"
    check_model(model, func)
    shape = _check_shape(input_shape, func, allow_none=True)
    layers = weight_layers(model, func)
    sizes = _input_sizes(model, layers, shape, func) if shape is not None else {}
    kinds, norms, ops, exact = [], [], [], []
    for name, mod in layers:
        s = float(torch.linalg.matrix_norm(matrix(mod).double(), ord=2))
        norms.append(s)
        if isinstance(mod, nn.Linear):
            kinds.append("linear")
            ops.append(s)
            exact.append(True)
            continue
        kinds.append("conv1d" if isinstance(mod, nn.Conv1d) else "conv2d")
        if name not in sizes:
            ops.append(float("nan"))
            exact.append(False)
            continue
        w = _dilated_kernel(mod.weight.detach(), tuple(mod.dilation))
        nd = w.ndim - 2
        rp = mod._reversed_padding_repeated_twice
        pads = [rp[2 * i] + rp[2 * i + 1] for i in range(nd)][::-1]
        circular = mod.padding_mode == "circular"
        grid = [n if circular else n + q for n, q in zip(sizes[name], pads)]
        ops.append(conv_operator_norm(w, grid, mod.groups))
        same = all(q == k - 1 for q, k in zip(pads, w.shape[2:]))
        exact.append(circular and same and all(st == 1 for st in mod.stride))
    return Spectral(lens="generalization.spectral", layers=tuple(n for n, _ in layers),
                    kinds=tuple(kinds), norms=np.array(norms), operator_norms=np.array(ops),
                    exact=tuple(exact), input_shape=shape)


def _output_tensor(out: Any, func: str) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    logits = getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise DeepscopeValueError(f"The model given to {func} returned {type(out).__name__}; "
                              "it must return a tensor (or a tuple / output with .logits).")


def path_norm(model: nn.Module, input_shape: Sequence[int], *, p: float = 2.0) -> PathNorm:
    """The ``l_p`` path norm: one forward pass of ``|w|^p`` on an all-ones input.

    For a ReLU network (Linear / Conv layers, ReLU, max or average pooling, flatten, dropout)
    every unit of the network with weights ``|w|^p`` sees non-negative inputs, so the ReLUs
    pass everything and the outputs summed are the sum over all input-output paths of the
    product of ``|w|^p`` along the path (biases start paths at their unit):

    .. math::
        \\phi_p(w) = \\sum_{\\text{paths}} \\prod_{e \\in \\text{path}} |w_e|^p
                   = \\mathbf 1^\\top f_{|w|^p}(\\mathbf 1)

    Exact for ReLU nets (Neyshabur et al. 2015); Jiang et al. (2020) use ``p = 2``. Invariant
    under scaling one ReLU layer (weights and bias) by ``c`` and the next layer by ``1/c``.
    Normalisation layers have no path form and are refused.

    Args:
        model: A ReLU network.
        input_shape: Shape of one input, without batch.
        p: The exponent, > 0.

    Returns:
        :class:`PathNorm` with ``value`` (the path sum) and ``norm`` (its ``1/p`` power).

    Raises:
        DeepscopeValueError: If the model holds a normalisation layer.
    """
    func = "path_norm"
    check_model(model, func)
    shape = _check_shape(input_shape, func, allow_none=False)
    p = check_float(p, "p", func, low=0.0, closed="neither")
    for name, mod in model.named_modules():
        if isinstance(mod, _NORMS):
            raise DeepscopeValueError(
                f"path_norm needs a network of Linear/Conv layers, ReLUs and pooling; module "
                f"{name!r} ({type(mod).__name__}) has no path form. Fold it into the layer "
                f"before it, or use spectral/frobenius.")
    params = {n: t.detach().double().abs() ** p for n, t in model.named_parameters()}
    x = torch.ones((1, *shape), dtype=torch.float64, device=device_of(model))
    with torch.no_grad(), _no_mode_change(model, eval_mode=True):
        buffers = {n: b.double() if b.is_floating_point() else b.clone()
                   for n, b in model.named_buffers()}
        out = functional_call(model, {**params, **buffers}, (x,), strict=False)
    value = float(_output_tensor(out, func).sum())
    norm = value ** (1.0 / p) if value >= 0 else float("nan")
    return PathNorm(lens="generalization.path_norm", p=p, value=value, norm=norm,
                    input_shape=shape)


def distance_from_init(model: nn.Module, init_model: nn.Module) -> DistanceFromInit:
    """Distance of every weight layer (and of all parameters) from the initial model.

    Args:
        model: The trained model.
        init_model: The same architecture at initialisation (e.g. a ``copy.deepcopy`` taken
            before training).

    Returns:
        :class:`DistanceFromInit` (``to_frame``: one row per layer).

    Raises:
        DeepscopeValueError: If the two models' parameters differ in names or shapes.
    """
    func = "distance_from_init"
    check_model(model, func)
    check_model(init_model, func, "init_model")
    now = dict(model.named_parameters())
    then = dict(init_model.named_parameters())
    if list(now) != list(then) or any(now[k].shape != then[k].shape for k in now):
        raise param_error("init_model", func, "a model with the same parameter names and shapes "
                          "as 'model'", type(init_model).__name__)
    layers = weight_layers(model, func)
    mods0 = dict(init_model.named_modules())
    fro, spec = [], []
    for name, mod in layers:
        d = (matrix(mod).double() - matrix(mods0[name]).double().to(mod.weight.device))
        fro.append(float(d.norm()))
        spec.append(float(torch.linalg.matrix_norm(d, ord=2)))
    total = math.sqrt(sum(float((now[k].detach().double()
                                 - then[k].detach().double().to(now[k].device)).pow(2).sum())
                          for k in now))
    return DistanceFromInit(lens="generalization.distance_from_init",
                            layers=tuple(n for n, _ in layers), frobenius=np.array(fro),
                            spectral=np.array(spec), total=total)
