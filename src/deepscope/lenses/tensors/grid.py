"""Grid tensors: a network evaluated on every assignment of templates to positions."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deepscope.errors import DeepscopeTypeError, check_choice, check_int, param_error

__all__ = ["GridTensor", "grid_tensor"]

_FUNC = "grid_tensor"


@dataclass(frozen=True, eq=False)
class GridTensor:
    """The grid tensor :math:`\\mathcal{A}_{d_1 \\dots d_N} = h_y(x^{(d_1)}, \\dots,
    x^{(d_N)})` of one output of a network.

    Attributes:
        lens: ``"tensors.grid_tensor"``.
        values: ``(M,) * N`` float64 tensor on the CPU; mode ``i`` is input position ``i``
            (row-major for images). For a log-space net it is ``exp(log h - log_scale)``.
        log_scale: ``0`` for a linear output; the largest ``log h`` for a log-space output
            (the grid is rescaled by ``exp(-log_scale)``, which leaves every rank unchanged).
        shape: Spatial shape of the input, ``(N,)`` or ``(H, W)``.
        n_templates: ``M``.
        output: Which output (column of the model's output) the grid holds.
        log_output: Whether the model's output was read as ``log h``.
        params: The options of the call.
        residues: For a linear-space :class:`deepscope.nets.ConvAC`, the exact grid modulo
            each prime of :data:`deepscope.lenses.tensors.modular.PRIMES` (flat int64
            arrays), from which :func:`separation_rank` takes exact ranks; else ``None``.
    """

    lens: str
    values: torch.Tensor
    log_scale: float
    shape: tuple[int, ...]
    n_templates: int
    output: int
    log_output: bool
    params: dict
    residues: tuple[np.ndarray, ...] | None = None

    @property
    def n_modes(self) -> int:
        """``N``, the number of modes (input positions)."""
        return self.values.dim()

    def to_frame(self):
        """One row per assignment ``(d_0, ..., d_{N-1})``: columns ``index, d0 .. d{N-1},
        value`` (``index`` is the row-major flat index)."""
        import pandas as pd

        m, n = self.n_templates, self.n_modes
        index = np.arange(m ** n)
        digits = (index[:, None] // m ** np.arange(n - 1, -1, -1)[None, :]) % m
        frame = pd.DataFrame(digits, columns=[f"d{i}" for i in range(n)])
        frame.insert(0, "index", index)
        frame["value"] = self.values.reshape(-1).numpy()
        return frame

    def tidy(self):
        """Long rows ``layer, metric, value`` (layer ``output<k>``): ``frobenius_norm``,
        ``max_abs``, ``mean``, ``n_entries``, ``log_scale``."""
        import pandas as pd

        v = self.values
        rows = [("frobenius_norm", float(v.norm())), ("max_abs", float(v.abs().max())),
                ("mean", float(v.mean())), ("n_entries", float(v.numel())),
                ("log_scale", self.log_scale)]
        return pd.DataFrame([{"layer": f"output{self.output}", "metric": k, "value": x}
                             for k, x in rows])


def _input_shape(model: nn.Module, shape) -> tuple[int, ...]:
    if shape is None:
        shape = getattr(model, "input_shape", None)
        if shape is None:
            raise param_error("shape", _FUNC, "the spatial input shape (N,) or (H, W) for a "
                              "model without an 'input_shape' attribute", None)
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not shape or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise param_error("shape", _FUNC, "a tuple of positive ints", shape)
    return tuple(shape)


def grid_tensor(model: nn.Module, templates: torch.Tensor, *, shape=None, output: int = 0,
                log_output: bool | None = None, dtype: torch.dtype = torch.float64,
                chunk_size: int = 4096, max_entries: int = 2 ** 24,
                exact: bool = True, method: str = "auto") -> GridTensor:
    """Evaluate ``model`` on all ``M^N`` assignments of ``M`` templates to ``N`` positions.

    The grid tensor of Cohen, Sharir & Shashua (2016, arXiv 1509.05009, Sec. 3): for a
    ConvAC with representation functions :math:`f_d`, :math:`\\mathcal{A}^{grid} =
    \\mathcal{A} \\times_1 F \\cdots \\times_N F` with :math:`F_{id} = f_d(x^{(i)})`, so for
    an invertible ``F`` (e.g. one-hot templates and a generic representation layer) every
    matricization of the grid tensor has the rank of the coefficient tensor's.

    Assignments are enumerated row-major (position 0 is the slowest digit) and run through
    the model in chunks of ``chunk_size``: memory holds one chunk of inputs besides the
    ``M^N`` result. The model runs on copies of its parameters and buffers cast to
    ``dtype`` (``torch.func.functional_call``), without gradients, in its current mode;
    the model itself is not touched.

    Args:
        model: Takes ``(B, C, *shape)`` and returns ``(B,)`` or ``(B, n_outputs)``.
        templates: ``(M, C)``, one template vector per row.
        shape: Spatial input shape; default ``model.input_shape`` (set by
            :func:`deepscope.nets.convac`).
        output: Column of the output to read.
        log_output: Whether the output is ``log h`` (default: ``model.log_space``, else
            False); the grid is then ``exp(log h - max log h)``.
        dtype: Precision of the evaluation (float64 by default: ranks need it).
        chunk_size: Assignments per forward pass.
        max_entries: Refuse grids larger than this (``M^N`` entries).
        method: ``"forward"`` runs the model on every assignment (any model);
            ``"contraction"`` contracts a :class:`deepscope.nets.ConvAC`'s weights along its
            tree (:mod:`deepscope.lenses.tensors.contraction`; ``O(M^N r)``, hundreds of
            times faster at N = 16); ``"auto"``: contraction for ConvACs, else forward.
        exact: For a linear-space ConvAC, also evaluate the circuit exactly modulo two
            primes (``residues``; see :mod:`deepscope.lenses.tensors.modular`), so that
            :func:`separation_rank` gives the exact rank of the float weights.

    Returns:
        A :class:`GridTensor`.

    Raises:
        DeepscopeValueError: bad templates, shape, output, or ``M^N > max_entries``.
        DeepscopeTypeError: ``model`` is not an ``nn.Module`` or ``templates`` not a tensor.

    Example:
        >>> import torch, deepscope as ds
        >>> net = ds.nets.convac(8, 2, 2)
        >>> ds.lenses.tensors.grid_tensor(net, torch.eye(2)).values.shape
        torch.Size([2, 2, 2, 2, 2, 2, 2, 2])
    """
    if not isinstance(model, nn.Module):
        raise param_error("model", _FUNC, "a torch.nn.Module", type(model).__name__,
                          type_error=True)
    if not isinstance(templates, torch.Tensor):
        raise param_error("templates", _FUNC, "a tensor of shape (M, C)",
                          type(templates).__name__, type_error=True)
    if templates.dim() != 2 or templates.shape[0] < 1:
        raise param_error("templates", _FUNC, "a tensor of shape (M, C) with M >= 1",
                          tuple(templates.shape))
    shape = _input_shape(model, shape)
    output = check_int(output, "output", _FUNC, low=0)
    if not isinstance(exact, bool):
        raise param_error("exact", _FUNC, "True or False", exact, type_error=True)
    chunk_size = check_int(chunk_size, "chunk_size", _FUNC, low=1)
    max_entries = check_int(max_entries, "max_entries", _FUNC, low=1)
    if dtype not in (torch.float32, torch.float64):
        raise param_error("dtype", _FUNC, "torch.float32 or torch.float64", dtype)
    if log_output is None:
        log_output = bool(getattr(model, "log_space", False))
    m, n = templates.shape[0], math.prod(shape)
    if m ** n > max_entries:
        raise param_error("max_entries", _FUNC, f"at least M^N = {m}^{n} = {m ** n} for "
                          "these templates and shape (or use fewer positions)", max_entries)
    check_choice(method, "method", _FUNC, ("auto", "forward", "contraction"))
    from deepscope.nets.convac import ConvAC

    is_convac = isinstance(model, ConvAC)
    if method == "contraction" and not is_convac:
        raise param_error("method", _FUNC, "'forward' or 'auto' for a model that is not a "
                          "deepscope.nets.ConvAC", method)
    if is_convac and method != "forward":
        if tuple(shape) != tuple(model.input_shape):
            raise param_error("shape", _FUNC, f"the ConvAC's input shape {model.input_shape}",
                              shape)
        out = _contract_float(model, templates, output, bool(log_output), dtype)
    else:
        out = _forward_grid(model, templates, shape, output, dtype, chunk_size)
    out = out.double()
    residues = None
    if exact is not False and not log_output and _is_linear_convac(model):
        from deepscope.lenses.tensors.modular import PRIMES, convac_grid_mod_p

        residues = tuple(convac_grid_mod_p(model, templates, p, output) for p in PRIMES)
    scale = 0.0
    if log_output:
        scale = float(out.max())
        out = torch.exp(out - scale)
    return GridTensor("tensors.grid_tensor", out.reshape((m,) * n), scale, shape, m, output,
                      bool(log_output), {"dtype": str(dtype), "chunk_size": chunk_size,
                                         "max_entries": max_entries, "exact": exact,
                                         "method": method},
                      residues)


def _contract_float(model, templates, output, log_output, dtype) -> torch.Tensor:
    from deepscope.lenses.tensors.contraction import contract, float_ops, log_ops

    n_out = model.output.shape[0]
    if output >= n_out:
        raise param_error("output", _FUNC, f"an int in [0, {n_out - 1}]", output)
    mix, outer = log_ops() if model.log_space else float_ops()
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    temps = templates.detach().cpu().numpy().astype(np_dtype)
    rep = model.representation.detach().cpu().numpy().astype(np_dtype)
    leaf = temps @ rep.T
    convs = [w.detach().cpu().numpy().astype(np_dtype) for w in model.convs]
    out_w = model.output.detach().cpu().numpy().astype(np_dtype)[output]
    flat = contract(model, leaf, convs, out_w, mix, outer)
    if model.log_space and not log_output:
        flat = np.exp(flat)
    elif not model.log_space and log_output:
        flat = np.log(flat)
    return torch.from_numpy(np.ascontiguousarray(flat))


def _forward_grid(model, templates, shape, output, dtype, chunk_size) -> torch.Tensor:
    m, n = templates.shape[0], math.prod(shape)
    params = {k: v.detach().to(dtype) if v.is_floating_point() else v.detach()
              for k, v in (*model.named_parameters(), *model.named_buffers())}
    device = templates.device
    temps = templates.detach().to(dtype)
    powers = m ** torch.arange(n - 1, -1, -1, device=device)
    out = torch.empty(m ** n, dtype=dtype)
    with torch.no_grad():
        for start in range(0, m ** n, chunk_size):
            idx = torch.arange(start, min(start + chunk_size, m ** n), device=device)
            digits = (idx[:, None] // powers) % m                       # (B, N)
            x = temps[digits].transpose(1, 2).reshape(len(idx), -1, *shape)
            y = torch.func.functional_call(model, params, (x,))
            if not isinstance(y, torch.Tensor):
                raise DeepscopeTypeError(f"The model given to {_FUNC} must return a tensor. "
                                         f"Got {type(y).__name__}.")
            y = y.reshape(len(idx), -1)
            if output >= y.shape[1]:
                raise param_error("output", _FUNC, f"an int in [0, {y.shape[1] - 1}]", output)
            out[start:start + len(idx)] = y[:, output].cpu()
    return out


def _is_linear_convac(model: nn.Module) -> bool:
    from deepscope.nets.convac import ConvAC

    return isinstance(model, ConvAC) and not model.log_space
