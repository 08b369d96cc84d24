"""Study ``rbm-flow``: the RBM flow of Ising configurations toward T_c.

Iso, Shiba & Yokoo (2018, "Scale-invariant feature extraction of neural network and
renormalization group flow", arXiv 1801.07172) train an RBM on ``L = 10`` Ising
configurations from many temperatures in (0, 6] and a supervised "thermometer" network that
reads a configuration's temperature. Iterating the RBM's reconstruction ``v -> h -> v``
from cold (``T ~ 0``) or hot (``T ~ 6``) configurations, the measured temperature flows
toward the critical ``T_c ~ 2.27`` rather than away from it, unlike a real-space RG flow.

Here the data are exact-in-distribution Swendsen-Wang samples (:func:`deepscope.data.ising`),
the RBMs (one per hidden size in ``hidden``) are trained by CD-k through
:func:`deepscope.train.fit`, the flow is block Gibbs sampling, and the temperature is read
twice: by the thermometer (``sum_k p(T_k | v) T_k``) and, independently of any network,
from ``|m|`` through the data's own ``<|m|>(T)`` curve. The singular values of each RBM's
weights are recorded as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from deepscope.errors import check_float, check_int, param_error
from deepscope.studies._config import option
from deepscope.studies._registry import Study, StudyContext, register

__all__ = ["RbmFlowConfig"]

_TEMPS = tuple(round(0.25 * k, 2) for k in range(1, 25))


@dataclass(frozen=True)
class RbmFlowConfig:
    """Configuration of the ``rbm-flow`` study."""

    L: int = option(10, "linear size of the Ising lattice (visible units L*L)")
    temperatures: tuple[float, ...] = option(_TEMPS, "training temperatures (0.25 ... 6)")
    n_per_temperature: int = option(1000, "training configurations per temperature")
    n_test: int = option(300, "held-out configurations per temperature (thermometer check, "
                              "flow starts)")
    hidden: tuple[int, ...] = option((16, 64), "hidden sizes of the RBMs")
    rbm_epochs: int = option(20, "RBM training epochs")
    rbm_lr: float = option(0.05, "RBM learning rate (SGD, momentum 0.5)")
    cd_k: int = option(1, "Gibbs steps of contrastive divergence")
    persistent: bool = option(False, "persistent CD instead of CD-k")
    batch_size: int = option(100, "minibatch size")
    thermometer_hidden: int = option(64, "hidden width of the thermometer MLP")
    thermometer_epochs: int = option(40, "thermometer training epochs (Adam, lr 1e-3)")
    flow_starts: tuple[float, ...] = option((0.25, 6.0), "temperatures the flows start from")
    flow_iterations: int = option(500, "v -> h -> v iterations of each flow")
    flow_samples: int = option(300, "configurations flowing from each start")
    seeds: int = option(3, "number of seeds (data, RBMs, thermometer)")
    first_seed: int = option(0, "first seed")
    threads: int = option(1, "CPU threads while the study runs (small matmuls: 1 is fastest)")

    def __post_init__(self) -> None:
        name = "RbmFlowConfig"
        check_int(self.L, "L", name, low=2, high=64)
        if len(self.temperatures) < 2 or any(
                not isinstance(t, (int, float)) or t <= 0 for t in self.temperatures):
            raise param_error("temperatures", name, "at least two positive temperatures",
                              self.temperatures)
        check_int(self.n_per_temperature, "n_per_temperature", name, low=1)
        check_int(self.n_test, "n_test", name, low=1)
        if not self.hidden:
            raise param_error("hidden", name, "a non-empty list of ints", self.hidden)
        for h in self.hidden:
            check_int(h, "hidden", name, low=1, high=100_000)
        check_int(self.rbm_epochs, "rbm_epochs", name, low=1)
        check_float(self.rbm_lr, "rbm_lr", name, low=0.0, closed="neither")
        check_int(self.cd_k, "cd_k", name, low=1, high=10_000)
        check_int(self.batch_size, "batch_size", name, low=1)
        check_int(self.thermometer_hidden, "thermometer_hidden", name, low=1)
        check_int(self.thermometer_epochs, "thermometer_epochs", name, low=1)
        if not self.flow_starts:
            raise param_error("flow_starts", name, "a non-empty list of temperatures",
                              self.flow_starts)
        check_int(self.flow_iterations, "flow_iterations", name, low=1, high=1_000_000)
        check_int(self.flow_samples, "flow_samples", name, low=1)
        if self.flow_samples > self.n_test:
            raise param_error("flow_samples", name, f"at most n_test={self.n_test}",
                              self.flow_samples)
        check_int(self.seeds, "seeds", name, low=1, high=1000)
        check_int(self.first_seed, "first_seed", name, low=0)
        check_int(self.threads, "threads", name, low=1, high=256)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))


def flow_layer(n_hidden: int, start: float) -> str:
    """The ``layer`` label of a flow: hidden size and start temperature."""
    return f"h{n_hidden}:T0={start:g}"


def _run_seed(cfg: RbmFlowConfig, seed: int, rec) -> None:
    from deepscope.studies.rbm_flow import work

    temps = np.asarray(cfg.temperatures, dtype=np.float64)
    t_tensor = torch.tensor(temps, dtype=torch.float32)
    train_s, x = work.ising_data(cfg, seed, cfg.n_per_temperature)
    test_s, x_test = work.ising_data(cfg, seed, cfg.n_test, offset=1)
    idx = np.arange(temps.size)
    data_abs_m = np.abs(train_s.magnetisation).mean(1)
    rec.record(step=idx, lens="data", layer="train", metric="temperature", value=temps, seed=seed)
    rec.record(step=idx, lens="data", layer="train", metric="abs_m", value=data_abs_m, seed=seed)
    rec.record(step=idx, lens="data", layer="train", metric="tau_energy",
               value=train_s.tau_energy, seed=seed)
    net = work.train_thermometer(cfg, x, seed)
    read = np.array([float(work.measure(net, t_tensor, x_test[i]).mean()) for i in idx])
    rec.record(step=idx, lens="thermometer", layer="test", metric="measured_T", value=read,
               seed=seed)
    for nh in cfg.hidden:
        def on_epoch(epoch, logs, nh=nh):
            rec.record(step=epoch, lens="rbm", layer=f"h{nh}", metric="reconstruction_error",
                       value=float(logs.get("loss", float("nan"))), seed=seed)

        rbm = work.train_rbm(cfg, x, nh, seed, on_epoch)
        sv = torch.linalg.svdvals(rbm.W.detach().double()).numpy()
        rec.record(step=np.arange(sv.size), lens="svd", layer=f"h{nh}", metric="singular_value",
                   value=sv, seed=seed)
        gen = torch.Generator().manual_seed(seed * 31 + nh)
        marks = set(work.flow_steps(cfg.flow_iterations))
        for start in cfg.flow_starts:
            i = int(np.argmin(np.abs(temps - start)))
            v = x_test[i][:cfg.flow_samples].clone()
            layer = flow_layer(nh, float(temps[i]))
            for it in range(cfg.flow_iterations + 1):
                if it in marks:
                    t_read = work.measure(net, t_tensor, v)
                    abs_m = float((2 * v - 1).mean(1).abs().mean())
                    rec.record(step=it, lens="flow", layer=layer,
                               metric=["measured_T", "measured_T_std", "abs_m", "T_from_m"],
                               value=[float(t_read.mean()), float(t_read.std()), abs_m,
                                      work.magnetisation_temperature(data_abs_m, temps, abs_m)],
                               seed=seed)
                if it < cfg.flow_iterations:
                    v = rbm.gibbs(v, 1, gen)


def run(config: RbmFlowConfig, ctx: StudyContext) -> None:
    """For every seed: Ising data, thermometer, RBMs and their flows from each start."""
    seeds = config.seed_list()
    for seed in ctx.pending(seeds, f"rbm-flow: {len(seeds)} seed(s)"):
        _run_seed(config, seed, ctx.run)


def summary_table(run) -> pd.DataFrame:
    """Per flow (hidden size, start): the final temperature over seeds, both readings."""
    from deepscope.data.ising import ONSAGER_TC

    df = run.measurements()
    fl = df[df.lens == "flow"]
    if fl.empty:
        return pd.DataFrame()
    last = fl[fl.step == fl.step.max()]
    rows = []
    for layer in sorted(set(last.layer), key=lambda s: (int(s.split(":")[0][1:]), s)):
        part = last[last.layer == layer]
        t = part[part.metric == "measured_T"]["value"].to_numpy()
        tm = part[part.metric == "T_from_m"]["value"].to_numpy()
        hidden, start = layer.split(":")
        rows.append({"hidden": int(hidden[1:]), "start T": float(start[3:]),
                     "final T (thermometer)": float(t.mean()),
                     "spread over seeds": float(t.std()) if t.size > 1 else 0.0,
                     "final T (from |m|)": float(tm.mean()),
                     "within [1.9, 2.7]": bool(np.all((t >= 1.9) & (t <= 2.7))),
                     "T_c": ONSAGER_TC, "seeds": int(t.size)})
    return pd.DataFrame(rows)


def figures(run) -> list:
    """Flows of the measured temperature, and the singular values of the weights."""
    from deepscope.studies.rbm_flow.figures import make_figures

    return make_figures(run, summary_table(run))


register(Study(
    name="rbm-flow",
    summary="RBM reconstruction flow of Ising configurations toward T_c "
            "(Iso, Shiba & Yokoo 2018)",
    paper="Iso, Shiba & Yokoo 2018, arXiv 1801.07172",
    config_cls=RbmFlowConfig,
    run=run,
    figures=figures,
    summary_table=summary_table,
))
