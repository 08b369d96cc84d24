"""Exact combinatorics of Boolean learning machines (helpers of the ``boolean-machines`` study).

A Boolean function on ``N`` bits is stored as its truth table packed into an int: bit ``i``
of the table is ``f(x)`` for the input ``x`` whose bit ``j`` is bit ``j`` of ``i``. A
*threshold unit* realises :math:`f(x) = [w \\cdot x + b > 0]`. :func:`threshold_tables`
finds every such table by linear programming, but only on one representative of each orbit
of the symmetry group of the cube (permutations and negations of the inputs, and the
complement of the output) under which the set of threshold functions is closed: for
``N = 4`` that is 222 programs instead of 65,536. Known answers: 4, 14, 104, 1882 threshold
functions for ``N = 1..4`` (Muroga 1971; OEIS A000609).

References: C. Xiong (2016), "Discussion on mechanical learning and learning machine",
arXiv:1602.00198 (learning machines on N bits, data sufficiency); S. Muroga (1971),
"Threshold logic and its applications".
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = [
    "MAX_ENUM_BITS",
    "compose_counts",
    "cube_points",
    "orbits",
    "realisable",
    "threshold_tables",
    "consistent_counts",
    "smallest_sufficient",
    "table_bits",
    "train_units",
]

#: Largest N whose 2^(2^N) truth tables are enumerated (2^16 = 65,536 for N = 4).
MAX_ENUM_BITS = 4


def cube_points(n_bits: int) -> np.ndarray:
    """The ``2^N`` inputs as a ``(2^N, N)`` 0/1 int array; row ``i`` holds the bits of ``i``."""
    idx = np.arange(2**n_bits)
    return ((idx[:, None] >> np.arange(n_bits)) & 1).astype(np.int64)


def table_bits(tables: np.ndarray, n_bits: int) -> np.ndarray:
    """Unpack truth tables (ints) into a ``(len(tables), 2^N)`` 0/1 array."""
    tables = np.asarray(tables, dtype=np.int64)
    return ((tables[:, None] >> np.arange(2**n_bits)) & 1).astype(np.int64)


def _pack(bits: np.ndarray) -> np.ndarray:
    weights = np.left_shift(np.int64(1), np.arange(bits.shape[1], dtype=np.int64))
    return bits @ weights


def _generators(n_bits: int) -> list[np.ndarray]:
    """Input-index permutations generating the cube's symmetry group (order 2^N N!)."""
    pts = cube_points(n_bits)
    weights = 1 << np.arange(n_bits)
    gens = []
    for j in range(n_bits - 1):  # adjacent transpositions of inputs
        order = np.arange(n_bits)
        order[[j, j + 1]] = order[[j + 1, j]]
        gens.append(pts[:, order] @ weights)
    flipped = pts.copy()
    flipped[:, 0] ^= 1  # negation of input 0
    gens.append(flipped @ weights)
    return gens


