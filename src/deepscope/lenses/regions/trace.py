"""Walk a piecewise-linear network's graph with per-cell affine maps (the regions lens core).

The model is traced with :mod:`torch.fx`; every value of the graph is held as an affine
function of the cell coordinates for every cell at once: a tensor ``(R, K, *shape)`` whose
``K`` columns are the coefficients of the coordinates (``t``, or ``u`` and ``v``) and, last,
the constant. Affine modules (Linear, Conv, BatchNorm in eval, AvgPool, Flatten, additions)
act on all columns in one call, the bias only on the constant. A ReLU/LeakyReLU layer first
cuts the cells by every unit's zero line (one vectorised cut per unit), then applies the
activation per cell; a max-pool cuts every window's cells into the argmax cells of the
window. The model itself is never called, never put in eval mode, never changed: its
parameters are read (detached, float64) and the maths of each module is applied here, as in
eval mode (Dropout is the identity, BatchNorm uses its running statistics).
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from deepscope.errors import DeepscopeValueError, param_error
from deepscope.lenses._model import check_model
from deepscope.lenses.regions.cells import cut_layer

__all__ = ["SUPPORTED", "BudgetHit", "Walk", "WalkResult"]

#: Linear reshaping functions handled as the tensor method of the same name.
_RESHAPING = {torch.permute: "permute", torch.transpose: "transpose", torch.reshape: "reshape",
              torch.mean: "mean", torch.swapaxes: "transpose"}

SUPPORTED = ("Linear, Conv1d, Conv2d, ReLU, LeakyReLU, Identity, Flatten, Dropout, "
             "BatchNorm (eval), AvgPool, MaxPool, residual additions and linear reshaping "
             "(permute, transpose, reshape/view, flatten, cat, zero pad, mean, slicing)")

_DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)
_BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d)
_AVGPOOL = (nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)


class Aff:
    """An affine value: ``t`` of shape ``(R, K, *shape)``."""

    __slots__ = ("t",)

    def __init__(self, t: torch.Tensor) -> None:
        self.t = t


class _Batch:
    """The batch size in a traced ``x.size(0)`` / ``x.shape[0]``."""

    def __repr__(self) -> str:
        return "BATCH"


BATCH = _Batch()


class WalkResult:
    """What a walk produces: output maps, codes, and the code columns' layers."""

    def __init__(self, out: torch.Tensor, codes: torch.Tensor,
                 layers: dict[str, slice]) -> None:
        self.out, self.codes, self.layers = out, codes, layers

    def column_owner(self) -> tuple[list[str], list[int]]:
        """Layer name and unit index (within the layer) of every code column."""
        names: list[str] = []
        units: list[int] = []
        for name, sl in self.layers.items():
            names += [name] * (sl.stop - sl.start)
            units += list(range(sl.stop - sl.start))
        return names, units


def _owner(node: fx.Node | None) -> str:
    """`` in module 'stem.1' (LayerNorm2d)``: the innermost module a traced op came from."""
    stack = node.meta.get("nn_module_stack") if node is not None else None
    if not stack:
        return ""
    path, cls = list(stack.values())[-1]
    name = getattr(cls, "__name__", str(cls))
    return f" in module {path!r} ({name})"


def _dim(d: int, func: str) -> int:
    """A per-example dimension of the user's graph, shifted past the cell and K axes."""
    if d == 0:
        raise DeepscopeValueError(
            f"The 'model' parameter of {func} must not mix the batch dimension (dim 0).")
    return d + 1 if d > 0 else d


