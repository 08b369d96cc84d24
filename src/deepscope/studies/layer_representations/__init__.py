"""Study ``layer-representations``: what each layer of a digits classifier keeps and discards.

An MLP and the SmallCNN are trained on scikit-learn's 8 x 8 digits with the true labels, with
uniformly random labels (Zhang et al. 2017, arXiv 1611.03530), or left untrained, for several
seeds. On all 1,797 images (``n_measure``), every layer is measured with the
representations lens:

* linear CKA between its layers (Kornblith et al. 2019, arXiv 1905.00414) and between the
  same layers of two seeds (a layer should match itself across seeds);
* a linear probe for the true digit with a control task and its selectivity (Alain & Bengio
  2016; Hewitt & Liang 2019);
* the TwoNN intrinsic dimension with a bootstrap interval (Ansuini et al. 2019, arXiv
  1905.12784: it rises then falls with depth, and the last hidden layer is lower-dimensional
  with true labels than with random ones);
* invariance to one-pixel shifts and to input noise;
* beside them, the information-plane numbers ``I(X;T)`` and ``I(T;Y)`` of the same layers
  (the KDE upper bound of Kolchinsky & Tracey 2017 with noise of variance ``kde_noise`` on
  each layer scaled to unit mean variance per coordinate), so that the two views of
  "layers discard what is irrelevant to the target" (Vicente 2019, arXiv 1908.10206) meet
  in one report.
"""

from __future__ import annotations

from dataclasses import dataclass

from deepscope.errors import check_float, check_int
from deepscope.studies._config import option, validate_choices
from deepscope.studies._registry import Study, register
from deepscope.studies.layer_representations.figures import figures, summary_table
from deepscope.studies.layer_representations.work import CONDITIONS, NETS, run

__all__ = ["CONDITIONS", "NETS", "LayerRepresentationsConfig"]


@dataclass(frozen=True)
class LayerRepresentationsConfig:
    """Configuration of the ``layer-representations`` study."""

    nets: str = option("both", "networks to train", choices=("both", *NETS))
    conditions: str = option("all", "label conditions", choices=("all", *CONDITIONS))
    seeds: int = option(2, "seeds per network and condition (>= 2 for the cross-seed CKA)")
    first_seed: int = option(0, "first seed")
    epochs: int = option(40, "training epochs (Adam) of the true-label nets")
    random_epochs: int = option(150, "training epochs of the random-label nets")
    lr: float = option(3e-3, "Adam learning rate")
    batch_size: int = option(128, "minibatch size")
    mlp_hidden: tuple[int, ...] = option((128, 128, 64), "hidden widths of the MLP")
    noise_std: float = option(0.5, "std of the input noise for invariance (standardised pixels)")
    kde_noise: float = option(1.0, "noise variance of the KDE information estimate, in units "
                              "of each layer's mean variance per coordinate")
    n_bootstrap: int = option(50, "bootstrap resamples of each intrinsic dimension")
    n_measure: int = option(1797, "images the layers are measured on (fixed subset; all 1797)")
    threads: int = option(1, "CPU threads while the study runs (tiny nets: 1 is fastest)")

    def __post_init__(self) -> None:
        name = "LayerRepresentationsConfig"
        validate_choices(self)
        check_int(self.seeds, "seeds", name, low=1, high=100)
        check_int(self.first_seed, "first_seed", name, low=0)
        check_int(self.epochs, "epochs", name, low=1, high=100_000)
        check_int(self.random_epochs, "random_epochs", name, low=1, high=100_000)
        check_float(self.lr, "lr", name, low=0.0, closed="neither")
        check_int(self.batch_size, "batch_size", name, low=1, high=100_000)
        for h in self.mlp_hidden:
            check_int(h, "mlp_hidden", name, low=1, high=100_000)
        check_float(self.noise_std, "noise_std", name, low=0.0, closed="neither")
        check_float(self.kde_noise, "kde_noise", name, low=0.0, closed="neither")
        check_int(self.n_bootstrap, "n_bootstrap", name, low=0, high=100_000)
        check_int(self.n_measure, "n_measure", name, low=50, high=1797)
        check_int(self.threads, "threads", name, low=1, high=256)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def net_list(self) -> list[str]:
        """The networks, in order."""
        return list(NETS) if self.nets == "both" else [self.nets]

    def condition_list(self) -> list[str]:
        """The label conditions, in order."""
        return list(CONDITIONS) if self.conditions == "all" else [self.conditions]


register(Study(
    name="layer-representations",
    summary="CKA, probes, intrinsic dimension and invariance per layer: true vs random "
            "labels vs untrained (Kornblith 2019, Ansuini 2019)",
    paper="Kornblith et al. 2019, arXiv 1905.00414; Ansuini et al. 2019, arXiv 1905.12784; "
          "Hewitt & Liang 2019, arXiv 1909.03368",
    config_cls=LayerRepresentationsConfig,
    run=run,
    figures=figures,
    summary_table=summary_table,
))