def orbits(n_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Orbits of all ``2^(2^N)`` truth tables under input permutations, input negations
    and output complement (the "NPN" classes).

    The orbits are the connected components of the graph that joins each table to its
    images under the group's generators, so nothing loops over the 2^N N! group elements.

    Args:
        n_bits: ``N`` in ``1..4``.

    Returns:
        ``(labels, representatives)``: ``labels[t]`` is the orbit of table ``t``;
        ``representatives[c]`` is the smallest table of orbit ``c``.
    """
    size = 2 ** (2**n_bits)
    tables = np.arange(size, dtype=np.int64)
    bits = table_bits(tables, n_bits)
    images = [_pack(bits[:, perm]) for perm in _generators(n_bits)]
    images.append(tables ^ (size - 1))  # complement
    rows = np.concatenate([tables] * len(images))
    cols = np.concatenate(images)
    graph = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    reps = np.full(labels.max() + 1, size, dtype=np.int64)
    np.minimum.at(reps, labels, tables)
    return labels, reps


def realisable(table: int, n_bits: int) -> bool:
    """Whether one threshold unit realises ``table``: is the LP below feasible?

    .. math::

        \\exists\\, w \\in \\mathbb{R}^N, b:\\quad
        (2 f(x) - 1)\\,(w \\cdot x + b) \\ge 1 \\quad \\forall x \\in \\{0, 1\\}^N.

    Strict separation of the two finite classes is equivalent to this margin-1 program
    (rescale ``w, b``). Solved with HiGHS (``scipy.optimize.linprog``).
    """
    pts = cube_points(n_bits).astype(np.float64)
    sign = 2.0 * table_bits(np.array([table]), n_bits)[0] - 1.0
    a_ub = -sign[:, None] * np.hstack([pts, np.ones((pts.shape[0], 1))])
    res = linprog(np.zeros(n_bits + 1), A_ub=a_ub, b_ub=-np.ones(pts.shape[0]),
                  bounds=[(None, None)] * (n_bits + 1), method="highs")
    if res.status not in (0, 2):  # 0: feasible, 2: infeasible
        raise RuntimeError(f"linprog failed on table {table} of {n_bits} bits: {res.message}")
    return res.status == 0


def threshold_tables(n_bits: int) -> tuple[np.ndarray, dict]:
    """Every truth table on ``N`` bits that one threshold unit realises, exactly.

    Args:
        n_bits: ``N`` in ``1..4``.

    Returns:
        ``(tables, info)``: the sorted threshold tables, and ``info`` with ``classes``
        (number of orbits), ``lps`` (linear programs solved) and ``threshold_classes``.
    """
    labels, reps = orbits(n_bits)
    ok = np.array([realisable(int(t), n_bits) for t in reps], dtype=bool)
    tables = np.flatnonzero(ok[labels]).astype(np.int64)
    info = {"classes": int(reps.size), "lps": int(reps.size),
            "threshold_classes": int(ok.sum())}
    return tables, info


def _complement_reps(tables: np.ndarray, n_bits: int) -> np.ndarray:
    full = (1 << (2**n_bits)) - 1
    return tables[tables <= (tables ^ full)]


def compose_counts(
    inner: np.ndarray, outer: np.ndarray, n_bits: int, k: int, *, max_work: float = 5e7,
) -> np.ndarray | None:
    """All functions ``g(h_1(x), ..., h_k(x))`` with ``h_j`` in ``inner`` and ``g`` in
    ``outer``: one hidden layer of ``k`` threshold units and a threshold output.

    ``inner`` are the threshold tables on ``N`` bits, ``outer`` those on ``k`` bits. Both
    sets are closed under complement and ``outer`` under input permutations, so the hidden
    units can be taken as a multiset of complement-class representatives; the work is then
    ``C(R + k - 1, k) * |outer|`` compositions, evaluated as vectorised bit operations.

    Args:
        inner: Threshold tables on ``n_bits`` bits.
        outer: Threshold tables on ``k`` bits.
        n_bits: ``N``.
        k: Hidden units.
        max_work: Give up (return ``None``) above this many compositions.

    Returns:
        A boolean mask over all ``2^(2^N)`` tables, True where realisable; ``None`` when
        the work exceeds ``max_work``.
    """
    reps = _complement_reps(np.asarray(inner, dtype=np.int64), n_bits)
    outer = np.asarray(outer, dtype=np.int64)
    n_tuples = math.comb(reps.size + k - 1, k)
    if n_tuples * outer.size > max_work:
        return None
    seen = np.zeros(2 ** (2**n_bits), dtype=bool)
    rep_bits = table_bits(reps, n_bits)  # (R, 2^N)
    shifts = np.arange(2**n_bits, dtype=np.int64)
    chunk = max(1, int(2e6 // max(outer.size * 2**n_bits, 1)))
    combos = itertools.combinations_with_replacement(range(reps.size), k)
    while True:
        block = np.fromiter(itertools.chain.from_iterable(itertools.islice(combos, chunk)),
                            dtype=np.int64)
        if block.size == 0:
            break
        idx = block.reshape(-1, k)
        codes = np.zeros((idx.shape[0], 2**n_bits), dtype=np.int64)
        for j in range(k):
            codes |= rep_bits[idx[:, j]] << j
        out_bits = (outer[None, :, None] >> codes[:, None, :]) & 1  # (T, G, 2^N)
        seen[(out_bits << shifts).sum(-1).ravel()] = True
    return seen


def consistent_counts(
    candidates: np.ndarray, targets: np.ndarray, masks: np.ndarray,
) -> np.ndarray:
    """How many ``candidates`` agree with ``targets`` on the inputs in ``masks``.

    Args:
        candidates: Truth tables of a machine's function class, ``(C,)``.
        targets: Target tables, ``(P,)``.
        masks: Training subsets as input bit masks, ``(P,)``.

    Returns:
        ``(P,)`` counts; the target is *determined* by its subset when the count is 1.
    """
    cand = np.asarray(candidates, dtype=np.int64)
    out = np.empty(len(targets), dtype=np.int64)
    step = max(1, int(4e6 // max(cand.size, 1)))
    for s in range(0, len(targets), step):
        t = np.asarray(targets[s:s + step], dtype=np.int64)[:, None]
        m = np.asarray(masks[s:s + step], dtype=np.int64)[:, None]
        out[s:s + step] = (((cand[None, :] ^ t) & m) == 0).sum(1)
    return out


# ------------------------------------------------------------------ data sufficiency


def _signed_inputs(n_bits: int, dtype, device):
    import torch

    pts = torch.as_tensor(cube_points(n_bits), dtype=dtype, device=device)
    return torch.cat([2 * pts - 1, torch.ones(pts.shape[0], 1, dtype=dtype, device=device)], 1)


def train_units(
    targets: np.ndarray,
    masks: np.ndarray,
    n_bits: int,
    *,
    learner: str = "perceptron",
    steps: int = 1000,
    lr: float = 1.0,
    device=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Train one threshold unit per problem on its subset, all problems at once.

    Inputs are coded :math:`\\pm 1` with a bias input. ``"perceptron"`` is the batch
    perceptron from zero weights, :math:`w \\leftarrow w + \\eta \\sum_{\\text{mistakes}} y x`,
    run until the subset is separated or ``steps`` epochs; ``"logistic"`` is full-batch
    gradient descent on the mean logistic loss for ``steps`` steps. The unit predicts
    :math:`[w \\cdot x > 0]`.

    Args:
        targets: Target truth tables, ``(P,)``.
        masks: Training subsets as bit masks over the ``2^N`` inputs, ``(P,)``.
        n_bits: ``N``.
        learner: ``"perceptron"`` or ``"logistic"``.
        steps: Epochs (perceptron, at most) or gradient steps (logistic).
        lr: Step size.
        device: Where to train (a torch device; default CPU).

    Returns:
        ``(recovered, fitted)``: per problem, whether the unit computes the target on all
        ``2^N`` inputs, and whether it fits its training subset.
    """
    import torch

    from deepscope.train import fit

    dtype = torch.float64
    x = _signed_inputs(n_bits, dtype, device)  # (2^N, N+1)
    y = torch.as_tensor(2 * table_bits(targets, n_bits) - 1, dtype=dtype, device=device)
    train = torch.as_tensor(table_bits(masks, n_bits), dtype=dtype, device=device)
    count = train.sum(1, keepdim=True).clamp_min(1)

    class Units(torch.nn.Module):   # one unit per problem: the weights w (P, N+1)
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.zeros(len(targets), n_bits + 1, dtype=dtype, device=device)

    units = Units()

    def step_fn(model, batch, optimizer) -> dict:
        margin = y * (model.w @ x.T)
        if learner == "perceptron":
            wrong = (margin <= 0).to(dtype) * train
            if not bool(wrong.any()):
                return {"separated": 1.0}   # every subset separated: stop, w unchanged
            model.w = model.w + lr * (wrong * y) @ x
        else:
            weight = torch.sigmoid(-margin) * train / count
            model.w = model.w + lr * (weight * y) @ x
        return {}

    fit(units, None, lambda step, generator: None, optimizer=None, step_fn=step_fn,
        steps=steps, on_step=lambda step, model, logs: "separated" in logs)
    w = units.w
    pred = (w @ x.T > 0).to(dtype) * 2 - 1
    correct = pred == y
    recovered = correct.all(1)
    fitted = (correct | (train == 0)).all(1)
    return recovered.cpu().numpy(), fitted.cpu().numpy()


def smallest_sufficient(flags: np.ndarray) -> np.ndarray:
    """Per row of ``(trials, sizes)`` flags, the first size from which every later size is
    True (1-based; ``sizes + 1`` when even the full set fails)."""
    flags = np.asarray(flags, dtype=bool)
    n = flags.shape[1]
    # position of the last False, +1, is where the all-True suffix starts
    last_false = np.where(~flags, np.arange(n)[None, :], -1).max(1)
    return last_false + 2
