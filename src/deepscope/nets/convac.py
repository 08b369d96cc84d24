"""Convolutional arithmetic circuits (ConvACs) and their ReLU ConvNet counterparts.

A ConvAC (Cohen, Sharir & Shashua 2016, "On the expressive power of deep learning: a
tensor analysis", arXiv 1509.05009) maps ``N`` input positions ``x_1 .. x_N`` to scores

.. math::

    h_y(x_1, \\dots, x_N) = \\sum_{d_1 \\dots d_N = 1}^{M}
        \\mathcal{A}^y_{d_1 \\dots d_N} \\prod_{i=1}^{N} f_{d_i}(x_i)

through a 1x1 "representation" layer ``f`` (``M`` channels), linear 1x1 convolutions and
product pooling. Deep nets pool pairs of positions at every level and their coefficient
tensor ``A`` is a hierarchical Tucker decomposition; shallow nets pool all positions at once
and ``A`` is a CP decomposition with ``shallow_terms`` terms. The pooling geometry decides
which positions meet first (Cohen & Shashua, ICLR 2017, arXiv 1605.06743): ``"square"``
pools neighbours, ``"mirror"`` pools a position with its mirror image at the first level
(position ``i`` with ``N - 1 - i``; in images column ``c`` with ``W - 1 - c``) and
neighbours after that.

Positions are flattened row-major. Images (``shape = (H, W)``) pool pairs along the width
and the height in turn, starting with the width, so every level pools pairs and the tree
stays binary (two levels make one 2x2 window).

Inputs are channel-first like ``nn.Conv1d`` / ``nn.Conv2d``: ``(B, in_channels, *shape)``;
outputs are ``(B, n_outputs)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from deepscope.errors import check_choice, check_int, param_error

__all__ = ["ConvAC", "PoolingConvNet", "PoolingTree", "convac", "pooling_tree",
           "relu_convnet"]


@dataclass(frozen=True)
class PoolingTree:
    """Which nodes each pooling level joins.

    Attributes:
        shape: Spatial shape of the input, ``(N,)`` or ``(H, W)``.
        pooling: ``"square"`` or ``"mirror"``.
        pairs: Per level, ``(left, right)`` index tuples into the previous level's nodes
            (level 0 indexes the input positions, row-major); new node ``k`` joins
            ``left[k]`` and ``right[k]``.
        groups: Per level, the input positions under each new node (sorted tuples).
    """

    shape: tuple[int, ...]
    pooling: str
    pairs: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]
    groups: tuple[tuple[tuple[int, ...], ...], ...]

    @property
    def n_positions(self) -> int:
        """Number of input positions ``N``."""
        return math.prod(self.shape)

    @property
    def depth(self) -> int:
        """Number of pooling levels ``log2 N``."""
        return len(self.pairs)


def _check_shape(n_inputs, func: str) -> tuple[int, ...]:
    shape = (n_inputs,) if isinstance(n_inputs, int) and not isinstance(n_inputs, bool) \
        else tuple(n_inputs) if isinstance(n_inputs, (tuple, list)) else None
    accepted = "a power of two >= 2, or (H, W) with powers of two and H * W >= 2"
    if shape is None or len(shape) not in (1, 2):
        raise param_error("n_inputs", func, accepted, n_inputs)
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, int) or s < 1 or s & (s - 1):
            raise param_error("n_inputs", func, accepted, n_inputs)
    if math.prod(shape) < 2:
        raise param_error("n_inputs", func, accepted, n_inputs)
    return shape


def pooling_tree(n_inputs: int | Sequence[int], pooling: str = "square") -> PoolingTree:
    """The binary pooling tree of a 1-D (``N``) or 2-D (``(H, W)``) input.

    Args:
        n_inputs: ``N`` (a power of two) or ``(H, W)`` (powers of two).
        pooling: ``"square"`` (neighbours) or ``"mirror"`` (mirror images first).

    Returns:
        The :class:`PoolingTree`.

    Example:
        >>> pooling_tree(8, "mirror").groups[0]
        ((0, 7), (1, 6), (2, 5), (3, 4))
    """
    shape = _check_shape(n_inputs, "pooling_tree")
    check_choice(pooling, "pooling", "pooling_tree", ("square", "mirror"))
    grid = torch.arange(math.prod(shape)).reshape(shape if len(shape) == 2 else (1, shape[0]))
    members: list[tuple[int, ...]] = [(i,) for i in range(grid.numel())]
    pairs, groups = [], []
    axis, mirrored = 1, pooling != "mirror"
    while grid.numel() > 1:
        if grid.shape[axis] == 1:
            axis = 1 - axis
        g = grid if axis == 1 else grid.T
        half = g.shape[1] // 2
        if not mirrored and axis == 1:
            left, right = g[:, :half], g.flip(1)[:, :half]
            mirrored = True
        else:
            left, right = g[:, 0::2], g[:, 1::2]
        if axis == 0:
            left, right = left.T, right.T
        left_t, right_t = tuple(left.flatten().tolist()), tuple(right.flatten().tolist())
        members = [tuple(sorted(members[a] + members[b])) for a, b in zip(left_t, right_t)]
        pairs.append((left_t, right_t))
        groups.append(tuple(members))
        grid = torch.arange(left.numel()).reshape(left.shape)
        axis = 1 - axis
    return PoolingTree(shape, pooling, tuple(pairs), tuple(groups))


def _widths(channels, depth: int, func: str) -> tuple[int, ...]:
    if isinstance(channels, int) and not isinstance(channels, bool):
        return (check_int(channels, "channels", func, low=1),) * depth
    if isinstance(channels, (tuple, list)) and len(channels) == depth:
        return tuple(check_int(c, "channels", func, low=1) for c in channels)
    raise param_error("channels", func, f"a positive int or {depth} positive ints "
                      "(one per pooling level)", channels)


class ConvAC(nn.Module):
    """A convolutional arithmetic circuit; build it with :func:`convac`.

    Parameters: ``representation`` ``(M, in_channels)``; ``convs[l]`` ``(r_l, r_{l-1})``
    (deep: one per pooling level, ``r_{-1} = M``; shallow: one ``(Z, M)``); ``output``
    ``(n_outputs, r_last)``; without weight sharing every mixing matrix has a leading
    dimension over the positions (nodes) of its level. In log space (``space="log"``) the representation gives
    ``log f``, every mixing matrix is ``softmax`` of its parameter along the input channels
    (positive weights, the SimNets MEX form), a 1x1 convolution is a log-sum-exp and product
    pooling is a sum; the output is ``log h_y``.

    Attributes:
        input_shape: Spatial shape ``(N,)`` or ``(H, W)``.
        n_templates: ``M``.
        widths: Channels per pooling level (deep) or ``(Z,)`` (shallow).
        kind: ``"deep"`` or ``"shallow"``.
        log_space: Whether the output is ``log h_y``.
        shared: Whether a level's 1x1 convolution shares its weights across positions.
        tree: The :class:`PoolingTree` (also set for shallow nets, unused by them).
    """

    def __init__(self, tree: PoolingTree, n_templates: int, widths: tuple[int, ...], *,
                 in_channels: int, n_outputs: int, kind: str, space: str, shared: bool,
                 generator: torch.Generator) -> None:
        super().__init__()
        self.tree, self.kind, self.log_space = tree, kind, space == "log"
        self.input_shape, self.n_templates, self.widths = tree.shape, n_templates, widths
        self.shared = shared
        self._pairs = [(torch.tensor(a), torch.tensor(b)) for a, b in tree.pairs]
        scale = 1.0 if self.log_space else None

        def draw(nodes: int | None, rows: int, cols: int) -> nn.Parameter:
            std = scale if scale is not None else 1.0 / math.sqrt(cols)
            size = (rows, cols) if nodes is None else (nodes, rows, cols)
            return nn.Parameter(torch.randn(size, generator=generator) * std)

        self.representation = nn.Parameter(
            torch.randn(n_templates, in_channels, generator=generator))
        prev, convs = n_templates, []
        for level, r in enumerate(widths):
            nodes = None if shared else tree.n_positions >> level
            convs.append(draw(nodes, r, prev))
            prev = r
        self.convs = nn.ParameterList(convs)
        self.output = draw(None, n_outputs, prev)

    def _mix(self, h: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if not self.log_space:
            if weight.dim() == 3:                       # one matrix per position
                return torch.einsum("bpi,pri->bpr", h, weight)
            return h @ weight.T
        # log sum_j softmax(w)_kj exp(h_j) = c + log(exp(h - c) @ softmax(w)^T), c = max_j h_j
        c = h.detach().amax(-1, keepdim=True)
        e = torch.exp(h - c)
        probs = torch.softmax(weight, dim=-1)
        mixed = torch.einsum("bpi,pri->bpr", e, probs) if probs.dim() == 3 else e @ probs.T
        return torch.log(mixed) + c

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.dim() != 2 + len(self.input_shape) or tuple(x.shape[2:]) != self.input_shape:
            raise param_error("x", "ConvAC.forward", "a tensor of shape (B, in_channels, "
                              f"{', '.join(map(str, self.input_shape))})", tuple(x.shape))
        h = x.flatten(2).transpose(1, 2) @ self.representation.T       # (B, N, M)
        if self.kind == "shallow":
            h = self._mix(h, self.convs[0])
            h = h.sum(1) if self.log_space else h.prod(1)
        else:
            for weight, (left, right) in zip(self.convs, self._pairs):
                h = self._mix(h, weight)
                h = h[:, left] + h[:, right] if self.log_space else h[:, left] * h[:, right]
            h = h[:, 0]
        return self._mix(h, self.output)


class PoolingConvNet(nn.Module):
    """A ReLU ConvNet with the pooling tree of a ConvAC; build it with :func:`relu_convnet`.

    ``1x1 conv + ReLU`` on every position, then per level: pool pairs (max or average),
    ``1x1 conv + ReLU``; a final linear layer. Positions meet only through the pooling tree,
    as in the ConvAC of the same geometry.
    """

    def __init__(self, tree: PoolingTree, in_channels: int, widths: tuple[int, ...], *,
                 n_outputs: int, pool: str, generator: torch.Generator) -> None:
        super().__init__()
        self.tree, self.pool, self.input_shape = tree, pool, tree.shape
        self._pairs = [(torch.tensor(a), torch.tensor(b)) for a, b in tree.pairs]
        sizes = (in_channels, *widths)
        with torch.random.fork_rng(devices=[]):   # nn.Linear's own init draws from the global
            self.convs = nn.ModuleList(           # RNG: keep it untouched (weights set below)
                nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
            self.head = nn.Linear(sizes[-1], n_outputs)
        with torch.no_grad():
            for layer in (*self.convs, self.head):
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.copy_((torch.rand(layer.weight.shape, generator=generator)
                                    * 2 - 1) * bound * math.sqrt(3))
                layer.bias.copy_((torch.rand(layer.bias.shape, generator=generator)
                                  * 2 - 1) * bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.dim() != 2 + len(self.input_shape) or tuple(x.shape[2:]) != self.input_shape:
            raise param_error("x", "PoolingConvNet.forward", "a tensor of shape (B, C, "
                              f"{', '.join(map(str, self.input_shape))})", tuple(x.shape))
        h = torch.relu(self.convs[0](x.flatten(2).transpose(1, 2)))
        for i, (left, right) in enumerate(self._pairs):
            a, b = h[:, left], h[:, right]
            h = torch.maximum(a, b) if self.pool == "max" else 0.5 * (a + b)
            if i + 1 < len(self.convs):
                h = torch.relu(self.convs[i + 1](h))
        return self.head(h[:, 0])


def convac(n_inputs: int | Sequence[int], n_templates: int, channels: int | Sequence[int],
           *, pooling: str = "square", kind: str = "deep", shallow_terms: int | None = None,
           space: str = "linear", shared: bool | None = None, in_channels: int | None = None,
           n_outputs: int = 1, seed: int = 0) -> ConvAC:
    """A 1-D or 2-D convolutional arithmetic circuit at random initialisation.

    Args:
        n_inputs: ``N`` positions (a power of two) or an image shape ``(H, W)``.
        n_templates: ``M``, channels of the representation layer.
        channels: Channels ``r`` of every pooling level (an int) or one per level
            (``log2 N`` ints); deep nets only.
        pooling: ``"square"`` or ``"mirror"`` (see the module docstring).
        kind: ``"deep"`` (hierarchical Tucker) or ``"shallow"`` (CP, global pooling).
        shallow_terms: ``Z``, the CP terms of a shallow net (default: ``channels`` if an int).
        space: ``"linear"`` (the circuit itself) or ``"log"`` (log of the circuit with
            positive mixing weights; stable for large ``N``).
        shared: Share each level's 1x1 weights across positions (a ConvNet) or give every
            position its own (locally connected, the general decomposition). Default: shared
            for deep nets; not shared for shallow nets, whose CP form is then a generic
            rank-``Z`` CP decomposition (with sharing every CP term is a symmetric
            ``v ⊗ ... ⊗ v``, whose matricizations have rank at most ``C(n + M - 1, M - 1)``
            for ``n`` positions on the smaller side: 5 for ``M = 2``, ``n = 4``).
        in_channels: Channels of the input (default ``n_templates``).
        n_outputs: Number of scores.
        seed: Seed of the weights (Gaussian; mixing matrices scaled by ``1/sqrt(fan_in)``).

    Returns:
        A :class:`ConvAC`.

    Raises:
        DeepscopeValueError: on a bad argument (named in the message).

    Example:
        >>> import torch
        >>> net = convac(8, 2, 2, pooling="mirror")
        >>> net(torch.eye(2)[torch.zeros(3, 8, dtype=torch.long)].transpose(1, 2)).shape
        torch.Size([3, 1])
    """
    func = "convac"
    shape = _check_shape(n_inputs, func)
    check_choice(pooling, "pooling", func, ("square", "mirror"))
    check_choice(kind, "kind", func, ("deep", "shallow"))
    check_choice(space, "space", func, ("linear", "log"))
    m = check_int(n_templates, "n_templates", func, low=1)
    in_channels = m if in_channels is None else check_int(in_channels, "in_channels", func,
                                                          low=1)
    n_outputs = check_int(n_outputs, "n_outputs", func, low=1)
    check_int(seed, "seed", func, low=0)
    tree = pooling_tree(shape, pooling)
    if kind == "shallow":
        if shallow_terms is None:
            if not isinstance(channels, int) or isinstance(channels, bool):
                raise param_error("shallow_terms", func, "a positive int (or give channels "
                                  "as an int)", shallow_terms)
            shallow_terms = channels
        widths = (check_int(shallow_terms, "shallow_terms", func, low=1),)
    else:
        widths = _widths(channels, tree.depth, func)
    if shared is None:
        shared = kind == "deep"
    if not isinstance(shared, bool):
        raise param_error("shared", func, "True, False or None", shared, type_error=True)
    gen = torch.Generator().manual_seed(seed)
    return ConvAC(tree, m, widths, in_channels=in_channels, n_outputs=n_outputs, kind=kind,
                  space=space, shared=shared, generator=gen)


def relu_convnet(n_inputs: int | Sequence[int], in_channels: int,
                 channels: int | Sequence[int], *, pooling: str = "square",
                 pool: str = "max", n_outputs: int = 1, seed: int = 0) -> PoolingConvNet:
    """The ReLU ConvNet with the same pooling geometry as :func:`convac`.

    Args:
        n_inputs: ``N`` positions (a power of two) or an image shape ``(H, W)``.
        in_channels: Channels of the input.
        channels: Channels of the first 1x1 layer and of every level after a pooling: an
            int, or ``1 + log2 N`` ints.
        pooling: ``"square"`` or ``"mirror"``.
        pool: ``"max"`` or ``"avg"``.
        n_outputs: Number of outputs.
        seed: Seed of the weights (PyTorch's default uniform ranges).

    Returns:
        A :class:`PoolingConvNet`.

    Example:
        >>> import torch
        >>> relu_convnet((4, 4), 2, 8)(torch.zeros(5, 2, 4, 4)).shape
        torch.Size([5, 1])
    """
    func = "relu_convnet"
    shape = _check_shape(n_inputs, func)
    check_choice(pooling, "pooling", func, ("square", "mirror"))
    check_choice(pool, "pool", func, ("max", "avg"))
    in_channels = check_int(in_channels, "in_channels", func, low=1)
    n_outputs = check_int(n_outputs, "n_outputs", func, low=1)
    check_int(seed, "seed", func, low=0)
    tree = pooling_tree(shape, pooling)
    widths = _widths(channels, tree.depth + 1, func)
    gen = torch.Generator().manual_seed(seed)
    return PoolingConvNet(tree, in_channels, widths, n_outputs=n_outputs, pool=pool,
                          generator=gen)