def _linear_part(t: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    r, k = t.shape[:2]
    out = fn(t.reshape(r * k, *t.shape[2:]))
    return out.reshape(r, k, *out.shape[1:])


def _add_const(t: torch.Tensor, c: Any) -> torch.Tensor:
    return torch.cat([t[:, :-1], (t[:, -1] + c)[:, None]], dim=1)


def _used_taps(size: int, k: int, stride: int, pad: int, dil: int) -> tuple[int, int]:
    """First and last kernel tap of one spatial axis that ever reads an input element (not
    zero padding), for an input of length ``size``."""
    n_out = (size + 2 * pad - dil * (k - 1) - 1) // stride + 1
    used = [i for i in range(k)
            if any(0 <= o * stride + i * dil - pad < size for o in range(n_out))] \
        if n_out <= 256 else list(range(k))
    return (used[0], used[-1]) if used else (0, k - 1)


def _cropped_conv(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, m: nn.Module
                 ) -> torch.Tensor:
    """``m``'s convolution of ``x`` ``(N, C, *spatial)`` with the kernel cropped to the taps
    that read real input: on small maps (the 1x1 and 2x2 maps at the end of a ResNet on
    32x32 inputs) most taps of a padded 3x3 kernel only ever see padding, and the float64
    convolution would multiply them all. Same values as the full convolution (to rounding)."""
    conv = F.conv1d if isinstance(m, nn.Conv1d) else F.conv2d
    dims = x.dim() - 2
    def per_axis(v: Any) -> tuple[int, ...]:
        return (v,) * dims if isinstance(v, int) else tuple(v)
    if isinstance(m.padding, str):               # 'same' / 'valid': let torch place it
        return conv(x, w, b, m.stride, m.padding, m.dilation, m.groups)
    stride, pad, dil = per_axis(m.stride), per_axis(m.padding), per_axis(m.dilation)
    taps = [_used_taps(x.shape[2 + i], w.shape[2 + i], stride[i], pad[i], dil[i])
            for i in range(dims)]
    if all(hi - lo + 1 == w.shape[2 + i] for i, (lo, hi) in enumerate(taps)):
        return conv(x, w, b, m.stride, m.padding, m.dilation, m.groups)
    pads: list[int] = []
    for i in reversed(range(dims)):               # F.pad lists the last axis first
        lo, hi = taps[i]
        size, k = x.shape[2 + i], w.shape[2 + i]
        n_out = (size + 2 * pad[i] - dil[i] * (k - 1) - 1) // stride[i] + 1
        left = pad[i] - lo * dil[i]
        right = (n_out - 1) * stride[i] + (hi - lo) * dil[i] + 1 - size - left
        pads += [left, right]
    crop = (slice(None), slice(None), *(slice(lo, hi + 1) for lo, hi in taps))
    return conv(F.pad(x, pads), w[crop], b, m.stride, 0, m.dilation, m.groups)


def _pool_windows(shape: tuple[int, ...], m: nn.Module, device: torch.device) -> torch.Tensor:
    """``(n_windows, window_size)`` flat feature indices of every max-pool window (``-1`` for
    padding), windows in the pool's output order."""
    one_d = isinstance(m, nn.MaxPool1d)
    def pair(v: Any, unit: int = 1) -> tuple[int, int]:
        if one_d:
            return (unit, v if isinstance(v, int) else v[0])
        return (v, v) if isinstance(v, int) else tuple(v)

    chw = (shape[0], 1, shape[1]) if one_d else tuple(shape)
    n = chw[0] * chw[1] * chw[2]
    idx = torch.arange(1, n + 1, dtype=torch.float64, device=device).reshape(1, *chw)
    cols = F.unfold(idx, pair(m.kernel_size), dilation=pair(m.dilation),
                    padding=pair(m.padding, 0), stride=pair(m.stride or m.kernel_size))
    size = cols.shape[1] // chw[0]
    cols = cols.reshape(chw[0], size, -1).permute(0, 2, 1).reshape(-1, size)
    return cols.round().long() - 1


class BudgetHit(Exception):
    """Raised inside a walk when ``max_regions`` or the deadline is reached."""

    def __init__(self, layer: str) -> None:
        super().__init__(layer)
        self.layer = layer


class Walk:
    """A traced network, ready to be walked over cells (see the module docstring).

    Budgets: ``max_regions`` and ``deadline`` (a :func:`time.monotonic` time), when set, are
    checked after every piecewise-linear layer (and every 16 units inside a layer's cuts of
    2-D cells); past either, :class:`BudgetHit` stops the walk with the cells cut so far left
    in place. ``on_layer(name, regions)``, when set, is called after every such layer.
    """

    max_regions: int | None = None
    deadline: float | None = None
    on_layer: Callable[[str, int], None] | None = None
    #: the last layer whose cuts are done (a budget stop inside a later layer names it)
    last_cut = ""

    def __init__(self, model: Any, func: str, rtol: float,
                 example: torch.Tensor | None = None) -> None:
        check_model(model, func)
        #: how the graph was obtained: "fx" (symbolic tracing) or "export" (torch.export of
        #: an eval-mode copy on ``example``, for models fx cannot trace)
        self.traced_by = "fx"
        try:
            self.gm = fx.symbolic_trace(model)
        except Exception as exc:  # noqa: BLE001 - any tracing failure is the user's model
            first = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            again = "no example input to export with"
            if example is not None:
                from deepscope.lenses.regions.export import exported_graph

                try:
                    self.gm, self.traced_by = exported_graph(model, example), "export"
                except Exception as exc2:  # noqa: BLE001 - export failing is the model too
                    again = f"{type(exc2).__name__}: {str(exc2).splitlines()[0][:200]}"
            if self.traced_by != "export":
                raise DeepscopeValueError(
                    f"The 'model' parameter of {func} must be traceable by torch.fx or "
                    f"torch.export. Got {type(model).__name__}, which failed with {first} "
                    f"(Python control flow on the inputs cannot be traced symbolically); "
                    f"torch.export of an eval-mode copy failed with {again}. Pass a module "
                    "whose forward is a plain graph of the supported ops."
                ) from None
        self.func, self.rtol = func, rtol
        self.nodes = list(self.gm.graph.nodes)
        pos = {node: i for i, node in enumerate(self.nodes)}
        self.last_use = {node: max((pos[u] for u in node.users), default=pos[node])
                         for node in self.nodes}
        self.modules = dict(self.gm.named_modules())
        self._check_modules()

    # ------------------------------------------------------------------ budgets
    def cut_layers(self) -> list[str]:
        """Names of the graph's nodes that cut cells (activations and max-pools), in order."""
        names = []
        for node in self.nodes:
            cut = (node.op == "call_module" and isinstance(
                       self.modules[node.target], (nn.ReLU, nn.LeakyReLU, nn.MaxPool1d,
                                                   nn.MaxPool2d))) \
                or (node.op == "call_function" and node.target in (F.relu, torch.relu,
                                                                    F.leaky_relu)) \
                or (node.op == "call_method" and node.target == "relu")
            if cut:
                names.append(str(node.target) if node.op == "call_module" else node.name)
        return names

    def regions(self) -> int:
        """Regions found so far (cells of the walk)."""
        return int(self.cells.n)

    def spent(self) -> bool:
        """Whether a budget (``max_regions``, ``deadline``) is spent."""
        if self.max_regions is not None and self.regions() > self.max_regions:
            return True
        return self.spent_time()

    def spent_time(self) -> bool:
        """Whether the deadline has passed."""
        return self.deadline is not None and time.monotonic() > self.deadline

    def _after_layer(self, name: str) -> None:
        self.last_cut = name
        if self.on_layer is not None:
            self.on_layer(name, self.regions())
        if self.spent():
            raise BudgetHit(name)

    # ------------------------------------------------------------------ set-up checks
    def _unsupported(self, what: str, node: fx.Node | None = None) -> DeepscopeValueError:
        owner = _owner(node)
        return DeepscopeValueError(
            f"The 'model' parameter of {self.func} must be built from {SUPPORTED}. "
            f"Got {what}{owner}, which is not piecewise linear or not supported.")

    def _check_modules(self) -> None:
        for node in self.nodes:
            if node.op != "call_module":
                continue
            m = self.modules[node.target]
            ok = isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ReLU, nn.LeakyReLU,
                                nn.Identity, nn.Flatten, nn.MaxPool1d, nn.MaxPool2d,
                                *_DROPOUT, *_BATCHNORM, *_AVGPOOL))
            if not ok:
                raise self._unsupported(f"module {node.target!r} ({type(m).__name__})")
            if isinstance(m, (nn.Conv1d, nn.Conv2d)) and m.padding_mode != "zeros":
                raise self._unsupported(f"module {node.target!r} ({type(m).__name__} with "
                                        f"padding_mode={m.padding_mode!r})")
            if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)) and (m.ceil_mode or
                                                                  m.return_indices):
                raise self._unsupported(f"module {node.target!r} ({type(m).__name__} with "
                                        "ceil_mode or return_indices)")
            if isinstance(m, _BATCHNORM) and m.running_mean is None:
                raise self._unsupported(f"module {node.target!r} ({type(m).__name__} "
                                        "without running statistics)")

    # ------------------------------------------------------------------ the walk
    def run(self, x: torch.Tensor, cells: Any) -> WalkResult:
        """Walk the graph from the input map ``x`` ``(R, K, *input_shape)`` over ``cells``."""
        self.cells, self.device = cells, x.device
        self.last_cut = ""
        self.env: dict[fx.Node, Any] = {}
        self.codes: list[torch.Tensor] = []
        self.layers: dict[str, slice] = {}
        self.n_units = 0
        self._seen: dict[str, int] = {}
        out = None
        started = False
        for i, node in enumerate(self.nodes):
            if node.op == "placeholder":
                if started:
                    raise self._unsupported(f"a second input {node.name!r}")
                self.env[node] = Aff(x)
                started = True
            elif node.op == "output":
                out = self._arg(node.args[0])
            else:
                try:
                    self.env[node] = self._node(node)
                except DeepscopeValueError:
                    raise
                except (RuntimeError, TypeError, IndexError) as exc:
                    raise DeepscopeValueError(
                        f"The input of {self.func} does not fit the model: node "
                        f"{node.name!r}{_owner(node)} failed with {type(exc).__name__}: "
                        f"{str(exc)[:300]} (each point given has the per-example shape "
                        f"{tuple(x.shape[2:])}: it must be the model's input shape without "
                        "the batch dimension)") from None
            for prev in node.all_input_nodes:
                if self.last_use[prev] <= i:
                    self.env.pop(prev, None)
        if not isinstance(out, Aff):
            raise self._unsupported("an output that is not a single tensor")
        r, k = out.t.shape[:2]
        codes = (torch.cat(self.codes, dim=1) if self.codes
                 else torch.zeros(r, 0, dtype=torch.bool, device=self.device))
        return WalkResult(out.t.reshape(r, k, -1), codes, self.layers)

    def _arg(self, a: Any) -> Any:
        if isinstance(a, fx.Node):
            return self.env[a]
        if isinstance(a, (tuple, list)):
            return type(a)(self._arg(v) for v in a)
        return a

    def _layer_name(self, node: fx.Node) -> str:
        base = node.meta.get("deepscope_name") or (
            str(node.target) if node.op == "call_module" else node.name)
        self._seen[base] = self._seen.get(base, 0) + 1
        return base if self._seen[base] == 1 else f"{base}:{self._seen[base]}"

    def _param(self, p: torch.Tensor | None) -> torch.Tensor | None:
        return None if p is None else p.detach().to(device=self.device, dtype=torch.float64)

    def _reindex(self, parent: torch.Tensor) -> None:
        for node, v in self.env.items():
            if isinstance(v, Aff):
                self.env[node] = Aff(v.t[parent])
        self.codes = [c[parent] for c in self.codes]

    def _const(self, t: torch.Tensor, c: Any) -> torch.Tensor:
        """``t`` plus a constant (on the constant column)."""
        return _add_const(t, c)

    def _argmax(self, z: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
        """``(R, windows)`` argmax position in every max-pool window where the cells are
        points (the last column holds the values; ties go to the first)."""
        return torch.where(win >= 0, z[:, -1, win.clamp(min=0)], -torch.inf).argmax(-1)

    # ------------------------------------------------------------------ node kinds
    def _node(self, node: fx.Node) -> Any:
        args = [self._arg(a) for a in node.args]
        kwargs = {k: self._arg(v) for k, v in node.kwargs.items()}
        if node.op == "get_attr":
            obj: Any = self.gm
            for part in str(node.target).split("."):
                obj = getattr(obj, part)
            return self._param(obj) if isinstance(obj, torch.Tensor) else obj
        if node.op == "call_module":
            return self._module(node, self.modules[node.target], args[0])
        if node.op == "call_function":
            return self._function(node, node.target, args, kwargs)
        if node.op == "call_method":
            return self._method(node, node.target, args, kwargs)
        raise self._unsupported(f"node {node.name!r} ({node.op})")

    def _module(self, node: fx.Node, m: nn.Module, x: Any) -> Any:
        if not isinstance(x, Aff):
            raise self._unsupported(f"module {node.target!r} applied to a constant")
        t = x.t
        if isinstance(m, (nn.Identity, *_DROPOUT)):
            return x
        if isinstance(m, (nn.ReLU, nn.LeakyReLU)):
            slope = m.negative_slope if isinstance(m, nn.LeakyReLU) else 0.0
            return self._relu(self._layer_name(node), t, slope)
        if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)):
            return self._maxpool(self._layer_name(node), t, m)
        if isinstance(m, nn.Flatten):
            return Aff(t.flatten(_dim(m.start_dim, self.func), _dim(m.end_dim, self.func)))
        if isinstance(m, nn.Linear):
            w, b = self._param(m.weight), self._param(m.bias)
            out = _linear_part(t, lambda z: F.linear(z, w))
            return Aff(out if b is None else self._const(out, b))
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            w, b = self._param(m.weight), self._param(m.bias)
            out = _linear_part(t, lambda z: _cropped_conv(z, w, None, m))
            if b is None:
                return Aff(out)
            return Aff(self._const(out, b.reshape(-1, *([1] * (out.dim() - 3)))))
        if isinstance(m, _BATCHNORM):
            var, mean = self._param(m.running_var), self._param(m.running_mean)
            scale = torch.rsqrt(var + m.eps)
            if m.weight is not None:
                scale = scale * self._param(m.weight)
            shift = -mean * scale
            if m.bias is not None:
                shift = shift + self._param(m.bias)
            view = (-1, *([1] * (t.dim() - 3)))
            return Aff(self._const(t * scale.reshape(view), shift.reshape(view)))
        return Aff(_linear_part(t, m))  # average pools: linear, no bias

    def _function(self, node: fx.Node, fn: Any, args: list, kwargs: dict) -> Any:
        if fn is getattr:
            obj, attr = args
            if isinstance(obj, Aff) and attr == "shape":
                return (BATCH, *obj.t.shape[2:])
            raise self._unsupported(f"attribute {attr!r} of node {node.name!r}", node)
        if fn is operator.getitem and isinstance(args[0], tuple):
            return args[0][args[1]]
        if fn in (operator.add, torch.add, operator.iadd):
            return self._add(args[0], args[1], 1.0)
        if fn in (operator.sub, torch.sub, operator.isub):
            return self._add(args[0], args[1], -1.0)
        if fn in (operator.mul, torch.mul, operator.truediv, torch.div):
            return self._mul(node, args[0], args[1], fn in (operator.truediv, torch.div))
        if fn in (operator.neg, torch.neg):
            return self._mul(node, args[0], -1.0, False)
        if fn in (F.relu, torch.relu):
            return self._relu(self._layer_name(node), args[0].t, 0.0)
        if fn is F.leaky_relu:
            slope = args[1] if len(args) > 1 else kwargs.get("negative_slope", 0.01)
            return self._relu(self._layer_name(node), args[0].t, float(slope))
        if fn is torch.flatten:
            start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
            end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
            return Aff(args[0].t.flatten(_dim(start, self.func), _dim(end, self.func)))
        if fn in _RESHAPING and isinstance(args[0], Aff):
            return self._method(node, _RESHAPING[fn], args, kwargs)
        if fn is F.pad and isinstance(args[0], Aff):
            return self._pad(node, args, kwargs)
        if fn in (F.avg_pool1d, F.avg_pool2d, F.adaptive_avg_pool1d, F.adaptive_avg_pool2d) \
                and isinstance(args[0], Aff):
            return Aff(_linear_part(args[0].t, lambda z: fn(z, *args[1:], **kwargs)))
        if fn is operator.getitem and isinstance(args[0], Aff):
            return self._getitem(node, args[0], args[1])
        if fn is torch.cat:
            parts, dim = args[0], args[1] if len(args) > 1 else kwargs.get("dim", 0)
            if not all(isinstance(p, Aff) for p in parts):
                raise self._unsupported(f"torch.cat of constants in node {node.name!r}")
            return Aff(torch.cat([p.t for p in parts], dim=_dim(dim, self.func)))
        name = getattr(fn, "__name__", repr(fn))
        raise self._unsupported(f"function {name!r} (node {node.name!r})", node)

    def _method(self, node: fx.Node, name: str, args: list, kwargs: dict) -> Any:
        x = args[0]
        if not isinstance(x, Aff):
            raise self._unsupported(f"method {name!r} on a constant (node {node.name!r})",
                                    node)
        shape = (BATCH, *x.t.shape[2:])
        if name == "size":
            return shape if len(args) < 2 else shape[args[1]]
        if name == "contiguous":
            return x
        if name == "permute":
            dims = args[1] if len(args) == 2 and isinstance(args[1], (tuple, list)) \
                else args[1:]
            dims = kwargs.get("dims", dims)
            if not dims or dims[0] != 0:
                raise self._unsupported(f"permute{tuple(dims)} moving the batch dimension",
                                        node)
            return Aff(x.t.permute(0, 1, *(_dim(d, self.func) for d in dims[1:])))
        if name in ("transpose", "swapaxes"):
            d0 = args[1] if len(args) > 1 else kwargs["dim0"]
            d1 = args[2] if len(args) > 2 else kwargs["dim1"]
            return Aff(x.t.transpose(_dim(d0, self.func), _dim(d1, self.func)))
        if name == "mean":
            dim = args[1] if len(args) > 1 else kwargs.get("dim")
            keep = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
            if dim is None:
                raise self._unsupported("mean over every dimension (it mixes the batch)", node)
            dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
            return Aff(x.t.mean(tuple(_dim(d, self.func) for d in dims), keepdim=keep))
        if name == "relu":
            return self._relu(self._layer_name(node), x.t, 0.0)
        if name in ("add", "sub"):
            return self._add(x, args[1], 1.0 if name == "add" else -1.0)
        if name in ("mul", "div"):
            return self._mul(node, x, args[1], name == "div")
        if name == "flatten":
            start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
            end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
            return Aff(x.t.flatten(_dim(start, self.func), _dim(end, self.func)))
        if name in ("view", "reshape"):
            dims = args[1] if len(args) == 2 and isinstance(args[1], (tuple, list)) \
                else args[1:]
            if not dims or not (dims[0] is BATCH or dims[0] == -1):
                raise DeepscopeValueError(
                    f"The 'model' parameter of {self.func} must keep the batch dimension "
                    f"first in {name}() (node {node.name!r}). Got {tuple(dims)}.")
            return Aff(x.t.reshape(x.t.shape[0], x.t.shape[1], *dims[1:]))
        raise self._unsupported(f"method {name!r} (node {node.name!r})", node)

    def _pad(self, node: fx.Node, args: list, kwargs: dict) -> Aff:
        pad = args[1] if len(args) > 1 else kwargs["pad"]
        mode = args[2] if len(args) > 2 else kwargs.get("mode", "constant")
        value = args[3] if len(args) > 3 else kwargs.get("value", None)
        if mode != "constant" or value not in (None, 0, 0.0):
            raise self._unsupported(f"pad with mode={mode!r}, value={value!r} (only zero "
                                    "padding)", node)
        t = args[0].t
        if len(pad) // 2 > t.dim() - 3:
            raise self._unsupported("pad of the batch dimension", node)
        return Aff(F.pad(t, pad))

    def _getitem(self, node: fx.Node, x: Aff, idx: Any) -> Aff:
        idx = idx if isinstance(idx, tuple) else (idx,)
        if idx and idx[0] is Ellipsis:
            return Aff(x.t[idx])
        if not idx or idx[0] != slice(None) or any(i is None or isinstance(i, torch.Tensor)
                                                    for i in idx):
            raise self._unsupported(f"indexing {idx!r} (only slices that keep the batch "
                                    "dimension first)", node)
        return Aff(x.t[(idx[0], slice(None), *idx[1:])])

    def _add(self, a: Any, b: Any, sign: float) -> Any:
        if isinstance(a, Aff) and isinstance(b, Aff):
            return Aff(a.t + sign * b.t)
        if isinstance(a, Aff):
            return Aff(self._const(a.t, sign * b))
        if isinstance(b, Aff):
            return Aff(self._const(sign * b.t, a))
        return a + sign * b

    def _mul(self, node: fx.Node, a: Any, b: Any, divide: bool) -> Any:
        if isinstance(a, Aff) and isinstance(b, Aff):
            raise self._unsupported(f"a product of two activations (node {node.name!r})")
        if isinstance(b, Aff):
            if divide:
                raise self._unsupported(f"a division by an activation (node {node.name!r})")
            a, b = b, a
        if not isinstance(a, Aff):
            return a / b if divide else a * b
        return Aff(a.t / b if divide else a.t * b)

    # ------------------------------------------------------------------ the cuts
    def _relu(self, name: str, t: torch.Tensor, slope: float) -> Aff:
        r, k = t.shape[:2]
        shape = t.shape[2:]
        z = t.reshape(r, k, -1)
        n, off = z.shape[2], self.n_units
        budget = self.max_regions is not None or self.deadline is not None
        anc, on = cut_layer(self.cells, z, off, self.rtol, self.spent if budget else None)
        if anc is not None:
            self._reindex(anc)
            z = z[anc]
        if budget and self.spent():     # codes hold the layers walked to the end only
            raise BudgetHit(name)
        out = torch.where(on[:, None, :], z, z * slope) if slope else z * on[:, None, :]
        self.codes.append(on)
        self.layers[name] = slice(off, off + n)
        self.n_units += n
        self._after_layer(name)
        return Aff(out.reshape(out.shape[0], k, *shape))

    def _maxpool(self, name: str, t: torch.Tensor, m: nn.Module) -> Aff:
        r, k = t.shape[:2]
        win = _pool_windows(tuple(t.shape[2:]), m, t.device)
        n_win, size = win.shape
        off = self.n_units
        z = t.reshape(r, k, -1)
        if self.cells.k == 0:
            chosen = self._argmax(z, win)
        else:
            par, chosen = self._switch_cells(z, win, off)
            if par is not None:
                self._reindex(par)
                z = z[par]
            if self.deadline is not None and self.spent_time():
                raise BudgetHit(name)                 # windows left uncut: no codes for it
        picked = torch.gather(win.expand(len(chosen), -1, -1), 2, chosen[..., None])[..., 0]
        out = torch.gather(z, 2, picked[:, None, :].expand(-1, k, -1))
        self.codes.append(torch.nn.functional.one_hot(chosen, size).bool().reshape(
            len(chosen), n_win * size))
        self.layers[name] = slice(off, off + n_win * size)
        self.n_units += n_win * size
        self._after_layer(name)
        shape = F.max_pool1d if isinstance(m, nn.MaxPool1d) else F.max_pool2d
        out_shape = shape(torch.zeros(1, *t.shape[2:], dtype=torch.float64), m.kernel_size,
                          m.stride, m.padding, m.dilation).shape[1:]
        return Aff(out.reshape(len(out), k, *out_shape))

    def _switch_cells(self, z: torch.Tensor, win: torch.Tensor, off: int
                      ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Cut the cells into the argmax cells of every window (ties go to the first)."""
        cells, dev = self.cells, z.device
        par = torch.arange(len(z), device=dev)
        chosen = torch.zeros(len(z), len(win), dtype=torch.int64, device=dev)
        changed = False
        for w in range(len(win)):
            if self.deadline is not None and w % 16 == 15 and self.spent_time():
                break
            pos = [p for p in range(win.shape[1]) if int(win[w, p]) >= 0]
            if len(pos) == 1:
                chosen[:, w] = pos[0]
                continue
            mp = len(pos)
            zc = z[par][:, :, win[w, pos]]                      # (R, K, mp)
            cells.index(torch.arange(len(par), device=dev).repeat_interleave(mp))
            cur = torch.arange(len(par) * mp, device=dev)
            for q in range(mp - 1):
                cell, cand = cur // mp, cur % mp
                opp = (cand + 1 + q) % mp
                coef = zc[cell, :, cand] - zc[cell, :, opp]
                label = off + w * win.shape[1] + torch.tensor(pos, device=dev)[cand]
                keep = cells.clip(coef, opp < cand, label, self.rtol)
                cur = cur[keep]
            cell, cand = cur // mp, cur % mp
            par, chosen = par[cell], chosen[cell]
            chosen[:, w] = torch.tensor(pos, device=dev)[cand]
            changed = True
        return (par if changed else None), chosen
