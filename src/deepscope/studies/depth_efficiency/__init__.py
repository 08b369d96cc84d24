"""Study ``depth-efficiency``: deep ConvACs realise tensors shallow ones need exponentially
many terms for.

Cohen, Sharir & Shashua (2016, "On the expressive power of deep learning: a tensor
analysis", arXiv 1509.05009): the coefficient tensor of a deep ConvAC (size-2 product
pooling, hierarchical Tucker) with ``r`` channels has, for almost every weight setting,
rank ``min(r, M)^(N/2)`` on the odd-even matricization, so a shallow ConvAC (CP) needs at
least that many terms to realise it; a shallow net with ``Z`` terms has rank at most ``Z``
on every matricization.

Part 1 measures separation ranks of deep (square and mirror pooling) and shallow nets
across partitions, widths ``r`` and template counts ``M`` on the exact grid tensors (one-hot
templates), beside the structural bound of :func:`deepscope.lenses.tensors.rank_bound` and
the theorem. Part 2 asks how many CP terms a shallow net needs for a random deep net: exact
CP rank is NP-hard, so the run reports the best matricization lower bound and an ALS upper
bound (least ``Z`` reaching relative error ``als_tol``).
"""

from __future__ import annotations

from dataclasses import dataclass

from deepscope.errors import check_float, check_int, param_error
from deepscope.studies._config import option
from deepscope.studies._registry import Study, StudyContext, register
from deepscope.studies.depth_efficiency import figures as _figures
from deepscope.studies.depth_efficiency import work

__all__ = ["DepthEfficiencyConfig"]


@dataclass(frozen=True)
class DepthEfficiencyConfig:
    """Configuration of the ``depth-efficiency`` study."""

    n_positions: tuple[int, ...] = option((4, 8, 16), "numbers of positions N (powers of 2)")
    templates: tuple[int, ...] = option((2, 3, 4), "numbers of templates M (one-hot)")
    widths: tuple[int, ...] = option((1, 2, 3, 4), "channels r of every level")
    max_grid: int = option(70_000, "skip (N, M) whose grid has more than this many entries")
    random_partitions: int = option(3, "random balanced partitions besides odd-even and "
                                       "left-right")
    als_max_n: int = option(8, "largest N of the ALS search (its cost grows with 2^N x Z)")
    als_width: int = option(2, "channels r of the deep nets decomposed by ALS")
    als_tol: float = option(1e-4, "relative Frobenius error at which ALS counts as exact")
    als_iters: int = option(1000, "ALS sweeps per start")
    als_restarts: int = option(2, "random starts per number of terms")
    seeds: int = option(2, "number of seeds (weights, random partitions, ALS starts)")
    first_seed: int = option(0, "first seed")
    threads: int = option(1, "torch CPU threads")

    def __post_init__(self) -> None:
        name = "DepthEfficiencyConfig"
        for n in self.n_positions:
            if isinstance(n, bool) or not isinstance(n, int) or n < 2 or n & (n - 1):
                raise param_error("n_positions", name, "powers of two >= 2", self.n_positions)
        for m in self.templates:
            check_int(m, "templates", name, low=1, high=16)
        for r in self.widths:
            check_int(r, "widths", name, low=1, high=64)
        check_int(self.max_grid, "max_grid", name, low=4, high=2 ** 24)
        check_int(self.random_partitions, "random_partitions", name, low=0, high=100)
        check_int(self.als_max_n, "als_max_n", name, low=0, high=16)
        check_int(self.als_width, "als_width", name, low=1, high=64)
        check_float(self.als_tol, "als_tol", name, low=0.0, high=1.0, closed="neither")
        check_int(self.als_iters, "als_iters", name, low=1)
        check_int(self.als_restarts, "als_restarts", name, low=1, high=100)
        check_int(self.seeds, "seeds", name, low=1, high=1000)
        check_int(self.first_seed, "first_seed", name, low=0)
        check_int(self.threads, "threads", name, low=1, high=256)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))


def run(config: DepthEfficiencyConfig, ctx: StudyContext) -> None:
    """Ranks of every net and partition, then the ALS search, for every seed."""
    done = list(ctx.resume.get("done", [])) if ctx.resume else []
    n_grids = sum(1 for n in config.n_positions for m in config.templates
                  if m ** n <= config.max_grid) * len(config.widths)
    n_als = sum(1 for n in config.n_positions if n <= config.als_max_n)
    seeds = config.seed_list()
    with ctx.task("depth-efficiency: ranks and CP terms",
                  len(seeds) * (n_grids + n_als)) as task:
        for seed in seeds:
            if seed in done:
                task.advance(n_grids + n_als)
                continue
            work.record_ranks(config, ctx.run, seed, task)
            if seed == seeds[0]:
                work.record_spectra(config, ctx.run, seed)
            work.record_cp_terms(config, ctx.run, seed, task)
            done.append(seed)
            ctx.checkpoint({"done": done})


register(Study(
    name="depth-efficiency",
    summary="Separation ranks of deep vs shallow ConvACs; CP terms a shallow net needs "
            "(Cohen, Sharir & Shashua 2016)",
    paper="Cohen, Sharir & Shashua 2016, arXiv 1509.05009; Cohen & Shashua 2017, "
          "arXiv 1605.06743",
    config_cls=DepthEfficiencyConfig,
    run=run,
    figures=_figures.figures,
    summary_table=_figures.summary_table,
))
