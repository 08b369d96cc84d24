"""Study ``rbm-rg``: stacked RBMs on critical Ising data against block-spin coarse-graining.

Mehta & Schwab (2014, "An exact mapping between the variational renormalization group and
deep learning", arXiv 1410.3831) train a stack of RBMs (1600-400-100-25 on 40 x 40 Ising
configurations at T_c, with an L1 penalty) and show receptive fields that look like blocks
growing with depth, as in Kadanoff's block-spin renormalization.

Here the receptive fields (``W_1 ... W_k``, the linear read-out of a layer-``k`` unit from the
spins) are measured instead of only shown, for every layer, beside the exact
``b x b`` block spins of the same depth (``b = L / sqrt(units)``) and beside the total
magnetisation (a maximally non-local field):

* ``gyration_radius``: radius of gyration of a field's squared-weight mass on the torus
  (``gyration_radius_q25``: its first quartile over units, the most local quarter);
* ``effective_block``: smallest ``b'`` whose best ``b' x b'`` block holds half the mass;
* ``block_mass``: share of the mass inside the best ``b x b`` block;
* ``block_corr``: largest ``|corr|`` between a unit's activation and a majority block spin
  of the same configurations.

Medians over units; the default run uses ``L = 16`` and ``64-16-4`` hidden units (each layer
a factor 4, like 2 x 2 blocks) to stay within a few minutes on one thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepscope.errors import check_float, check_int, param_error
from deepscope.studies._config import option
from deepscope.studies._registry import Study, StudyContext, register

__all__ = ["METRICS", "RbmRgConfig"]

METRICS = ("gyration_radius", "gyration_radius_q25", "effective_block", "block_mass",
           "block_corr")


@dataclass(frozen=True)
class RbmRgConfig:
    """Configuration of the ``rbm-rg`` study."""

    L: int = option(16, "linear size of the Ising lattice")
    temperature: float = option(2.269, "temperature of the configurations (T_c = 2.269)")
    n: int = option(3000, "Ising configurations")
    hidden: tuple[int, ...] = option((64, 16, 4), "hidden units of the stacked RBMs")
    epochs: int = option(20, "training epochs of every layer")
    lr: float = option(0.05, "learning rate (SGD, momentum 0.5)")
    l1: float = option(1e-3, "L1 penalty on the weights (Mehta & Schwab used one)")
    cd_k: int = option(1, "Gibbs steps of contrastive divergence")
    batch_size: int = option(100, "minibatch size")
    n_fields: int = option(6, "receptive fields kept per layer for the figure")
    seeds: int = option(3, "number of seeds (data and RBMs)")
    first_seed: int = option(0, "first seed")
    threads: int = option(1, "CPU threads while the study runs (small matmuls: 1 is fastest)")

    def __post_init__(self) -> None:
        name = "RbmRgConfig"
        check_int(self.L, "L", name, low=2, high=256)
        check_float(self.temperature, "temperature", name, low=0.0, closed="neither")
        check_int(self.n, "n", name, low=2)
        if not self.hidden:
            raise param_error("hidden", name, "a non-empty list of ints", self.hidden)
        for h in self.hidden:
            check_int(h, "hidden", name, low=1, high=self.L * self.L)
        check_int(self.epochs, "epochs", name, low=1)
        check_float(self.lr, "lr", name, low=0.0, closed="neither")
        check_float(self.l1, "l1", name, low=0.0)
        check_int(self.cd_k, "cd_k", name, low=1)
        check_int(self.batch_size, "batch_size", name, low=1)
        check_int(self.n_fields, "n_fields", name, low=0)
        check_int(self.seeds, "seeds", name, low=1, high=1000)
        check_int(self.first_seed, "first_seed", name, low=0)
        check_int(self.threads, "threads", name, low=1, high=256)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))


def _run_seed(cfg: RbmRgConfig, seed: int, rec) -> None:
    from deepscope.data.ising import block_spin, ising
    from deepscope.studies.rbm_rg import work

    sample = ising(cfg.L, [cfg.temperature], cfg.n, seed=seed)
    spins = sample.spins[0]
    rec.record(step=0, lens="data", layer="ising", metric=["tau_energy", "abs_m"],
               value=[float(sample.tau_energy[0]), float(np.abs(sample.magnetisation).mean())],
               seed=seed)

    def on_epoch(depth, epoch, logs):
        rec.record(step=epoch, lens="rbm", layer=f"layer{depth}", metric="reconstruction_error",
                   value=float(logs.get("loss", float("nan"))), seed=seed)

    rbms, acts = work.train_stack(cfg, spins, seed, on_epoch)
    fields = work.receptive_fields(rbms, cfg.L)
    config0 = spins[0].float()
    rec.record(step=np.arange(cfg.L ** 2), lens="config", layer="level0", metric="spin",
               value=config0.reshape(-1).numpy(), seed=seed)
    for depth, (field, act) in enumerate(zip(fields, acts), start=1):
        b = work.block_size(cfg.L, field.shape[0])
        row = work.locality_row(field, act, spins, b, seed)
        for kind, values in row.items():
            rec.record(step=depth, lens=kind, layer=f"layer{depth}", metric=list(values),
                       value=list(values.values()), seed=seed)
        rec.record(step=depth, lens="block_spin", layer=f"layer{depth}", metric="b", value=b,
                   seed=seed)
        strongest = np.argsort(-(field ** 2).sum((1, 2)))[:cfg.n_fields]
        for j, unit in enumerate(strongest):
            rec.record(step=np.arange(cfg.L ** 2), lens="field", layer=f"layer{depth}",
                       metric=f"unit{j}", value=field[unit].reshape(-1), seed=seed)
        coarse = block_spin(spins[:1], b, seed=seed)[0].float()
        rec.record(step=np.arange(coarse.numel()), lens="config", layer=f"level{depth}",
                   metric="spin", value=coarse.reshape(-1).numpy(), seed=seed)


def run(config: RbmRgConfig, ctx: StudyContext) -> None:
    """For every seed: critical Ising data, the RBM stack, locality of every layer."""
    seeds = config.seed_list()
    for seed in ctx.pending(seeds, f"rbm-rg: {len(seeds)} seed(s)"):
        _run_seed(config, seed, ctx.run)


def summary_table(run) -> pd.DataFrame:
    """One row per layer: the RBM's locality beside block spins and the magnetisation."""
    df = run.measurements()
    loc = df[df.lens.isin(["rbm", "block_spin", "magnetisation"]) & df.metric.isin(METRICS)]
    if loc.empty:
        return pd.DataFrame()
    rows = []
    bsz = df[(df.lens == "block_spin") & (df.metric == "b")]
    for depth in sorted(set(loc.step)):
        part = loc[loc.step == depth]
        row = {"layer": int(depth),
               "block b": int(bsz[bsz.step == depth]["value"].iloc[0])}
        for kind, tag in (("rbm", "RBM"), ("block_spin", "block spin"),
                          ("magnetisation", "magnetisation")):
            for metric in METRICS:
                vals = part[(part.lens == kind) & (part.metric == metric)]["value"]
                row[f"{metric} ({tag})"] = float(vals.mean())
        rows.append(row)
    return pd.DataFrame(rows)


def figures(run) -> list:
    """Receptive fields per layer beside block spins; locality against depth."""
    from deepscope.studies.rbm_rg.figures import make_figures

    return make_figures(run, summary_table(run))


register(Study(
    name="rbm-rg",
    summary="Stacked RBMs on critical Ising data vs block-spin RG: measured locality "
            "(Mehta & Schwab 2014)",
    paper="Mehta & Schwab 2014, arXiv 1410.3831",
    config_cls=RbmRgConfig,
    run=run,
    figures=figures,
    summary_table=summary_table,
))
