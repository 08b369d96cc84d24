"""Study ``boolean-machines``: what learning machines on N bits can express, and how much
data they need.

C. Xiong (2016, arXiv 1602.00198) describes learning on ``N`` bits as a machine choosing
one of the :math:`2^{2^N}` Boolean functions. This study measures, exactly:

1. how many of them one threshold unit :math:`[w \\cdot x + b > 0]` realises, by linear
   programming on one representative per symmetry orbit of the cube (4, 14, 104, 1882
   for N = 1..4);
2. how that grows when units are stacked: one hidden layer of ``k`` threshold units and a
   threshold output, counted exactly by composing enumerated truth tables as bit masks;
3. data sufficiency: for random threshold targets and random orders of the ``2^N`` inputs,
   the recovery rate on all inputs of a perceptron and a logistic unit trained on the first
   ``m`` inputs, against the rate at which the first ``m`` inputs *determine* the target
   within each machine's function class (only one function of the class fits them): the
   larger the class, the more data it takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepscope.errors import check_float, check_int, param_error
from deepscope.studies.boolean_machines import functions as B
from deepscope.studies._config import option, validate_choices
from deepscope.studies._registry import Study, StudyContext, register

__all__ = ["BooleanMachinesConfig"]

LEARNERS = ("perceptron", "logistic")


@dataclass(frozen=True)
class BooleanMachinesConfig:
    """Configuration of the ``boolean-machines`` study."""

    max_bits: int = option(4, "count threshold functions for N = 1..max_bits (at most 4)")
    hidden_units: tuple[int, ...] = option((1, 2, 3), "hidden-layer sizes k to count")
    max_work: float = option(5e7, "skip a (N, k) count needing more compositions than this")
    data_bits: int = option(4, "N of the data-sufficiency experiment (2..4)")
    targets: int = option(200, "random threshold targets per seed")
    orders: int = option(4, "random input orders per target")
    learners: tuple[str, ...] = option(LEARNERS, "learners trained on growing subsets")
    steps: int = option(1000, "perceptron epochs (at most) / logistic gradient steps")
    lr: float = option(1.0, "step size of both learners")
    seeds: int = option(1, "number of seeds (data-sufficiency draws)")
    first_seed: int = option(0, "first seed; seeds are first_seed .. first_seed+seeds-1")

    def __post_init__(self) -> None:
        name = "BooleanMachinesConfig"
        validate_choices(self)
        check_int(self.max_bits, "max_bits", name, low=1, high=B.MAX_ENUM_BITS)
        if not self.hidden_units or any(
            isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 4
            for k in self.hidden_units
        ):
            raise param_error("hidden_units", name, "a list of ints in [1, 4]",
                              self.hidden_units)
        check_float(self.max_work, "max_work", name, low=1.0)
        check_int(self.data_bits, "data_bits", name, low=2, high=B.MAX_ENUM_BITS)
        check_int(self.targets, "targets", name, low=1, high=100000)
        check_int(self.orders, "orders", name, low=1, high=1000)
        if not self.learners or any(x not in LEARNERS for x in self.learners):
            raise param_error("learners", name, "a list drawn from {'perceptron', 'logistic'}",
                              self.learners)
        check_int(self.steps, "steps", name, low=1, high=10**6)
        check_float(self.lr, "lr", name, low=0.0, closed="neither")
        check_int(self.seeds, "seeds", name, low=1, high=10000)
        check_int(self.first_seed, "first_seed", name, low=0)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))


def _classes(config: BooleanMachinesConfig, rec, seed0: int, record: bool, task) -> dict:
    """Threshold tables for N = 1..max_bits and the hidden-layer classes; record counts."""
    bits = sorted(set(range(1, config.max_bits + 1)) | {config.data_bits}
                  | {k for k in config.hidden_units if k <= B.MAX_ENUM_BITS})
    tables, classes = {}, {}
    for n in bits:
        tab, info = B.threshold_tables(n)
        tables[n] = tab
        if record and n <= config.max_bits:
            layer = f"N={n}"
            for metric, value in (("functions", tab.size), ("all_functions", 2.0 ** 2**n),
                                  ("classes", info["classes"]), ("lps", info["lps"]),
                                  ("threshold_classes", info["threshold_classes"])):
                rec.record(step=0, lens="threshold", layer=layer, metric=metric,
                           value=float(value), seed=seed0)
            rec.record(step=0, lens="stacked", layer=layer, metric="functions",
                       value=float(tab.size), seed=seed0)
        task.advance()
    for n in range(1, config.max_bits + 1):
        for k in sorted(set(config.hidden_units)):
            seen = B.compose_counts(tables[n], tables[k], n, k, max_work=config.max_work)
            if seen is not None and n == config.data_bits:
                classes[k] = np.flatnonzero(seen)
            if record:
                value = float("nan") if seen is None else float(seen.sum())
                rec.record(step=k, lens="stacked", layer=f"N={n}", metric="functions",
                           value=value, seed=seed0)
            task.advance()
    return {"tables": tables, "hidden": classes}


def _problems(config: BooleanMachinesConfig, tables: np.ndarray, seed: int):
    n_in = 2**config.data_bits
    full = (1 << n_in) - 1
    pool = tables[(tables != 0) & (tables != full)]
    rng = np.random.default_rng(seed)
    targets = rng.choice(pool, size=config.targets)
    orders = np.stack([rng.permutation(n_in) for _ in range(config.targets * config.orders)])
    prefix = np.cumsum(np.left_shift(np.int64(1), orders.astype(np.int64)), axis=1)
    target_rep = np.repeat(np.repeat(targets, config.orders), n_in)
    return target_rep, prefix.reshape(-1), config.targets * config.orders, n_in


def _sufficiency(config: BooleanMachinesConfig, classes: dict, seed: int, rec, device) -> None:
    n = config.data_bits
    targets, masks, trials, n_in = _problems(config, classes["tables"][n], seed)
    sizes = np.arange(1, n_in + 1)
    flags = {}
    for learner in config.learners:
        recovered, fitted = B.train_units(targets, masks, n, learner=learner,
                                          steps=config.steps, lr=config.lr, device=device)
        flags[learner] = recovered.reshape(trials, n_in)
        rec.record(step=sizes, lens="sufficiency", layer=learner, metric="fit_rate",
                   value=fitted.reshape(trials, n_in).mean(0), seed=seed)
    machines = {"threshold unit": classes["tables"][n]}
    for k, tab in sorted(classes["hidden"].items()):
        if k == 1:  # g(h(x)) with threshold g, h is again a threshold function
            continue
        machines[f"{k} hidden + output"] = tab
    for name, tab in machines.items():
        flags[f"determined: {name}"] = (B.consistent_counts(tab, targets, masks) == 1
                                        ).reshape(trials, n_in)
        rec.record(step=0, lens="sufficiency", layer=f"determined: {name}",
                   metric="class_size", value=float(tab.size), seed=seed)
    for name, f in flags.items():
        rec.record(step=sizes, lens="sufficiency", layer=name, metric="recovery_rate",
                   value=f.mean(0), seed=seed)
        rec.record(step=np.arange(trials), lens="sufficiency_trials", layer=name,
                   metric="smallest_subset", value=B.smallest_sufficient(f).astype(float),
                   seed=seed)


def run(config: BooleanMachinesConfig, ctx: StudyContext) -> None:
    """Count threshold and stacked machines exactly, then measure data sufficiency."""
    seeds = config.seed_list()
    state = dict(ctx.resume) if ctx.resume else {"counted": False, "done": []}
    total = (len(set(range(1, config.max_bits + 1)) | {config.data_bits})
             + config.max_bits * len(set(config.hidden_units)))
    with ctx.task("boolean-machines: exact counts", total) as task:
        classes = _classes(config, ctx.run, seeds[0], not state["counted"], task)
    if not state["counted"]:
        state["counted"] = True
        ctx.checkpoint(dict(state))
    with ctx.task("boolean-machines: data sufficiency", len(seeds)) as task:
        for seed in seeds:
            if seed not in state["done"]:
                _sufficiency(config, classes, seed, ctx.run, ctx.device)
                state["done"] = [*state["done"], seed]
                ctx.checkpoint(dict(state))
            task.advance()


# ----------------------------------------------------------------------------- results


def _counts(df: pd.DataFrame) -> pd.DataFrame:
    st = df[(df["lens"] == "stacked") & (df["metric"] == "functions")]
    out = st.pivot_table(index="layer", columns="step", values="value", aggfunc="first")
    out.index = [int(s.split("=")[1]) for s in out.index]
    return out.sort_index()


def _curves(df: pd.DataFrame) -> pd.DataFrame:
    part = df[(df["lens"] == "sufficiency") & (df["metric"] == "recovery_rate")]
    return part.groupby(["layer", "step"], sort=False)["value"].mean().reset_index()


def figures(run) -> list:
    """Counts against N (log scale), recovery-rate curves, smallest sufficient subsets."""
    from matplotlib.figure import Figure as MplFigure

    from deepscope.report import Chart, Figure, Series

    df = run.measurements()
    counts = _counts(df)
    cfg = run.config
    fig_c = MplFigure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig_c.subplots()
    ns = counts.index.to_numpy()
    ax.plot(ns, np.log2(2.0 ** 2.0**ns), "k--", label="all $2^{2^N}$ functions")
    series = []
    for k in counts.columns:
        label = "one threshold unit" if k == 0 else f"{k} hidden threshold units + output"
        vals = counts[k].to_numpy(dtype=float)
        ax.plot(ns, np.log2(vals), "o-", label=label)
        for n, v in zip(ns, vals):
            if np.isfinite(v) and k == 0:
                ax.annotate(f"{int(v)}", (n, np.log2(v)), textcoords="offset points",
                            xytext=(4, -12), fontsize=8)
        series.append(Series(name=label, x=ns.tolist(), y=np.log2(vals).tolist(),
                             hover=[f"{label} · N={n} · {v:.0f} functions"
                                    for n, v in zip(ns, vals)]))
    ax.set_xlabel("input bits N")
    ax.set_ylabel("log2(number of realisable functions)")
    ax.set_xticks(ns)
    ax.legend(fontsize=8)
    curves = _curves(df)
    fig_r = MplFigure(figsize=(6.4, 4.2), layout="constrained")
    ax_r = fig_r.subplots()
    rseries = []
    for layer, part in curves.groupby("layer", sort=False):
        style = "--" if str(layer).startswith("determined") else "o-"
        ax_r.plot(part["step"], part["value"], style, label=str(layer), markersize=3)
        rseries.append(Series(name=str(layer), x=part["step"].tolist(),
                              y=part["value"].tolist()))
    ax_r.set_xlabel(f"training subset size m (of {2 ** cfg.get('data_bits', 4)} inputs)")
    ax_r.set_ylabel("fraction of trials")
    ax_r.set_ylim(-0.02, 1.02)
    ax_r.legend(fontsize=8)
    n_trials = cfg.get("targets", 0) * cfg.get("orders", 0) * len(run.seeds)
    trials = df[df["lens"] == "sufficiency_trials"]
    smallest = "; ".join(f"{name} {value:.2f}" for name, value in
                         trials.groupby("layer", sort=False)["value"].mean().items())
    return [
        Figure(name="counts", title="How many Boolean functions a machine realises",
               caption="Exact counts (linear programming on symmetry orbits for one unit; "
                       "composed truth tables for a hidden layer). Missing points were "
                       "too large to enumerate (max_work).", image=fig_c,
               chart=Chart(x_label="input bits N", y_label="log2(functions)",
                           series=series, log_color=False)),
        Figure(name="sufficiency", title="Data sufficiency: recovery against subset size",
               caption=f"Solid: a trained unit computes the target on all inputs; dashed: "
                       f"the subset leaves one function of the machine's class (any "
                       f"consistent learner of that class then recovers it). "
                       f"{n_trials} trials. Mean smallest sufficient m: {smallest}.",
               image=fig_r,
               chart=Chart(x_label="subset size m", y_label="fraction of trials",
                           series=rseries, log_color=False)),
    ]


def summary_table(run) -> pd.DataFrame:
    """Per N: all functions, and how many one unit / a hidden layer of k units realise."""
    df = run.measurements()
    counts = _counts(df)
    rows = []
    for n, row in counts.iterrows():
        entry = {"N": int(n), "all functions": int(2 ** 2**int(n))}
        for k, v in row.items():
            key = "one unit" if k == 0 else f"{k} hidden"
            entry[key] = None if not np.isfinite(v) else int(v)
        rows.append(entry)
    return pd.DataFrame(rows)


register(Study(
    name="boolean-machines",
    summary="Boolean functions a threshold unit / one hidden layer realises, exactly; "
            "data sufficiency (Xiong 2016)",
    paper="C. Xiong 2016, arXiv 1602.00198; S. Muroga 1971 (threshold logic)",
    config_cls=BooleanMachinesConfig,
    run=run,
    figures=figures,
    summary_table=summary_table,
))
