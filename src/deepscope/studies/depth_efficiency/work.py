"""The measurements of ``depth-efficiency``: separation ranks, then CP terms by ALS."""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from deepscope.lenses.tensors import grid_tensor, rank_bound, separation_rank
from deepscope.nets import convac
from deepscope.studies.depth_efficiency.als import cp_terms_needed

__all__ = ["architectures", "record_cp_terms", "record_ranks"]


def architectures(r: int) -> list[tuple[str, dict]]:
    """Name and ``convac`` options of every net compared at width ``r``."""
    return [("deep-square", {"pooling": "square"}), ("deep-mirror", {"pooling": "mirror"}),
            ("shallow Z=r", {"kind": "shallow", "shallow_terms": r})]


def _partitions(n: int, count: int, seed: int) -> list[tuple[str, object]]:
    rng = np.random.default_rng(seed)
    parts: list[tuple[str, object]] = [("odd-even", "odd-even"), ("left-right", "left-right")]
    for k in range(count):
        parts.append((f"random{k}", sorted(rng.choice(n, n // 2, replace=False).tolist())))
    return parts


def record_ranks(cfg, rec, seed: int, task) -> None:
    """Ranks (exact for the grid, and the structural bound) of every net and partition.

    Rows: ``step = N``, ``lens = "separation_rank"``, ``layer = "<arch> M=<M> r=<r>"``,
    metrics ``rank:<partition>``, ``bound:<partition>``, ``gap:<partition>`` (log10), and
    ``theorem`` = ``min(r, M)^(N/2)`` (Cohen et al. 2016, Thm. 1: the deep net's rank on
    the odd-even partition, almost everywhere).
    """
    one_hot = {m: torch.eye(m) for m in cfg.templates}
    for n in cfg.n_positions:
        for m in cfg.templates:
            if m ** n > cfg.max_grid:
                continue
            parts = _partitions(n, cfg.random_partitions, seed)
            for r in cfg.widths:
                for arch, opts in architectures(r):
                    net = convac(n, m, r, seed=seed, **opts)
                    grid = grid_tensor(net, one_hot[m])
                    layer = f"{arch} M={m} r={r}"
                    for name, part in parts:
                        res = separation_rank(grid, part)
                        bound = rank_bound(net, part).bound
                        rec.record(step=n, lens="separation_rank", layer=layer,
                                   metric=[f"rank:{name}", f"bound:{name}", f"gap:{name}"],
                                   value=[res.rank, bound, math.log10(res.gap)
                                          if math.isfinite(res.gap) else 99.0], seed=seed)
                    rec.record(step=n, lens="separation_rank", layer=layer, metric="theorem",
                               value=min(r, m) ** (n // 2), seed=seed)
                task.advance(1)


def record_spectra(cfg, rec, seed: int) -> None:
    """Singular values of the odd-even and left-right matricizations at the largest N."""
    n = max(cfg.n_positions)
    r = 2
    for arch, opts in architectures(r)[:1] + [("shallow Z=16", {"kind": "shallow",
                                                                "shallow_terms": 16})]:
        grid = grid_tensor(convac(n, 2, r, seed=seed, **opts), torch.eye(2))
        for part in ("odd-even", "left-right"):
            s = separation_rank(grid, part).singular_values
            rec.record(step=n, lens="spectrum", layer=f"{arch}|{part}",
                       metric="singular_value", value=s / s[0], seed=seed)


def record_cp_terms(cfg, rec, seed: int, task) -> None:
    """CP terms a shallow net needs to realise a random deep net (M = 2, width r).

    Lower bound: the largest matricization rank over the odd-even, left-right and random
    balanced partitions (CP rank >= every matricization rank). Upper bound: the least
    ``Z`` at which ALS fits the grid tensor to relative error ``als_tol``.
    """
    for n in cfg.n_positions:
        if n > cfg.als_max_n:
            continue
        r = cfg.als_width
        net = convac(n, 2, r, seed=seed)
        grid = grid_tensor(net, torch.eye(2))
        lower = max(separation_rank(grid, part).rank
                    for _, part in _partitions(n, cfg.random_partitions, seed))
        t0 = time.perf_counter()
        upper, errors = cp_terms_needed(grid.values.numpy(), lower, 2 ** (n - 1), seed=seed,
                                        restarts=cfg.als_restarts, max_iter=cfg.als_iters,
                                        tol=cfg.als_tol)
        layer = f"deep-square M=2 r={r}"
        generic = math.ceil(2 ** n / (n + 1))
        rec.record(step=n, lens="cp_rank", layer=layer,
                   metric=["lower", "upper", "theorem", "generic", "als_s"],
                   value=[lower, float("nan") if upper is None else upper,
                          min(r, 2) ** (n // 2), generic, time.perf_counter() - t0], seed=seed)
        zs = sorted(errors)
        rec.record(step=n, lens="cp_als", layer=layer, metric=[f"error:Z={z}" for z in zs],
                   value=[errors[z] for z in zs], seed=seed)
        task.advance(1)
