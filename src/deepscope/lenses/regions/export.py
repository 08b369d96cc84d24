"""A plain graph of modules for a model ``torch.fx`` cannot trace, through ``torch.export``.

Models whose forward branches on its inputs or on Python state (``transformers`` vision
models check the channel count, pick ``return_dict``...) defeat symbolic tracing. For those
the regions lens exports an eval-mode *copy* of the model on an example input
(:func:`torch.export.export`, then ``run_decompositions({})``: a functional graph of ATen
ops with the control flow resolved for that input shape) and rebuilds the graph from the
modules the walker knows: each convolution, batch norm (running statistics), linear layer,
ReLU, max- or average-pool and flatten becomes a module holding the exported tensors, named
after the model's module that owns it (``nn_module_stack``); additions, reshapes and means
stay calls. Any other op is kept as it is, so the walker refuses it naming the op and its
owner (GELU, LayerNorm, ReLU6 as ``hardtanh``...). The user's model is never called or
changed: the copy is exported.
"""

from __future__ import annotations

import copy
import operator
import warnings
from typing import Any

import torch
from torch import fx, nn

__all__ = ["exported_graph"]

_aten = torch.ops.aten


class _Output(nn.Module):
    """The model with its output reduced to one tensor (``logits`` of a ``ModelOutput``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from deepscope.losses import logits

        return logits(self.model(x))


def _owner(node: fx.Node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return node.name
    path = list(stack.values())[-1][0]
    for prefix in ("L['self'].model.", "model."):       # the wrapper's attribute
        if path.startswith(prefix):
            path = path[len(prefix):]
    return path or node.name


def _arg(args: tuple, kwargs: dict, i: int, name: str, default: Any) -> Any:
    return args[i] if len(args) > i else kwargs.get(name, default)


def exported_graph(model: nn.Module, example: torch.Tensor) -> fx.GraphModule:
    """The model as a graph of supported modules, from an eval-mode copy exported on
    ``example`` (one input, per-example shape). Raises whatever ``torch.export`` raises."""
    param = next((p for p in model.parameters()), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    twin = copy.deepcopy(model).eval()
    x = example.detach().to(dtype)[None].expand(2, *example.shape).contiguous()
    with warnings.catch_warnings():          # torch's own deprecations inside export
        warnings.simplefilter("ignore", FutureWarning)
        ep = torch.export.export(_Output(twin), (x,), strict=False)
        src = ep.run_decompositions({}).module()
    root, graph = nn.Module(), fx.Graph()
    env: dict[fx.Node, Any] = {}
    names: dict[str, int] = {}

    def const(node: Any) -> Any:
        if isinstance(node, fx.Node):
            return env[node]
        if isinstance(node, (list, tuple)):
            return type(node)(const(v) for v in node)
        return node

    def add(node: fx.Node, module: nn.Module, inp: Any) -> fx.Node:
        base = _owner(node)
        names[base] = names.get(base, 0) + 1
        name = base if names[base] == 1 else f"{base}:{names[base]}"
        safe = name.replace(".", "_").replace(":", "_")
        root.add_module(safe, module)
        new = graph.call_module(safe, (inp,))
        new.meta["nn_module_stack"] = {"owner": (name, type(module))}
        new.meta["deepscope_name"] = name
        return new

    def param_(t: torch.Tensor | None) -> nn.Parameter | None:
        return None if t is None else nn.Parameter(t.detach(), requires_grad=False)

    for node in src.graph.nodes:
        args, kwargs = node.args, node.kwargs
        if node.op == "placeholder":
            env[node] = graph.placeholder(node.name)
        elif node.op == "get_attr":
            obj: Any = src
            for part in str(node.target).split("."):
                obj = getattr(obj, part)
            env[node] = obj
        elif node.op == "call_module":
            continue                                   # export's guard function
        elif node.op == "output":
            out = const(args[0])
            while isinstance(out, (list, tuple)) and len(out) == 1:
                out = out[0]
            graph.output(out)
        elif node.target in (_aten.conv2d.default, _aten.conv1d.default):
            w, b = const(args[1]), const(_arg(args, kwargs, 2, "bias", None))
            two = node.target is _aten.conv2d.default
            cls = nn.Conv2d if two else nn.Conv1d
            m = cls(w.shape[1] * int(_arg(args, kwargs, 6, "groups", 1)), w.shape[0],
                    tuple(w.shape[2:]), stride=_arg(args, kwargs, 3, "stride", 1),
                    padding=_arg(args, kwargs, 4, "padding", 0),
                    dilation=_arg(args, kwargs, 5, "dilation", 1),
                    groups=int(_arg(args, kwargs, 6, "groups", 1)), bias=b is not None,
                    device="meta")
            m.weight, m.bias = param_(w), param_(b)
            env[node] = add(node, m, env[args[0]])
        elif node.target is _aten._native_batch_norm_legit_no_training.default:
            w, b, mean, var = (const(a) for a in args[1:5])
            eps = float(_arg(args, kwargs, 6, "eps", 1e-5))
            m = nn.BatchNorm2d(mean.numel(), eps=eps, affine=w is not None, device="meta")
            m.weight, m.bias = param_(w), param_(b)
            m.register_buffer("running_mean", mean.detach().clone())
            m.register_buffer("running_var", var.detach().clone())
            m.eval()
            env[node] = (add(node, m, env[args[0]]),)
        elif node.target is operator.getitem and isinstance(env.get(args[0]), tuple):
            env[node] = env[args[0]][args[1]]
        elif node.target in (_aten.relu.default, _aten.relu_.default):
            env[node] = add(node, nn.ReLU(), env[args[0]])
        elif node.target is _aten.leaky_relu.default:
            env[node] = add(node, nn.LeakyReLU(float(_arg(args, kwargs, 1, "negative_slope",
                                                          0.01))), env[args[0]])
        elif node.target is _aten.max_pool2d.default:
            k = args[1]
            m = nn.MaxPool2d(k, _arg(args, kwargs, 2, "stride", None) or k,
                             _arg(args, kwargs, 3, "padding", 0),
                             _arg(args, kwargs, 4, "dilation", 1),
                             ceil_mode=bool(_arg(args, kwargs, 5, "ceil_mode", False)))
            env[node] = add(node, m, env[args[0]])
        elif node.target is _aten.adaptive_avg_pool2d.default:
            env[node] = add(node, nn.AdaptiveAvgPool2d(tuple(args[1])), env[args[0]])
        elif node.target is _aten.flatten.using_ints:
            env[node] = add(node, nn.Flatten(_arg(args, kwargs, 1, "start_dim", 0),
                                             _arg(args, kwargs, 2, "end_dim", -1)),
                            env[args[0]])
        elif node.target is _aten.linear.default:
            w, b = const(args[1]), const(_arg(args, kwargs, 2, "bias", None))
            m = nn.Linear(w.shape[1], w.shape[0], bias=b is not None, device="meta")
            m.weight, m.bias = param_(w), param_(b)
            env[node] = add(node, m, env[args[0]])
        elif node.target is _aten.add.Tensor and float(kwargs.get("alpha", 1)) == 1.0:
            env[node] = graph.call_function(operator.add, (const(args[0]), const(args[1])))
        elif node.target is _aten.pad.default and const(_arg(args, kwargs, 2, "mode",
                                                             "constant")) == "constant":
            env[node] = graph.call_function(
                torch.nn.functional.pad, (env[args[0]], list(args[1])),
                {"value": _arg(args, kwargs, 3, "value", None)})
        elif node.target is _aten.permute.default:
            env[node] = graph.call_method("permute", (env[args[0]], *args[1]))
        elif node.target is _aten.transpose.int:
            env[node] = graph.call_method("transpose", (env[args[0]], args[1], args[2]))
        elif node.target is _aten.mean.dim:
            env[node] = graph.call_method("mean", (env[args[0]], list(args[1]),
                                                   bool(_arg(args, kwargs, 2, "keepdim",
                                                             False))))
        elif node.target in (_aten.view.default, _aten.reshape.default) \
                and list(args[1])[:1] == [len(x)]:
            env[node] = graph.call_method("reshape", (env[args[0]], -1, *args[1][1:]))
        else:                                  # kept: the walker names it if unsupported
            new = graph.call_function(node.target, const(args), const(kwargs))
            stack = node.meta.get("nn_module_stack") or {}
            cls = list(stack.values())[-1][1] if stack else "model"
            new.meta["nn_module_stack"] = {"owner": (_owner(node), cls)}
            env[node] = new
    return fx.GraphModule(root, graph)
