"""Study ``network-size``: wider nets fit the data and do not generalize worse; which
capacity measures explain that.

Neyshabur, Tomioka & Srebro (2015), "In search of the real inductive bias", arXiv 1412.6614
(test error keeps falling as the hidden layer widens past what the training set needs), and
Neyshabur, Bhojanapalli, McAllester & Srebro (2017), "Exploring generalization in deep
learning", arXiv 1706.08947 (norm- and margin-based measures against width; the parameter
count grows with width while the error does not).

Two-layer ReLU MLPs (64 -> width -> 10) of widths 4 .. 2048 on the digits, trained by SGD
with momentum and no explicit regularization until every training sample is classified
correctly (or an epoch cap; nets that never get there are recorded as such), several seeds.
Every trained net is measured with :mod:`deepscope.lenses.generalization`.
"""

from __future__ import annotations

from dataclasses import dataclass

from deepscope.errors import check_float, check_int
from deepscope.studies._config import option
from deepscope.studies._registry import Study, register
from deepscope.studies.network_size.figures import figures, summary_table
from deepscope.studies.network_size.run import run

__all__ = ["NetworkSizeConfig"]


@dataclass(frozen=True)
class NetworkSizeConfig:
    """Configuration of the ``network-size`` study."""

    widths: tuple[int, ...] = option((4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048),
                                     "hidden widths of the two-layer MLPs")
    seeds: int = option(3, "seeds (initialisation and batch order) per width")
    first_seed: int = option(0, "first seed")
    lr: float = option(0.05, "SGD learning rate (momentum 0.9)")
    batch_size: int = option(64, "minibatch size")
    max_epochs: int = option(150, "epoch cap for reaching zero training error")
    pac_bayes: bool = option(True, "also measure PAC-Bayes flatness (uniform and magnitude)")
    split_seed: int = option(0, "seed of the digits train/test split")
    threads: int = option(1, "CPU threads while the study runs")

    def __post_init__(self) -> None:
        name = "NetworkSizeConfig"
        if not self.widths:
            check_int(None, "widths", name)
        for w in self.widths:
            check_int(w, "widths", name, low=1, high=100_000)
        check_int(self.seeds, "seeds", name, low=1, high=1000)
        check_int(self.first_seed, "first_seed", name, low=0)
        check_float(self.lr, "lr", name, low=0.0, closed="neither")
        check_int(self.batch_size, "batch_size", name, low=1)
        check_int(self.max_epochs, "max_epochs", name, low=1)
        check_int(self.split_seed, "split_seed", name, low=0)
        check_int(self.threads, "threads", name, low=1, high=256)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))


register(Study(
    name="network-size",
    summary="Wider two-layer nets on digits: test error does not rise; which capacity "
            "measures follow it (Neyshabur et al. 2015, 2017)",
    paper="Neyshabur, Tomioka & Srebro 2015, arXiv 1412.6614; Neyshabur et al. 2017, "
          "arXiv 1706.08947",
    config_cls=NetworkSizeConfig,
    run=run,
    figures=figures,
    summary_table=summary_table,
))
