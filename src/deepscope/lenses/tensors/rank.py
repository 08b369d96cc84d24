"""Separation rank of a grid tensor under a partition of the positions, and its bound."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deepscope.errors import check_choice, check_float, param_error
from deepscope.lenses.tensors.grid import GridTensor, grid_tensor
from deepscope.lenses.tensors.partitions import partition_indices

__all__ = ["RankBound", "SeparationRank", "rank_bound", "separation_rank"]

_FUNC = "separation_rank"
_PRIMES = (2147483647, 2147483629)        # primes below 2^31: products fit in int64 (integer grids)
_EXACT_LIMIT = 2.0 ** 52


@dataclass(frozen=True, eq=False)
class SeparationRank:
    """Rank and spectrum of the matricization :math:`[\\mathcal{A}]_{I,J}`.

    Attributes:
        lens: ``"tensors.separation_rank"``.
        rank: Rank of the matricization (see ``method``).
        singular_values: Its singular values, descending (float64).
        partition: Positions ``I`` (rows), sorted.
        complement: Positions ``J`` (columns), sorted.
        matrix_shape: ``(prod of I's mode sizes, prod of J's)``.
        max_rank: ``min(matrix_shape)``, the largest rank possible.
        method: ``"exact"`` (rank over the rationals by elimination modulo two primes: the
            modular grid of a linear ConvAC, or integer entries) or ``"svd"`` (singular
            values above ``rtol * s_1``).
        rtol: Relative tolerance of the ``"svd"`` rank (NaN for ``"exact"``).
        gap: ``s_rank / s_{rank+1}`` (inf when ``rank == max_rank``): how clear the cut is.
        effective_rank: ``exp`` of the entropy of ``s / sum(s)`` (Roy & Vetterli 2007).
        stable_rank: ``sum(s^2) / s_1^2``.
        params: Options of the call.
    """

    lens: str
    rank: int
    singular_values: np.ndarray
    partition: tuple[int, ...]
    complement: tuple[int, ...]
    matrix_shape: tuple[int, int]
    max_rank: int
    method: str
    rtol: float
    gap: float
    effective_rank: float
    stable_rank: float
    params: dict

    def to_frame(self):
        """One row per singular value: ``index, singular_value, relative, counted``."""
        import pandas as pd

        s = self.singular_values
        rel = s / s[0] if len(s) and s[0] > 0 else np.zeros_like(s)
        return pd.DataFrame({"index": np.arange(len(s)), "singular_value": s,
                             "relative": rel, "counted": np.arange(len(s)) < self.rank})

    def tidy(self):
        """Long rows ``layer, metric, value`` (layer ``"grid"``): ``rank``, ``max_rank``,
        ``effective_rank``, ``stable_rank``, ``log10_gap``."""
        import pandas as pd

        rows = [("rank", float(self.rank)), ("max_rank", float(self.max_rank)),
                ("effective_rank", self.effective_rank), ("stable_rank", self.stable_rank),
                ("log10_gap", math.log10(self.gap) if self.gap > 0 else float("-inf"))]
        return pd.DataFrame([{"layer": "grid", "metric": k, "value": v} for k, v in rows])


def _rank_mod_p(a: np.ndarray, p: int) -> int:
    a = np.mod(a, p)
    rows, cols = a.shape
    rank = 0
    for c in range(cols):
        if rank == rows:
            break
        nz = np.flatnonzero(a[rank:, c])
        if nz.size == 0:
            continue
        piv = rank + int(nz[0])
        if piv != rank:
            a[[rank, piv]] = a[[piv, rank]]
        a[rank, c:] = (a[rank, c:] * pow(int(a[rank, c]), p - 2, p)) % p
        below = a[rank + 1:, c:]
        nz_rows = np.flatnonzero(below[:, 0])
        if nz_rows.size:
            f = below[nz_rows, :1]
            below[nz_rows] = (below[nz_rows] - (f * a[rank, c:]) % p) % p
        rank += 1
    return rank


def _modular_rank(residues: tuple[np.ndarray, ...], sizes, order, rows, cols) -> int:
    from deepscope.lenses.tensors.modular import PRIMES

    best = 0
    for res, p in zip(residues, PRIMES):
        mat = res.reshape(sizes).transpose(order).reshape(rows, cols)
        if rows > cols:
            mat = mat.T
        best = max(best, _rank_mod_p(np.ascontiguousarray(mat), p))
        if best == min(rows, cols):              # full rank: no prime can give more
            break
    return best


def exact_rank(matrix: np.ndarray) -> int:
    """Rank over the rationals of an integer-valued matrix (entries below 2^52).

    Gaussian elimination modulo two primes near 2^31; the rank modulo a prime never
    exceeds the rational rank and equals it unless the prime divides every maximal
    non-zero minor, so the larger of the two is the rational rank except with negligible
    probability.
    """
    ints = np.rint(matrix).astype(np.int64)
    if ints.shape[0] > ints.shape[1]:
        ints = ints.T.copy()
    best = 0
    for p in _PRIMES:
        best = max(best, _rank_mod_p(ints.copy(), p))
        if best == min(ints.shape):
            break
    return best


def _as_grid(model_or_grid, templates, shape, output, exact):
    if isinstance(model_or_grid, GridTensor):
        dtype = torch.float32 if "float32" in model_or_grid.params["dtype"] else torch.float64
        return model_or_grid.values, model_or_grid.shape, dtype, model_or_grid.residues
    if isinstance(model_or_grid, nn.Module):
        if templates is None:
            raise param_error("templates", _FUNC, "a (M, C) tensor when a model is given",
                              None)
        grid = grid_tensor(model_or_grid, templates, shape=shape, output=output,
                           exact=exact is not False)
        return grid.values, grid.shape, torch.float64, grid.residues
    if isinstance(model_or_grid, (torch.Tensor, np.ndarray)):
        values = torch.as_tensor(model_or_grid).detach().cpu()
        if values.dim() < 2 or not (values.is_floating_point() or not values.is_complex()):
            raise param_error("model_or_grid", _FUNC, "an N-way real tensor with N >= 2",
                              tuple(values.shape))
        dtype = values.dtype if values.dtype in (torch.float32, torch.float64) \
            else torch.float64
        values = values.double()
        if shape is None:
            shape = (values.dim(),)
        if math.prod(shape) != values.dim():
            raise param_error("shape", _FUNC, f"a shape with {values.dim()} positions (one "
                              "per mode)", shape)
        return values, tuple(shape), dtype, None
    raise param_error("model_or_grid", _FUNC, "an nn.Module, a GridTensor or an N-way tensor",
                      type(model_or_grid).__name__, type_error=True)


def separation_rank(model_or_grid, partition, *, templates: torch.Tensor | None = None,
                    rtol: float | None = None, exact: str | bool = "auto", shape=None,
                    output: int = 0) -> SeparationRank:
    """Separation rank of a network's grid tensor under the partition ``(I, J)``.

    The separation rank of :math:`h` under ``(I, J)`` (Cohen & Shashua, ICLR 2017, arXiv
    1605.06743) is the least ``R`` with :math:`h = \\sum_{k=1}^{R} g_k(x_I) g'_k(x_J)`;
    on a grid it is the rank of the matricization :math:`[\\mathcal{A}]_{I,J}` (rows: the
    assignments of the positions in ``I``, columns: those of ``J``).

    **Tolerance policy.** A hard rank is exact only where the arithmetic is:

    * ``exact="auto"`` (default), ``method == "exact"``: for a linear-space
      :class:`deepscope.nets.ConvAC` (given as the model, or as a :class:`GridTensor` made
      from one) the circuit is evaluated exactly modulo two primes near ``2^31`` (float
      weights are dyadic rationals; :mod:`deepscope.lenses.tensors.modular`) and the rank
      is the rational rank of the network's own tensor (with negligible error probability),
      however ill-conditioned. For any other grid whose entries are all integers below
      ``2^52`` the rank is taken over the rationals the same way (:func:`exact_rank`).
    * Otherwise ``method == "svd"``: the number of singular values above
      ``rtol * s_1``, with ``rtol`` by default ``max(rows, cols) * eps`` of the precision the
      grid was evaluated in (NumPy's ``matrix_rank`` rule; float64 unless a float32 grid is
      given). ``gap = s_rank / s_{rank+1}`` says how clear the cut is: a gap of many orders
      of magnitude is a rank, a gap near 1 is not. For trained float networks read
      ``effective_rank`` / ``stable_rank`` instead.

    Args:
        model_or_grid: An ``nn.Module`` (then ``templates`` is required), a
            :class:`GridTensor`, or an N-way tensor (one mode per position).
        partition: A name (``"left-right"``, ``"odd-even"``; images also ``"top-bottom"``,
            ``"checkerboard"``), the positions of ``I`` (row-major), or a boolean mask.
        templates: ``(M, C)`` templates, when a model is given.
        rtol: Relative tolerance of the ``"svd"`` rank (see above).
        exact: ``"auto"``, ``True`` (require integer entries) or ``False`` (always SVD).
        shape: Spatial shape for a raw tensor with named 2-D partitions, or for a model
            without ``input_shape``.
        output: Output column, when a model is given.

    Returns:
        A :class:`SeparationRank`.

    Raises:
        DeepscopeValueError: bad partition, tolerance, or ``exact=True`` on a non-integer grid.

    Example:
        >>> import torch, deepscope as ds
        >>> net = ds.nets.convac(8, 2, 2)
        >>> ds.lenses.tensors.separation_rank(net, "odd-even", templates=torch.eye(2)).rank
        16
    """
    if rtol is not None:
        rtol = check_float(rtol, "rtol", _FUNC, low=0.0, high=1.0, closed="right")
    if exact not in ("auto", True, False):
        check_choice(exact, "exact", _FUNC, ("auto", True, False))
    values, shape, dtype, residues = _as_grid(model_or_grid, templates, shape, output, exact)
    first, second = partition_indices(partition, shape, _FUNC)
    rows = math.prod(values.shape[i] for i in first)
    cols = math.prod(values.shape[j] for j in second)
    mat = values.permute(*first, *second).reshape(rows, cols)
    s = torch.linalg.svdvals(mat).numpy()
    integral = bool(torch.all(mat == torch.round(mat))) and float(mat.abs().max()) < _EXACT_LIMIT
    if exact is True and not integral and residues is None:
        raise param_error("exact", _FUNC, "False or 'auto' for a grid with non-integer "
                          "entries (or entries of 2^52 or more) that is not the grid of a "
                          "linear ConvAC", exact)
    if exact is not False and residues is not None:
        method, tol = "exact", float("nan")
        rank = _modular_rank(residues, tuple(values.shape), (*first, *second), rows, cols)
    elif exact is not False and integral:
        method, tol = "exact", float("nan")
        rank = exact_rank(mat.numpy()) if s[0] > 0 else 0
    else:
        method = "svd"
        tol = rtol if rtol is not None else max(rows, cols) * torch.finfo(dtype).eps
        rank = int((s > tol * s[0]).sum()) if s[0] > 0 else 0
    if rank == len(s):
        gap = float("inf")
    elif rank == 0:
        gap = 1.0
    else:
        gap = float(s[rank - 1] / s[rank]) if s[rank] > 0 else float("inf")
    total = s.sum()
    if total > 0:
        p = s[s > 0] / total
        erank = float(np.exp(-(p * np.log(p)).sum()))
        srank = float((s ** 2).sum() / s[0] ** 2)
    else:
        erank = srank = 0.0
    return SeparationRank("tensors.separation_rank", rank, s, first, second, (rows, cols),
                          min(rows, cols), method, float(tol), gap, erank, srank,
                          {"exact": exact, "rtol": rtol, "output": output})


@dataclass(frozen=True, eq=False)
class RankBound:
    """Upper bound on the separation rank from a ConvAC's structure (see :func:`rank_bound`).

    Attributes:
        lens: ``"tensors.rank_bound"``.
        bound: The bound on the rank of ``[A^y]_{I,J}`` (a Python int; may be huge).
        log2_bound: ``log2(bound)``.
        partition: Positions ``I``.
        complement: Positions ``J``.
        nodes: One dict per tree node: ``level, node, n_I, n_J, bound`` (the bound of every
            channel's matricization after that level's pooling).
        output: The output the bound is for.
    """

    lens: str
    bound: int
    log2_bound: float
    partition: tuple[int, ...]
    complement: tuple[int, ...]
    nodes: tuple[dict, ...]
    output: int

    def to_frame(self):
        """One row per pooled node: ``level, node, n_I, n_J, bound, log2_bound``."""
        import pandas as pd

        return pd.DataFrame([{**d, "bound": float(d["bound"]),
                              "log2_bound": math.log2(d["bound"])} for d in self.nodes])

    def tidy(self):
        """Long rows ``layer, metric, value``: per level (``level<l>``) the largest
        ``log2_bound`` of its nodes; ``output<y>``: ``log2_bound``."""
        import pandas as pd

        rows = []
        for level in sorted({d["level"] for d in self.nodes}):
            worst = max(d["bound"] for d in self.nodes if d["level"] == level)
            rows.append({"layer": f"level{level}", "metric": "log2_bound",
                         "value": math.log2(worst)})
        rows.append({"layer": f"output{self.output}", "metric": "log2_bound",
                     "value": self.log2_bound})
        return pd.DataFrame(rows)


def _mix_bound(u: int, v: int, b: int, k: int, width: int) -> tuple[int, int, int]:
    """Bounds after mixing ``k`` channels of rank <= ``b`` in spaces of dims ``u, v``."""
    rank = min(k * b, u, v)
    return min(u, k * b, width * rank), min(v, k * b, width * rank), rank


def rank_bound(model: nn.Module, partition, *, output: int = 0) -> RankBound:
    """Bound the separation rank of a ConvAC from its tree and weights, without a grid.

    For every node of the tree over positions ``S``, the matricizations
    :math:`[\\phi]_{I \\cap S, J \\cap S}` of all its channels lie in one ``U (x) V`` and
    have rank at most ``b``. A leaf in ``I`` starts with ``(dim U, dim V, b) = (M, 1, 1)``
    (in ``J``: ``(1, M, 1)``). A 1x1 convolution sums at most ``k`` channels (``k``: the
    largest number of non-zero weights in a row): ``b <- min(k b, dim U, dim V)``, and the
    spans shrink to ``min(dim U, k b_old, width * b)``. Product pooling of two children is a
    Kronecker product: dims and ranks multiply. The output layer is a last mixing. A
    shallow net's CP form gives ``min(nnz, M^{min(|I|, |J|)})``. This is Cohen & Shashua's (2017, arXiv 1605.06743,
    Thm. 1) argument applied to the actual weights; it holds for linear and log-space nets
    (the log net's ``exp`` output) and needs no ``M^N`` grid, so it works for 16x16 images.
    For random weights the bound is typically attained (the known-answer tests check it).

    Args:
        model: A :class:`deepscope.nets.ConvAC`.
        partition: As for :func:`separation_rank`.
        output: Output row of the final layer.

    Returns:
        A :class:`RankBound`.

    Raises:
        DeepscopeTypeError: ``model`` is not a ConvAC.

    Example:
        >>> import deepscope as ds
        >>> ds.lenses.tensors.rank_bound(ds.nets.convac(8, 2, 3), "left-right").bound
        3
    """
    from deepscope.nets.convac import ConvAC

    func = "rank_bound"
    if not isinstance(model, ConvAC):
        raise param_error("model", func, "a deepscope.nets.ConvAC", type(model).__name__,
                          type_error=True)
    tree, m = model.tree, model.n_templates
    first, second = partition_indices(partition, tree.shape, func)
    side = np.zeros(tree.n_positions, dtype=bool)
    side[list(first)] = True
    n_out = model.output.shape[0]
    if isinstance(output, bool) or not isinstance(output, int) or not 0 <= output < n_out:
        raise param_error("output", func, f"an int in [0, {n_out - 1}]", output)

    def nnz(weight: torch.Tensor) -> int:
        if model.log_space:
            return weight.shape[-1]
        return int((weight.detach() != 0).sum(-1).max())

    def cap(group) -> int:
        n_i = int(side[list(group)].sum())
        return m ** min(n_i, len(group) - n_i)

    out_nnz = int((model.output.detach()[output] != 0).sum()) if not model.log_space \
        else model.output.shape[1]
    everything = tuple(range(tree.n_positions))
    if model.kind == "shallow":
        bound = min(out_nnz, cap(everything))
        nodes = ({"level": 0, "node": 0, "n_I": len(first), "n_J": len(second),
                  "bound": bound},)
    else:
        # per node: dims of the row and column spaces holding every channel, channel rank
        state = [(m, 1, 1) if side[i] else (1, m, 1) for i in everything]
        nodes_list = []
        for level, ((left, right), groups) in enumerate(zip(tree.pairs, tree.groups)):
            k, width = nnz(model.convs[level]), model.widths[level]
            state = [_mix_bound(u, v, b, k, width) for u, v, b in state]
            state = [(state[a][0] * state[c][0], state[a][1] * state[c][1],
                      min(state[a][2] * state[c][2], state[a][0] * state[c][0],
                          state[a][1] * state[c][1])) for a, c in zip(left, right)]
            for j, (g, (_, _, b)) in enumerate(zip(groups, state)):
                n_i = int(side[list(g)].sum())
                nodes_list.append({"level": level, "node": j, "n_I": n_i,
                                   "n_J": len(g) - n_i, "bound": b})
        bound = _mix_bound(*state[0], out_nnz, 1)[2]
        nodes = tuple(nodes_list)
    return RankBound("tensors.rank_bound", int(bound), math.log2(bound) if bound else
                     float("-inf"), first, second, nodes, output)
