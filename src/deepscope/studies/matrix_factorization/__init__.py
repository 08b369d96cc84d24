"""Study ``matrix-factorization``: gradient descent on a factorisation finds the
minimum-nuclear-norm solution when started small.

Gunasekar, Woodworth, Bhojanapalli, Neyshabur & Srebro (2017), "Implicit regularization in
matrix factorization", NeurIPS, arXiv 1705.09280: with fewer measurements ``y_i = <A_i, X*>``
than unknowns, ``X = U U^T`` trained by gradient descent from ``U_0 = alpha I`` interpolates,
and as ``alpha -> 0`` the interpolant it reaches tends to the minimum-nuclear-norm one (here
``X*`` itself, rank 1), while the minimum-Frobenius-norm interpolant stays far from ``X*``.

Setting (the paper's symmetric case): ``n = 20``, ``X* = u u^T`` with ``u ~ N(0, I_n)``, 120
symmetric Gaussian measurements (fewer than the 210 degrees of freedom of a symmetric
20 x 20 matrix), full-batch gradient descent (closed-form gradient, as ``fit``'s
``step_fn``). The minimum-nuclear-norm interpolant is computed independently by ADMM
(:func:`.work.min_nuclear`). Errors are relative, in Frobenius norm.
"""

from __future__ import annotations

from dataclasses import dataclass

from deepscope.errors import check_float, check_int
from deepscope.studies._config import option
from deepscope.studies._registry import Study, register
from deepscope.studies.matrix_factorization.figures import figures, summary_table
from deepscope.studies.matrix_factorization.run import run

__all__ = ["MatrixFactorizationConfig"]


@dataclass(frozen=True)
class MatrixFactorizationConfig:
    """Configuration of the ``matrix-factorization`` study."""

    n: int = option(20, "size of X* (n x n)")
    measurements: int = option(120, "number of symmetric Gaussian measurements")
    alphas: tuple[float, ...] = option((1.0, 0.3, 0.1, 0.01, 0.001),
                                       "initial scales: U_0 = alpha I")
    lr: float = option(0.25, "GD step, in units of 1 / ||X*||_2")
    steps: int = option(60_000, "GD steps at most per alpha")
    record_every: int = option(200, "GD steps between recorded points")
    tol: float = option(1e-6, "stop when the relative residual ||A(X) - y|| / ||y|| is below")
    seed: int = option(0, "seed of u and of the measurements")
    threads: int = option(1, "CPU threads while the study runs")

    def __post_init__(self) -> None:
        name = "MatrixFactorizationConfig"
        check_int(self.n, "n", name, low=1, high=500)
        check_int(self.measurements, "measurements", name, low=1, high=1_000_000)
        if not self.alphas:
            check_float(None, "alphas", name)
        for a in self.alphas:
            check_float(a, "alphas", name, low=0.0, closed="neither")
        check_float(self.lr, "lr", name, low=0.0, closed="neither")
        check_int(self.steps, "steps", name, low=1)
        check_int(self.record_every, "record_every", name, low=1)
        check_float(self.tol, "tol", name, low=0.0)
        check_int(self.seed, "seed", name, low=0)
        check_int(self.threads, "threads", name, low=1, high=256)

    def seed_list(self) -> list[int]:
        """The run's one seed."""
        return [self.seed]


register(Study(
    name="matrix-factorization",
    summary="GD on X = UU^T from a small init finds the minimum-nuclear-norm solution "
            "(Gunasekar et al. 2017)",
    paper="Gunasekar, Woodworth, Bhojanapalli, Neyshabur & Srebro 2017, arXiv 1705.09280",
    config_cls=MatrixFactorizationConfig,
    run=run,
    figures=figures,
    summary_table=summary_table,
))
