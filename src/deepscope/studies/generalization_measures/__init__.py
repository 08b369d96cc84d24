"""Study ``generalization-measures``: which capacity measures rank a zoo of nets by their
generalization gap (small but honest, after Jiang et al. 2020).

Jiang, Neyshabur, Mobahi, Krishnan & Bengio (2020), "Fantastic generalization measures and
where to find them", arXiv 1912.02178; Dziugaite et al. (2020), "In search of robust measures
of generalization", arXiv 2010.11924.

A zoo of ReLU MLPs on the digits over a grid of learning rate, batch size, width and depth
(the values are fields of the config) times seeds, each trained by SGD with momentum until
its training cross-entropy is below 0.01 (Jiang et al.'s stopping rule) within an epoch cap.
Nets that never get there are recorded, counted and left out of the correlations. Every
measure of :mod:`deepscope.lenses.generalization` is then compared with the generalization
gap (train accuracy minus test accuracy): Kendall's tau over all nets, and the granulated
score ``Psi``: for each hyperparameter, the mean tau within the cells where only that one
varies (all others and the seed fixed); ``Psi`` is the mean over hyperparameters.

The full grid (3 values each, 2 seeds: 162 nets) is the paper-sized run
(``--set lrs=0.02,0.05,0.1 --set batch_sizes=32,128,512 --set widths=64-128-256
--set depths=1-2-3 --seeds 2``); the default is 2 values each and 2 seeds (32 nets) so that
it runs in a few minutes on one thread. Training runs in ``workers`` processes and resumes
(finished nets are not retrained).
"""

from __future__ import annotations

from dataclasses import dataclass

from deepscope.errors import check_float, check_int
from deepscope.studies._config import option
from deepscope.studies._registry import Study, register
from deepscope.studies.generalization_measures.figures import figures, summary_table
from deepscope.studies.generalization_measures.run import run

__all__ = ["GeneralizationMeasuresConfig"]


@dataclass(frozen=True)
class GeneralizationMeasuresConfig:
    """Configuration of the ``generalization-measures`` study."""

    lrs: tuple[float, ...] = option((0.02, 0.1), "SGD learning rates (momentum 0.9)")
    batch_sizes: tuple[int, ...] = option((32, 256), "minibatch sizes")
    widths: tuple[int, ...] = option((64, 256), "hidden widths (<= 256)")
    depths: tuple[int, ...] = option((1, 3), "numbers of hidden layers")
    seeds: int = option(2, "seeds per hyperparameter setting")
    first_seed: int = option(0, "first seed")
    target_loss: float = option(0.01, "stop when the training cross-entropy is below")
    max_epochs: int = option(200, "epoch cap; nets that do not reach the target are left out")
    pac_bayes: bool = option(True, "also measure PAC-Bayes flatness (uniform and magnitude)")
    split_seed: int = option(0, "seed of the digits train/test split")
    workers: int = option(1, "processes training nets in parallel")
    threads: int = option(1, "CPU threads per process")

    def __post_init__(self) -> None:
        name = "GeneralizationMeasuresConfig"
        for field, values in (("lrs", self.lrs), ("batch_sizes", self.batch_sizes),
                              ("widths", self.widths), ("depths", self.depths)):
            if not values:
                check_int(None, field, name)
        for v in self.lrs:
            check_float(v, "lrs", name, low=0.0, closed="neither")
        for v in self.batch_sizes:
            check_int(v, "batch_sizes", name, low=1)
        for v in self.widths:
            check_int(v, "widths", name, low=1, high=256)
        for v in self.depths:
            check_int(v, "depths", name, low=1, high=16)
        check_int(self.seeds, "seeds", name, low=1, high=1000)
        check_int(self.first_seed, "first_seed", name, low=0)
        check_float(self.target_loss, "target_loss", name, low=0.0, closed="neither")
        check_int(self.max_epochs, "max_epochs", name, low=1)
        check_int(self.split_seed, "split_seed", name, low=0)
        check_int(self.workers, "workers", name, low=1, high=256)
        check_int(self.threads, "threads", name, low=1, high=256)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def grid(self) -> list[dict]:
        """Every net of the zoo: ``lr, batch_size, width, depth, seed``."""
        return [dict(lr=lr, batch_size=b, width=w, depth=d, seed=s)
                for lr in self.lrs for b in self.batch_sizes for w in self.widths
                for d in self.depths for s in self.seed_list()]


register(Study(
    name="generalization-measures",
    summary="A zoo of MLPs on digits: Kendall tau and granulated Psi of every measure "
            "against the generalization gap (Jiang et al. 2020)",
    paper="Jiang, Neyshabur, Mobahi, Krishnan & Bengio 2020, arXiv 1912.02178; "
          "Dziugaite et al. 2020, arXiv 2010.11924",
    config_cls=GeneralizationMeasuresConfig,
    run=run,
    figures=figures,
    summary_table=summary_table,
))
