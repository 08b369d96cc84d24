"""Study ``max-margin``: the implicit bias of gradient descent on separable data.

Soudry, Hoffer, Nacson, Gunasekar & Srebro (2018), "The implicit bias of gradient descent
on separable data", JMLR 19(70), arXiv 1710.10345, Fig. 1: on linearly separable data the
summed logistic loss has no minimiser, and full-batch gradient descent from ``w = 0`` with a
fixed step ``eta < 2 / beta`` (``beta = sigma_max(X)^2 / 4``, the smoothness of the loss)
diverges in norm as ``||w(t)|| ~ log t / gamma`` while its direction converges to the
hard-margin SVM ``w_svm`` (``gamma`` its margin): ``w(t) = w_svm log t + O(1)`` up to the
SVM's scale, the loss falls as ``1/t`` (``t L(t)`` tends to a constant), and the angle and
margin gaps fall only logarithmically.

The run uses a closed-form-gradient engine (:mod:`.engine`) as ``fit``'s ``step_fn``:
``10^7`` steps take seconds instead of the ~24 minutes of autograd steps. ``w_svm`` comes
from scikit-learn's SVC with ``C = 1e10``, independently of the engine. Variants: heavy-ball
momentum with step ``eta (1 - mu)`` (the same effective step; same limit direction), Adam
(different dynamics: its steps do not shrink with the gradient, so ``||w||`` grows far faster
than ``log t`` and ``t L(t)`` is not flat; on this data, with two support vectors per class,
every ``l_p`` max-margin direction is the same, so its direction still tends to ``w_svm``) and
a two-layer linear network ``w_2^T W_1 x`` from a small seeded init (the same limit direction,
Ji & Telgarsky 2019, arXiv 1810.02032).
"""

from __future__ import annotations

from dataclasses import dataclass

from deepscope.errors import check_float, check_int
from deepscope.studies._config import option, validate_choices
from deepscope.studies._registry import Study, register
from deepscope.studies.max_margin.engine import ENGINES
from deepscope.studies.max_margin.figures import figures, summary_table
from deepscope.studies.max_margin.run import run

__all__ = ["MaxMarginConfig"]


@dataclass(frozen=True)
class MaxMarginConfig:
    """Configuration of the ``max-margin`` study."""

    steps: int = option(10_000_000, "gradient steps of every variant (from w = 0)")
    points: int = option(141, "log-spaced step counts at which w is recorded")
    n_random: int = option(10, "random points per class besides the 2 support vectors")
    offset: float = option(0.3, "random points satisfy y w_svm.x >= 1 + offset")
    lr_over_beta: float = option(1.0, "GD step eta = lr_over_beta / beta, beta = "
                                      "sigma_max(X)^2 / 4 (theorem: eta < 2 / beta)")
    momentum: float = option(0.9, "heavy-ball coefficient of the momentum variant")
    adam_lr: float = option(0.01, "Adam's learning rate (betas 0.9, 0.999)")
    width: int = option(8, "hidden width of the two-layer linear network")
    init_scale: float = option(0.1, "std of the two-layer network's initial weights")
    variants: str = option("all", "optimizers to run", choices=("all", *ENGINES))
    seed: int = option(0, "seed of the random points and of the two-layer initialisation")
    threads: int = option(1, "CPU threads while the study runs")

    def __post_init__(self) -> None:
        name = "MaxMarginConfig"
        validate_choices(self)
        check_int(self.steps, "steps", name, low=10, high=10**10)
        check_int(self.points, "points", name, low=2, high=100_000)
        check_int(self.n_random, "n_random", name, low=0, high=100_000)
        check_float(self.offset, "offset", name, low=0.0, closed="neither")
        check_float(self.lr_over_beta, "lr_over_beta", name, low=0.0, high=2.0,
                    closed="neither")
        check_float(self.momentum, "momentum", name, low=0.0, high=1.0, closed="left")
        check_float(self.adam_lr, "adam_lr", name, low=0.0, closed="neither")
        check_int(self.width, "width", name, low=1, high=10_000)
        check_float(self.init_scale, "init_scale", name, low=0.0, closed="neither")
        check_int(self.seed, "seed", name, low=0)
        check_int(self.threads, "threads", name, low=1, high=256)

    def seed_list(self) -> list[int]:
        """The run's one seed."""
        return [self.seed]

    def variant_list(self) -> list[str]:
        """The variants to run, in order."""
        return list(ENGINES) if self.variants == "all" else [self.variants]


register(Study(
    name="max-margin",
    summary="GD on separable data converges in direction to the max-margin SVM, "
            "logarithmically slowly (Soudry et al. 2018, Fig. 1)",
    paper="Soudry, Hoffer, Nacson, Gunasekar & Srebro 2018, JMLR, arXiv 1710.10345",
    config_cls=MaxMarginConfig,
    run=run,
    figures=figures,
    summary_table=summary_table,
))
